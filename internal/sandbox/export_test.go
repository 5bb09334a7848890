package sandbox

import "context"

// FlushNetwork deletes the released own-port entries now, instead of
// after cleanDelay.
func (s *Sandbox) FlushNetwork(ctx context.Context) { s.net.clean(ctx) }

// NftRuns returns how many nft processes the network isolation ran.
func (s *Sandbox) NftRuns() int64 { return s.net.runs.Load() }

// NftChanges returns how many times the network isolation listed or
// changed the table: nft runs and netlink batches.
func (s *Sandbox) NftChanges() int64 { return s.net.runs.Load() + s.net.batches.Load() }
