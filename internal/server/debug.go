package server

import (
	"context"
	"crypto/subtle"
	"fmt"
	"net"
	"net/http"
	"net/http/pprof"
	"strings"
	"time"
)

// The profiling endpoint: net/http/pprof on a listener of its own
// (--debug-listen), never on the API's. It takes a loopback address only
// (a profile shows what the server does and allocates, and a goroutine
// dump its call arguments), and asks for the admin token as well: on a
// host whose tools' network is not isolated (the sandbox off, or
// --sandbox-network=shared) they could otherwise reach it.

// startDebug serves the profiles on s.cfg.DebugListen, when set.
func (s *Server) startDebug(ctx context.Context) error {
	if s.cfg.DebugListen == "" {
		return nil
	}
	host, _, err := net.SplitHostPort(s.cfg.DebugListen)
	if err != nil {
		return fmt.Errorf("server: --debug-listen %q: %w", s.cfg.DebugListen, err)
	}
	if ip := net.ParseIP(host); host != "localhost" && (ip == nil || !ip.IsLoopback()) {
		return fmt.Errorf("server: --debug-listen %q: give a loopback address (127.0.0.1:PORT, [::1]:PORT): profiles show the server's workings", s.cfg.DebugListen)
	}
	var lc net.ListenConfig
	ln, err := lc.Listen(ctx, "tcp", s.cfg.DebugListen)
	if err != nil {
		return fmt.Errorf("server: debug listen %s: %w", s.cfg.DebugListen, err)
	}
	mux := http.NewServeMux()
	mux.HandleFunc("/debug/pprof/", pprof.Index)
	mux.HandleFunc("/debug/pprof/cmdline", pprof.Cmdline)
	mux.HandleFunc("/debug/pprof/profile", pprof.Profile)
	mux.HandleFunc("/debug/pprof/symbol", pprof.Symbol)
	mux.HandleFunc("/debug/pprof/trace", pprof.Trace)
	s.debug = &http.Server{Handler: s.adminOnly(mux), ReadHeaderTimeout: 10 * time.Second}
	s.debugLn = ln
	go s.serve(s.debug, ln)
	s.logger.InfoContext(ctx, "profiles served (admin token required)", "url", "http://"+ln.Addr().String()+"/debug/pprof/")
	return nil
}

// adminOnly lets through requests bearing the admin token.
func (s *Server) adminOnly(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		tok, ok := strings.CutPrefix(r.Header.Get("Authorization"), "Bearer ")
		if !ok || subtle.ConstantTimeCompare([]byte(tok), []byte(s.token)) != 1 {
			w.Header().Set("WWW-Authenticate", "Bearer")
			http.Error(w, "401 Unauthorized: profiles need the admin token (Authorization: Bearer …).", http.StatusUnauthorized)
			return
		}
		next.ServeHTTP(w, r)
	})
}

// DebugURL returns the profiles' base URL, or "" when none are served.
func (s *Server) DebugURL() string {
	if s.debugLn == nil {
		return ""
	}
	return "http://" + s.debugLn.Addr().String() + "/debug/pprof/"
}
