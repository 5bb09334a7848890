package edge

// Hosts maps a request's Host to the tool (and environment instance name) it serves.
type Hosts interface {
	Lookup(host string) (instance string, ok bool)
}

// LocalhostHosts serves each instance at "<instance>.localhost[:port]": a
// tool's default environment at <tool>.localhost, another environment at
// <tool>--<env>.localhost, the embedded default. The port and a trailing
// dot are ignored, and the name is matched without regard to case.
type LocalhostHosts struct{}

// Lookup implements [Hosts].
func (LocalhostHosts) Lookup(host string) (string, bool) {
	return AppsHosts{Domain: "localhost"}.Lookup(host)
}

var _ Hosts = LocalhostHosts{}
