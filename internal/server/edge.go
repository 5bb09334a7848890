package server

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"net"
	"net/http"
	"os"
	"time"

	"slipway.dev/slipway/internal/auth"
	"slipway.dev/slipway/internal/edge"
)

const (
	// domainRefresh is how often a server reads the custom domains again,
	// for the claims other servers of a PostgreSQL store made.
	domainRefresh = 5 * time.Second
	// renewCheck is how often the ACME certificates are checked for
	// renewal.
	renewCheck = time.Hour
)

// edgeState is the server's front door of published apps: the host names
// it answers (the apps domain, tools' custom domains) and HTTPS.
type edgeState struct {
	domains *edge.Domains
	// tls, httpsLn and acme are nil when the proxy serves no HTTPS.
	tls     *edge.TLS
	httpsLn net.Listener
	acme    *edge.ACME
}

// openEdge loads the custom domains, which the proxy resolves requests'
// hosts with, and opens the HTTPS listener with its certificates; it runs
// before the target opens.
func (s *Server) openEdge(ctx context.Context, sealer *auth.Sealer) error {
	cfg := s.cfg.Domains
	d, err := edge.NewDomains(ctx, s.db, cfg, s.now, s.logger)
	if err != nil {
		return fmt.Errorf("server: %w", err)
	}
	d.URLOf = s.hostURL
	s.edge.domains = d
	s.background(ctx, func(ctx context.Context) { d.Refresh(ctx, domainRefresh) })
	if cfg.HTTPSListen == "" {
		return nil
	}
	if cfg.ACMEDirectory != "" {
		client := http.DefaultClient
		if cfg.ACMERoots != "" {
			pool := x509.NewCertPool()
			b, err := os.ReadFile(cfg.ACMERoots)
			if err != nil {
				return fmt.Errorf("server: acme CA: %w", err)
			}
			if !pool.AppendCertsFromPEM(b) {
				return fmt.Errorf("server: acme CA %s: no PEM certificate in it", cfg.ACMERoots)
			}
			client = &http.Client{Transport: &http.Transport{TLSClientConfig: &tls.Config{RootCAs: pool, MinVersion: tls.VersionTLS12}}}
		}
		s.edge.acme = edge.NewACME(edge.ACMEConfig{
			Directory: cfg.ACMEDirectory, Email: cfg.ACMEEmail, HTTPClient: client, RenewBefore: cfg.RenewBefore,
			Store: s.db, Sealer: sealer, Now: s.now, Logger: s.logger.With("component", "acme"),
		})
		serves := func(name string) bool { _, ok := d.Lookup(name); return ok }
		s.background(ctx, func(ctx context.Context) { s.edge.acme.Run(ctx, renewCheck, serves) })
	}
	if s.edge.tls, err = edge.NewTLS(cfg, d, s.edge.acme); err != nil {
		return fmt.Errorf("server: %w", err)
	}
	var lc net.ListenConfig
	if s.edge.httpsLn, err = lc.Listen(ctx, "tcp", cfg.HTTPSListen); err != nil {
		return fmt.Errorf("server: proxy HTTPS listen %s: %w", cfg.HTTPSListen, err)
	}
	ln := s.edge.httpsLn
	s.closers = append(s.closers, func(context.Context) error { _ = ln.Close(); return nil })
	return nil
}

// background runs fn until the server stops (not when ctx, Start's, ends).
func (s *Server) background(ctx context.Context, fn func(ctx context.Context)) {
	ctx, cancel := context.WithCancel(context.WithoutCancel(ctx))
	done := make(chan struct{})
	go func() { defer close(done); fn(ctx) }()
	s.closers = append(s.closers, func(context.Context) error { cancel(); <-done; return nil })
}

// startEdge serves proxy over HTTPS when that is on, and returns the
// handler of the plain-HTTP proxy: proxy itself, or with ACME's HTTP-01
// challenges and the redirect to HTTPS.
func (s *Server) startEdge(proxy http.Handler, base func(net.Listener) context.Context) http.Handler {
	t := s.edge.tls
	if t == nil {
		return proxy
	}
	// The front door's limits apply to HTTPS too; its TLS config enables
	// HTTP/2.
	srv := s.cfg.Proxy.Server(t.HTTPSHandler(proxy))
	srv.TLSConfig, srv.BaseContext = t.Config(), base
	go func() {
		if err := srv.ServeTLS(s.edge.httpsLn, "", ""); err != nil && !errors.Is(err, http.ErrServerClosed) {
			s.logger.Error("https proxy stopped", "addr", s.edge.httpsLn.Addr().String(), "error", err.Error())
		}
	}()
	s.closers = append(s.closers, func(ctx context.Context) error {
		ctx, cancel := context.WithTimeout(ctx, s.cfg.StopGrace)
		defer cancel()
		_ = srv.Shutdown(ctx) // a request still running is cut when ctx ends
		return nil
	})
	return t.HTTPHandler(proxy, s.edge.httpsLn.Addr().(*net.TCPAddr).Port)
}

// publicURL returns where an instance's (a tool's or one of its
// environments') published component answers, as users reach it.
func (s *Server) publicURL(instance string) string {
	return s.hostURL(instance + "." + s.cfg.Domains.Apps())
}

// hostURL returns where the proxy serves a host name: over HTTPS when it
// serves HTTPS.
func (s *Server) hostURL(host string) string {
	if s.edge.httpsLn != nil {
		return edge.PublicURL("https", host, s.edge.httpsLn.Addr().(*net.TCPAddr).Port)
	}
	return edge.PublicURL("http", host, s.proxyLn.Addr().(*net.TCPAddr).Port)
}
