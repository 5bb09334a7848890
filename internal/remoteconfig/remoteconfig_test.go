package remoteconfig

import (
	"errors"
	"fmt"
	"net"
	"net/http"
	"net/http/httptest"
	"net/netip"
	"strings"
	"sync/atomic"
	"testing"
	"time"
)

func TestBlocked(t *testing.T) {
	t.Parallel()
	// Only classified, never dialled.
	tests := []struct {
		addr string
		want string
	}{
		{"127.0.0.1", "loopback"},
		{"127.255.0.9", "loopback"},
		{"::1", "loopback"},
		{"::ffff:127.0.0.1", "loopback"},
		{"10.1.2.3", "private"},
		{"172.16.0.1", "private"},
		{"172.31.255.255", "private"},
		{"192.168.1.1", "private"},
		{"fd12:3456::1", "private"},
		{"169.254.169.254", "link-local (cloud metadata)"},
		{"169.254.1.1", "link-local"},
		{"fe80::1", "link-local"},
		{"0.0.0.0", "unspecified"},
		{"0.1.2.3", "unspecified"},
		{"::", "unspecified"},
		{"224.0.0.1", "multicast"},
		{"239.1.2.3", "multicast"},
		{"ff02::1", "multicast"},
		{"100.64.0.1", "shared (CGNAT)"},
		{"100.127.255.254", "shared (CGNAT)"},
		{"255.255.255.255", "reserved"},
		{"198.18.0.1", "reserved"},
		{"64:ff9b::a00:1", "private (through NAT64)"},
		{"64:ff9b::7f00:1", "loopback (through NAT64)"},
		{"2002:a00:1::1", "reserved (IPv4 tunnel)"},
		// Public addresses, including the neighbours of blocked ranges.
		{"93.184.215.14", ""},
		{"172.32.0.1", ""},
		{"100.128.0.1", ""},
		{"169.255.0.1", ""},
		{"2606:4700::1111", ""},
		{"64:ff9b::5db8:d70e", ""},
	}
	for _, tt := range tests {
		if got := Blocked(netip.MustParseAddr(tt.addr)); got != tt.want {
			t.Errorf("Blocked(%s) = %q, want %q", tt.addr, got, tt.want)
		}
	}
}

// serve starts an HTTP server on 127.0.0.1 answering with h, and counts
// the requests it gets.
func serve(t *testing.T, h http.HandlerFunc) (*httptest.Server, *atomic.Int32) {
	t.Helper()
	var n atomic.Int32
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		n.Add(1)
		h(w, r)
	}))
	t.Cleanup(srv.Close)
	return srv, &n
}

const config = "components:\n  web:\n    build: {repository: https://git.example/a.git, ref: main}\n"

