package localexec

import (
	"net"
	"strconv"

	"slipway.dev/slipway/internal/edge"
	"slipway.dev/slipway/internal/slipway"
)

// Backend implements [edge.Backends]: the published continuous component
// of instance (the first by name when there are several) is served by
// one of its replicas that is up, round robin, counted in flight until
// done is called. During a surge the serving generation is picked: a new
// one takes traffic once promoted, and the old one is stopped once its
// count is back to zero. With no replica up, the state says whether the
// component is starting, crash looping or stopped; an instance with no
// published component publishes nothing.
func (d *Driver) Backend(instance string) (addr string, done func(), state edge.State) {
	state = edge.PublishesNothing
	for _, c := range d.toolComps(instance) {
		c.mu.Lock()
		run := c.spec.Component.Run
		published := c.spec.Component.Type == slipway.Continuous && run.Publish != "" && run.Port > 0
		active, looping := c.active, false
		for _, r := range c.replicas {
			looping = looping || r.crashLooping(d.cfg.StartupTimeout)
		}
		c.mu.Unlock()
		switch {
		case !published:
			continue
		case !active:
			state = edge.Stopped
			continue
		}
		r, port := d.pick(c)
		switch {
		case r != nil:
			return net.JoinHostPort("127.0.0.1", strconv.Itoa(port)), func() { r.inflight.Add(-1) }, edge.Serving
		case looping:
			return "", nil, edge.CrashLooping
		default:
			return "", nil, edge.Deploying
		}
	}
	return "", nil, state
}
