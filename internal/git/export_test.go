package git

import (
	"bytes"
	"context"
)

// SetPickWalk sets how many first-parent commits c's CherryPick reads (a
// short history then tests the bound).
func SetPickWalk(c *Client, n int) { c.pickWalk = n }

// SetMaxAdvertisement sets how large a ref listing c accepts.
func SetMaxAdvertisement(c *Client, n int64) { c.maxAdvertisement = n }

// ListRefs lists repository's refs as ResolveAll does (prefixes nil: all
// of them).
func ListRefs(ctx context.Context, c *Client, repository string, prefixes []string) (map[string]string, error) {
	if err := c.checkRepository(ctx, repository); err != nil {
		return nil, err
	}
	r, err := c.remoteFor(ctx, repository)
	if err != nil {
		return nil, err
	}
	return c.lsRemote(ctx, r, prefixes)
}

// ParseAdvertisement parses b as a v0 advertisement (after its first
// packet) or, with v2, as an ls-refs answer: the parsers the fuzz test
// feeds.
func ParseAdvertisement(b []byte, v2 bool) (map[string]string, error) {
	p := &pktReader{r: bytes.NewReader(b), limit: int64(len(b))}
	if v2 {
		return parseLsRefs(p)
	}
	kind, first, err := p.next()
	if err != nil || kind != pktData {
		return nil, err
	}
	return parseV0(p, first)
}
