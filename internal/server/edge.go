package server

import (
	"context"
	"fmt"
	"net"
	"time"

	"slipway.dev/slipway/internal/edge"
)

// domainRefresh is how often a server reads the custom domains again, for
// the claims other servers of a PostgreSQL store made.
const domainRefresh = 5 * time.Second

// edgeState is the server's front door of published apps: the host names
// it answers (the apps domain, tools' custom domains) and HTTPS.
type edgeState struct {
	domains *edge.Domains
}

// openEdge loads the custom domains, which the proxy resolves requests'
// hosts with; it runs before the target opens.
func (s *Server) openEdge(ctx context.Context) error {
	d, err := edge.NewDomains(ctx, s.db, s.cfg.Domains, s.now, s.logger)
	if err != nil {
		return fmt.Errorf("server: %w", err)
	}
	d.URLOf = s.hostURL
	s.edge.domains = d
	rctx, cancel := context.WithCancel(context.WithoutCancel(ctx))
	done := make(chan struct{})
	go func() { defer close(done); d.Refresh(rctx, domainRefresh) }()
	s.closers = append(s.closers, func(context.Context) error { cancel(); <-done; return nil })
	return nil
}

// publicURL returns where an instance's (a tool's or one of its
// environments') published component answers, as users reach it.
func (s *Server) publicURL(instance string) string {
	return s.hostURL(instance + "." + s.cfg.Domains.Apps())
}

// hostURL returns where the proxy serves a host name.
func (s *Server) hostURL(host string) string {
	return edge.PublicURL("http", host, s.proxyLn.Addr().(*net.TCPAddr).Port)
}
