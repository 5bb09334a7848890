package sse_test

import (
	"io"
	"net/http"
	"net/http/httptest"
	"testing"
	"time"

	"slipway.dev/slipway/internal/sse"
)

func TestMessage(t *testing.T) {
	for _, c := range []struct{ id, event, data, want string }{
		{"7", "", `{"a":1}`, "id: 7\ndata: {\"a\":1}\n\n"},
		{"", "done", "final", "event: done\ndata: final\n\n"},
		{"1\n2", "a\rb", "x\r\ny\nz", "id: 12\nevent: ab\ndata: x\ndata: y\ndata: z\n\n"},
		{"", "", "", "data: \n\n"},
	} {
		if got := string(sse.Message(c.id, c.event, c.data)); got != c.want {
			t.Errorf("Message(%q, %q, %q) = %q, want %q", c.id, c.event, c.data, got, c.want)
		}
	}
}

func TestAfter(t *testing.T) {
	for _, c := range []struct {
		header, query string
		n             int64
		name          string
		ok            bool
	}{
		{"", "", 0, "after", true},
		{"12", "3", 12, "Last-Event-ID", true},
		{" 4 ", "", 4, "Last-Event-ID", true},
		{"", "5", 5, "after", true},
		{"", "-1", 0, "after", false},
		{"x", "", 0, "Last-Event-ID", false},
	} {
		r := httptest.NewRequest("GET", "/e?after="+c.query, nil)
		if c.query == "" {
			r = httptest.NewRequest("GET", "/e", nil)
		}
		if c.header != "" {
			r.Header.Set("Last-Event-ID", c.header)
		}
		n, name, ok := sse.After(r)
		if n != c.n || name != c.name || ok != c.ok {
			t.Errorf("After(header %q, query %q) = %d, %s, %v; want %d, %s, %v", c.header, c.query, n, name, ok, c.n, c.name, c.ok)
		}
	}
}

// Ensure a stream sends its headers at once, keep-alive comments while
// idle, and what is written, flushed.
func TestStream(t *testing.T) {
	written := make(chan struct{})
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		s := sse.Start(w, 10*time.Millisecond)
		defer s.Close()
		<-r.Context().Done()
		close(written)
	}))
	defer srv.Close()
	res, err := http.Get(srv.URL)
	if err != nil {
		t.Fatal(err)
	}
	defer res.Body.Close()
	if ct := res.Header.Get("Content-Type"); ct != "text/event-stream" || res.Header.Get("X-Accel-Buffering") != "no" {
		t.Errorf("headers = %v", res.Header)
	}
	buf := make([]byte, len(": keep-alive\n\n"))
	if _, err := io.ReadFull(res.Body, buf); err != nil || string(buf) != ": keep-alive\n\n" {
		t.Errorf("first bytes = %q, %v; want a keep-alive comment", buf, err)
	}
	res.Body.Close()
	<-written
}
