package edge

import (
	"net"
	"strings"

	"slipway.dev/slipway/internal/slipway"
)

// Hosts maps a request's Host to the tool (and environment instance name) it serves.
type Hosts interface {
	Lookup(host string) (instance string, ok bool)
}

// LocalhostHosts serves each instance at "<instance>.localhost[:port]": a
// tool's default environment at <tool>.localhost, another environment at
// <tool>--<env>.localhost. The port and a trailing dot are ignored, and
// the name is matched without regard to case.
type LocalhostHosts struct{}

// Lookup implements [Hosts].
func (LocalhostHosts) Lookup(host string) (string, bool) {
	if h, _, err := net.SplitHostPort(host); err == nil {
		host = h
	}
	host = strings.TrimSuffix(strings.ToLower(host), ".")
	instance, ok := strings.CutSuffix(host, ".localhost")
	if !ok || !slipway.ValidName(instance) {
		return "", false
	}
	return instance, true
}

var _ Hosts = LocalhostHosts{}
