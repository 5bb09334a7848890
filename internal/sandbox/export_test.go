package sandbox

import "context"

// FlushNetwork deletes the released own-port entries now, instead of
// after cleanDelay.
func (s *Sandbox) FlushNetwork(ctx context.Context) { s.net.clean(ctx) }

// NftRuns returns how many nft processes the network isolation ran.
func (s *Sandbox) NftRuns() int64 { return s.net.runs.Load() }
