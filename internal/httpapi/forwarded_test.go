package httpapi

import (
	"bytes"
	"encoding/json"
	"log/slog"
	"net/http/httptest"
	"net/netip"
	"strings"
	"sync"
	"testing"
)

// TestRequestLog_ForwardingHeaders: X-Forwarded-For and X-Real-IP name the
// client in the request log only when the peer is a trusted proxy; from
// anybody else they are ignored and the peer is the client.
func TestRequestLog_ForwardingHeaders(t *testing.T) {
	t.Parallel()
	logs, mu := &bytes.Buffer{}, &sync.Mutex{}
	h := NewHandler(newFakeService(), Config{
		AdminToken: testToken, Logger: slog.New(slog.NewJSONHandler(lockedWriter{mu, logs}, nil)),
		TrustedProxies: []netip.Prefix{netip.MustParsePrefix("10.0.0.0/8")},
	})
	for _, tt := range []struct {
		name      string
		peer      string
		xff, real string
		remote    string
		via       string
	}{
		{"UntrustedPeerForwardedFor", "192.0.2.1:1234", "203.0.113.9", "", "192.0.2.1", ""},
		{"UntrustedPeerRealIP", "192.0.2.1:1234", "", "203.0.113.9", "192.0.2.1", ""},
		{"UntrustedPeerIPv6", "[2001:db8::1]:443", "203.0.113.9", "198.51.100.1", "2001:db8::1", ""},
		{"TrustedForwardedFor", "10.1.2.3:5555", "203.0.113.9", "", "203.0.113.9", "10.1.2.3"},
		{"TrustedRealIP", "10.1.2.3:5555", "", "203.0.113.9", "203.0.113.9", "10.1.2.3"},
		{"TrustedForwardedForWins", "10.1.2.3:5555", "203.0.113.9", "198.51.100.1", "203.0.113.9", "10.1.2.3"},
		// The client wrote the left part: the right-most untrusted hop is it.
		{"TrustedSpoofedLeft", "10.1.2.3:5555", "1.2.3.4, 203.0.113.9", "", "203.0.113.9", "10.1.2.3"},
		{"TrustedChainOfProxies", "10.1.2.3:5555", "203.0.113.9, 10.9.9.9", "", "203.0.113.9", "10.1.2.3"},
		{"TrustedGarbageRight", "10.1.2.3:5555", "203.0.113.9, not-an-ip", "", "10.1.2.3", ""},
		{"TrustedNoHeaders", "10.1.2.3:5555", "", "", "10.1.2.3", ""},
	} {
		mu.Lock()
		logs.Reset()
		mu.Unlock()
		r := httptest.NewRequest("GET", "/components/v1/tool/mytool/deployment", nil)
		r.RemoteAddr = tt.peer
		r.Header.Set("Authorization", "Bearer "+testToken)
		if tt.xff != "" {
			r.Header.Set("X-Forwarded-For", tt.xff)
		}
		if tt.real != "" {
			r.Header.Set("X-Real-IP", tt.real)
		}
		h.ServeHTTP(httptest.NewRecorder(), r)
		mu.Lock()
		var entry struct {
			Msg, Remote, Via string
		}
		err := json.Unmarshal(bytes.TrimSpace(logs.Bytes()), &entry)
		mu.Unlock()
		if err != nil || entry.Msg != "http request" {
			t.Fatalf("%s: log %q: %v", tt.name, logs.String(), err)
		}
		if entry.Remote != tt.remote || entry.Via != tt.via {
			t.Errorf("%s: remote=%q via=%q, want %q and %q", tt.name, entry.Remote, entry.Via, tt.remote, tt.via)
		}
	}
}

// TestRedactedAnswers: a config or deployment whose stored form still has
// a credential in a URL (a row from before credentials were split off, as
// the fake service keeps what it is given) is answered with *** in its
// place.
func TestRedactedAnswers(t *testing.T) {
	t.Parallel()
	b := setup(t)
	const cfg = `{"source_url": "https://bot:pw-src-1@example.org/tool.yaml", "components": {"web": {"component_type": "one-off",
		"build": {"repository": "https://alice:pw-repo-2@example.org/app.git", "ref": "main"}, "run": {"command": "web"}}}}`
	for _, req := range []request{
		{method: "POST", path: "/components/v1/tool/mytool/config", body: cfg},
		{method: "GET", path: "/components/v1/tool/mytool/config"},
		{method: "POST", path: "/components/v1/tool/mytool/deployment"},
		{method: "GET", path: "/components/v1/tool/mytool/deployment"},
	} {
		w := b.do(t, req)
		body := w.Body.String()
		if w.Code != 200 || !strings.Contains(body, "https://***@example.org/app.git") || !strings.Contains(body, "https://***@example.org/tool.yaml") {
			t.Errorf("%s %s: %d %s, want the redacted URLs", req.method, req.path, w.Code, body)
		}
		for _, secret := range []string{"pw-src-1", "pw-repo-2", "alice", "bot:"} {
			if strings.Contains(body, secret) {
				t.Errorf("%s %s: the answer shows %q: %s", req.method, req.path, secret, body)
			}
		}
	}
}
