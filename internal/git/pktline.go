package git

import (
	"errors"
	"fmt"
	"io"
	"strconv"
	"strings"
)

// pkt-line framing (gitprotocol-common): four hex digits giving the
// length of the packet including themselves, then the payload. Lengths 0,
// 1 and 2 are the flush, delimiter and response-end packets.
const (
	pktData = iota
	pktFlush
	pktDelim
	pktEnd
)

// maxPktLen is the largest packet git sends (LARGE_PACKET_MAX).
const maxPktLen = 65520

// errBadAdvertisement is wrapped by the errors of a ref listing that is not
// what the protocol says: a permanent failure.
var errBadAdvertisement = errors.New("bad ref advertisement")

// errRemoteSays is the remote's own error (an "ERR" packet): permanent,
// as git's "remote error".
var errRemoteSays = errors.New("the remote says")

// errTooLarge is wrapped when a listing goes over its size limit.
var errTooLarge = errors.New("ref advertisement too large")

// pktReader reads pkt-lines from r, at most limit bytes in all.
type pktReader struct {
	r     io.Reader
	buf   [maxPktLen]byte
	read  int64
	limit int64
}

// next returns the next packet: its kind and, for a data packet, its
// payload (valid until the next call). A packet that starts with "ERR "
// is the remote's error, returned as one.
func (p *pktReader) next() (int, []byte, error) {
	var head [4]byte
	if err := p.full(head[:]); err != nil {
		return 0, nil, err
	}
	n, err := strconv.ParseUint(string(head[:]), 16, 16)
	if err != nil {
		return 0, nil, fmt.Errorf("%w: invalid pkt-line length %q", errBadAdvertisement, head[:])
	}
	switch {
	case n == 0:
		return pktFlush, nil, nil
	case n == 1:
		return pktDelim, nil, nil
	case n == 2:
		return pktEnd, nil, nil
	case n == 3 || n > maxPktLen:
		return 0, nil, fmt.Errorf("%w: invalid pkt-line length %d", errBadAdvertisement, n)
	}
	payload := p.buf[:n-4]
	if err := p.full(payload); err != nil {
		return 0, nil, err
	}
	if msg, ok := strings.CutPrefix(string(payload), "ERR "); ok {
		return 0, nil, fmt.Errorf("%w: %s", errRemoteSays, escapeControl(strings.TrimSpace(msg)))
	}
	return pktData, payload, nil
}

// full reads len(b) bytes, counting them against the limit.
func (p *pktReader) full(b []byte) error {
	if p.limit > 0 && p.read+int64(len(b)) > p.limit {
		return fmt.Errorf("%w: more than %d bytes", errTooLarge, p.limit)
	}
	n, err := io.ReadFull(p.r, b)
	p.read += int64(n)
	if errors.Is(err, io.EOF) || errors.Is(err, io.ErrUnexpectedEOF) {
		return fmt.Errorf("%w: %w", errEarlyEOF, io.ErrUnexpectedEOF)
	}
	return err
}

// errEarlyEOF is a listing cut short: the connection ended before the
// flush packet (transient, as git's "early EOF").
var errEarlyEOF = errors.New("the remote hung up before the end of the ref advertisement")

// line returns a data packet's payload as text without its newline.
func line(payload []byte) string {
	return strings.TrimSuffix(string(payload), "\n")
}

// cut cuts s, a remote's text quoted in an error, at 200 bytes.
func cut(s string) string {
	if len(s) > 200 {
		return s[:200] + "…"
	}
	return s
}

// escapeControl replaces control characters (a remote's text goes into
// errors and logs) with their Go escapes, and cuts s at 200 bytes.
func escapeControl(s string) string {
	s = cut(s)
	if !strings.ContainsFunc(s, func(r rune) bool { return r < 0x20 || r == 0x7f }) {
		return s
	}
	q := strconv.QuoteToASCII(s)
	return q[1 : len(q)-1]
}

// parseRefLine parses "<oid> <name>" followed by nothing (v0/v1), or by
// space-separated attributes (v2 ls-refs: "symref-target:…",
// "peeled:…"). It returns the attributes as they are.
func parseRefLine(s string) (oid, name string, attrs []string, err error) {
	oid, rest, ok := strings.Cut(s, " ")
	if !ok || !isHex(oid) || (len(oid) != 40 && len(oid) != 64) {
		return "", "", nil, fmt.Errorf("%w: malformed ref line %q", errBadAdvertisement, cut(s))
	}
	fields := strings.Split(rest, " ")
	name = fields[0]
	if name == "" || strings.ContainsAny(name, "\x00\t\n\r") {
		return "", "", nil, fmt.Errorf("%w: malformed ref name in %q", errBadAdvertisement, cut(s))
	}
	return strings.ToLower(oid), name, fields[1:], nil
}

func isHex(s string) bool {
	for i := range len(s) {
		c := s[i]
		if (c < '0' || c > '9') && (c < 'a' || c > 'f') && (c < 'A' || c > 'F') {
			return false
		}
	}
	return s != ""
}

// parseV0 reads a v0/v1 ref advertisement after its first data packet
// (first, already read) up to its flush: name → oid, peeled tags as
// "name^{}". An empty repository advertises only "capabilities^{}".
func parseV0(p *pktReader, first []byte) (map[string]string, error) {
	refs := map[string]string{}
	payload := first
	for i := 0; ; i++ {
		s := line(payload)
		if i == 0 {
			s, _, _ = strings.Cut(s, "\x00") // the capabilities
		}
		oid, name, attrs, err := parseRefLine(s)
		if err != nil {
			return nil, err
		}
		if len(attrs) > 0 {
			return nil, fmt.Errorf("%w: malformed ref line %q", errBadAdvertisement, cut(s))
		}
		if name != "capabilities^{}" {
			refs[name] = oid
		}
		kind, next, err := p.next()
		if err != nil {
			return nil, err
		}
		if kind == pktFlush {
			return refs, nil
		}
		if kind != pktData {
			return nil, fmt.Errorf("%w: unexpected special packet in the ref list", errBadAdvertisement)
		}
		payload = next
	}
}

// parseLsRefs reads a v2 ls-refs answer up to its flush: name → oid,
// peeled tags as "name^{}".
func parseLsRefs(p *pktReader) (map[string]string, error) {
	refs := map[string]string{}
	for {
		kind, payload, err := p.next()
		if err != nil {
			return nil, err
		}
		if kind == pktFlush {
			return refs, nil
		}
		if kind != pktData {
			return nil, fmt.Errorf("%w: unexpected special packet in the ls-refs answer", errBadAdvertisement)
		}
		oid, name, attrs, err := parseRefLine(line(payload))
		if err != nil {
			return nil, err
		}
		if oid == strings.Repeat("0", len(oid)) {
			continue // an unborn HEAD, which we did not ask for
		}
		refs[name] = oid
		for _, a := range attrs {
			if peeled, ok := strings.CutPrefix(a, "peeled:"); ok {
				if !isHex(peeled) || len(peeled) != len(oid) {
					return nil, fmt.Errorf("%w: malformed peeled object in %q", errBadAdvertisement, cut(line(payload)))
				}
				refs[name+"^{}"] = strings.ToLower(peeled)
			}
		}
	}
}
