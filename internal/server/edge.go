package server

import (
	"net"

	"slipway.dev/slipway/internal/edge"
)

// edgeState is the server's front door of published apps: the host names
// it answers (the apps domain, tools' custom domains) and HTTPS.
type edgeState struct {
	hosts edge.Hosts
}

// openEdge prepares the host lookup; it runs before the target opens, which
// resolves requests' hosts with it.
func (s *Server) openEdge() error {
	s.edge.hosts = edge.AppsHosts{Domain: s.cfg.Domains.Apps()}
	return nil
}

// publicURL returns where an instance's (a tool's or one of its
// environments') published component answers, as users reach it.
func (s *Server) publicURL(instance string) string {
	return edge.PublicURL("http", s.cfg.Domains.Apps(), s.proxyLn.Addr().(*net.TCPAddr).Port, instance)
}