func TestFetcher_Fetch(t *testing.T) {
	t.Parallel()

	// Ensure a server on loopback is refused by default, before any
	// request is sent.
	t.Run("RefusesLoopback", func(t *testing.T) {
		t.Parallel()
		srv, n := serve(t, func(w http.ResponseWriter, _ *http.Request) { fmt.Fprint(w, config) })
		_, err := New(Config{}).Fetch(t.Context(), srv.URL+"/tool.yaml")
		var be *BlockedError
		if !errors.As(err, &be) || be.Reason != "loopback" || be.Addr != netip.MustParseAddr("127.0.0.1") {
			t.Fatalf("Fetch(loopback) error = %v, want a BlockedError for 127.0.0.1 (loopback)", err)
		}
		if got := n.Load(); got != 0 {
			t.Errorf("the server got %d requests, want 0", got)
		}
	})

	// Ensure names are checked after resolution: localhost is loopback.
	t.Run("RefusesNameResolvingToLoopback", func(t *testing.T) {
		t.Parallel()
		srv, n := serve(t, func(w http.ResponseWriter, _ *http.Request) { fmt.Fprint(w, config) })
		_, port, _ := net.SplitHostPort(srv.Listener.Addr().String())
		_, err := New(Config{}).Fetch(t.Context(), "http://localhost:"+port+"/tool.yaml")
		if _, ok := errors.AsType[*BlockedError](err); !ok {
			t.Fatalf("Fetch(localhost) error = %v, want a BlockedError", err)
		}
		if got := n.Load(); got != 0 {
			t.Errorf("the server got %d requests, want 0", got)
		}
	})

	// Ensure AllowPrivate lets the fetch through, with the User-Agent.
	t.Run("AllowPrivate", func(t *testing.T) {
		t.Parallel()
		var agent atomic.Value
		srv, _ := serve(t, func(w http.ResponseWriter, r *http.Request) {
			agent.Store(r.UserAgent())
			fmt.Fprint(w, config)
		})
		body, err := New(Config{AllowPrivate: true}).Fetch(t.Context(), srv.URL+"/tool.yaml")
		if err != nil {
			t.Fatal(err)
		}
		if string(body) != config {
			t.Errorf("body = %q, want %q", body, config)
		}
		if got := agent.Load(); got != DefaultUserAgent {
			t.Errorf("User-Agent = %q, want %q", got, DefaultUserAgent)
		}
	})

	// Ensure a body over the limit is an error naming the limit, whether
	// the server announces its length or streams it; the limit itself is
	// fine.
	t.Run("SizeLimit", func(t *testing.T) {
		t.Parallel()
		srv, _ := serve(t, func(w http.ResponseWriter, r *http.Request) {
			n := map[string]int{"/exact": 100, "/over": 101, "/stream": 4096}[r.URL.Path]
			if r.URL.Path == "/stream" {
				for range n / 64 {
					_, _ = w.Write([]byte(strings.Repeat("x", 64)))
					w.(http.Flusher).Flush() // no Content-Length: chunked
				}
				return
			}
			_, _ = w.Write([]byte(strings.Repeat("x", n)))
		})
		f := New(Config{AllowPrivate: true, MaxBytes: 100})
		if body, err := f.Fetch(t.Context(), srv.URL+"/exact"); err != nil || len(body) != 100 {
			t.Errorf("Fetch(100 bytes) = %d bytes, %v; want 100, nil", len(body), err)
		}
		for _, path := range []string{"/over", "/stream"} {
			_, err := f.Fetch(t.Context(), srv.URL+path)
			var tl *TooLargeError
			if !errors.As(err, &tl) || tl.Limit != 100 {
				t.Errorf("Fetch(%s) error = %v, want a TooLargeError with limit 100", path, err)
			}
		}
		if want := "the document is larger than the limit of 1048576 bytes"; (&TooLargeError{Limit: DefaultMaxBytes}).Error() != want {
			t.Errorf("TooLargeError text = %q, want %q", (&TooLargeError{Limit: DefaultMaxBytes}).Error(), want)
		}
	})

	// Ensure a server that never answers ends in a TimeoutError. The
	// handler blocks until the client gives up.
	t.Run("Timeout", func(t *testing.T) {
		t.Parallel()
		release := make(chan struct{})
		srv, _ := serve(t, func(w http.ResponseWriter, r *http.Request) {
			select {
			case <-release:
			case <-r.Context().Done():
			}
		})
		t.Cleanup(func() { close(release) }) // runs before srv.Close
		_, err := New(Config{AllowPrivate: true, Timeout: 50 * time.Millisecond}).Fetch(t.Context(), srv.URL)
		var te *TimeoutError
		if !errors.As(err, &te) || te.Timeout != 50*time.Millisecond {
			t.Fatalf("Fetch(silent server) error = %v, want a TimeoutError of 50ms", err)
		}
	})

	// Ensure a status that is not 2xx is an error with the status.
	t.Run("NotOK", func(t *testing.T) {
		t.Parallel()
		srv, _ := serve(t, http.NotFound)
		_, err := New(Config{AllowPrivate: true}).Fetch(t.Context(), srv.URL+"/missing.yaml")
		var se *StatusError
		if !errors.As(err, &se) || se.StatusCode != http.StatusNotFound {
			t.Fatalf("Fetch(404) error = %v, want a StatusError 404", err)
		}
		if got, want := err.Error(), "the server answered 404 Not Found"; got != want {
			t.Errorf("error = %q, want %q", got, want)
		}
	})

	// Ensure only http and https are fetched, in the URL and in redirects.
	t.Run("Schemes", func(t *testing.T) {
		t.Parallel()
		srv, _ := serve(t, func(w http.ResponseWriter, r *http.Request) {
			http.Redirect(w, r, "file:///etc/passwd", http.StatusFound)
		})
		f := New(Config{AllowPrivate: true})
		for _, u := range []string{"file:///etc/passwd", "ftp://example.org/x", srv.URL} {
			if _, err := f.Fetch(t.Context(), u); !isType[*SchemeError](err) {
				t.Errorf("Fetch(%s) error = %v, want a SchemeError", u, err)
			}
		}
	})

	// Ensure redirects are followed, a few only.
	t.Run("Redirects", func(t *testing.T) {
		t.Parallel()
		srv, _ := serve(t, func(w http.ResponseWriter, r *http.Request) {
			var hops int
			_, _ = fmt.Sscanf(r.URL.Path, "/hop/%d", &hops)
			if hops == 0 {
				fmt.Fprint(w, config)
				return
			}
			http.Redirect(w, r, fmt.Sprintf("/hop/%d", hops-1), http.StatusFound)
		})
		f := New(Config{AllowPrivate: true, MaxRedirects: 2})
		if body, err := f.Fetch(t.Context(), srv.URL+"/hop/2"); err != nil || string(body) != config {
			t.Errorf("Fetch(2 redirects) = %q, %v; want the config", body, err)
		}
		if _, err := f.Fetch(t.Context(), srv.URL+"/hop/3"); err == nil || !strings.Contains(err.Error(), "stopped after 2 redirects") {
			t.Errorf("Fetch(3 redirects) error = %v, want stopped after 2 redirects", err)
		}
	})

	// Ensure a redirect is checked again where it leads: a "public" server
	// (127.0.0.1 here, by a guard that only blocks other addresses) that
	// redirects to a blocked one is refused before the second request.
	t.Run("RedirectToBlockedAddress", func(t *testing.T) {
		t.Parallel()
		ln, err := net.Listen("tcp", "127.0.0.2:0")
		if err != nil {
			t.Skipf("cannot listen on 127.0.0.2: %v", err)
		}
		var inner atomic.Int32
		internal := httptest.NewUnstartedServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
			inner.Add(1)
			fmt.Fprint(w, config)
		}))
		_ = internal.Listener.Close()
		internal.Listener = ln
		internal.Start()
		t.Cleanup(internal.Close)
		public, _ := serve(t, func(w http.ResponseWriter, r *http.Request) {
			http.Redirect(w, r, internal.URL+"/tool.yaml", http.StatusFound)
		})
		f := New(Config{})
		f.blocked = func(a netip.Addr) string {
			if a == netip.MustParseAddr("127.0.0.1") {
				return ""
			}
			return Blocked(a)
		}
		_, err = f.Fetch(t.Context(), public.URL+"/tool.yaml")
		var be *BlockedError
		if !errors.As(err, &be) || be.Addr != netip.MustParseAddr("127.0.0.2") {
			t.Fatalf("Fetch(redirect to 127.0.0.2) error = %v, want a BlockedError for 127.0.0.2", err)
		}
		if !strings.Contains(err.Error(), internal.URL) {
			t.Errorf("error %q does not name where the redirect led (%s)", err, internal.URL)
		}
		if got := inner.Load(); got != 0 {
			t.Errorf("the blocked server got %d requests, want 0", got)
		}
	})
}

func isType[T error](err error) bool {
	_, ok := errors.AsType[T](err)
	return ok
}
