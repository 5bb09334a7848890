// Package sse writes Server-Sent Events responses: the API's deployment
// events and the web UI's live pages share the headers, the keep-alive
// comments, the flushing and the framing.
package sse

import (
	"bytes"
	"fmt"
	"net/http"
	"strconv"
	"strings"
	"sync"
	"time"
)

// Stream is an event stream being written: writes are serialised (the
// keep-alive comments come from a goroutine of their own) and flushed at
// once.
type Stream struct {
	mu      sync.Mutex
	w       http.ResponseWriter
	rc      *http.ResponseController
	done    chan struct{}
	stopped chan struct{}
	once    sync.Once
}

// Start sends the headers of an event stream, lifts the server's write
// deadline (the stream outlives it), and sends a keep-alive comment every
// keepAlive so that proxies and clients do not time an idle stream out.
// Close stops them.
func Start(w http.ResponseWriter, keepAlive time.Duration) *Stream {
	rc := http.NewResponseController(w)
	_ = rc.SetWriteDeadline(time.Time{}) // not every writer supports it; nothing to do then
	h := w.Header()
	h.Set("Content-Type", "text/event-stream")
	h.Set("Cache-Control", "no-store")
	h.Set("X-Accel-Buffering", "no") // nginx: do not buffer the stream
	w.WriteHeader(http.StatusOK)
	_ = rc.Flush()
	s := &Stream{w: w, rc: rc, done: make(chan struct{}), stopped: make(chan struct{})}
	go func() {
		defer close(s.stopped)
		t := time.NewTicker(keepAlive)
		defer t.Stop()
		for {
			select {
			case <-s.done:
				return
			case <-t.C:
				_ = s.Write([]byte(": keep-alive\n\n")) // a failed write ends the handler's next one
			}
		}
	}()
	return s
}

// Close stops the keep-alive comments and waits until none is being
// written: the handler may return (and net/http finish the response) only
// then. It is safe to call twice.
func (s *Stream) Close() {
	s.once.Do(func() { close(s.done) })
	<-s.stopped
}

// Write writes b (whole messages) and flushes it.
func (s *Stream) Write(b []byte) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if _, err := s.w.Write(b); err != nil {
		return err
	}
	return s.rc.Flush()
}

// Message returns one event: its id (none when ""), its event name (none
// when ""), and data, one data: line per line of it. Line breaks in id and
// event are dropped, since they would end the field early.
func Message(id, event, data string) []byte {
	var b bytes.Buffer
	if id = field(id); id != "" {
		fmt.Fprintf(&b, "id: %s\n", id)
	}
	if event = field(event); event != "" {
		fmt.Fprintf(&b, "event: %s\n", event)
	}
	for line := range strings.SplitSeq(strings.ReplaceAll(data, "\r", ""), "\n") {
		fmt.Fprintf(&b, "data: %s\n", line)
	}
	b.WriteString("\n")
	return b.Bytes()
}

func field(s string) string { return strings.NewReplacer("\r", "", "\n", "").Replace(s) }

// After returns the event number a stream starts after: the Last-Event-ID
// header of a reconnecting client, else the "after" query parameter, else
// 0. name is the one read, for an error message when ok is false (not a
// number of 0 or more).
func After(r *http.Request) (n int64, name string, ok bool) {
	name, v := "Last-Event-ID", strings.TrimSpace(r.Header.Get("Last-Event-ID"))
	if v == "" {
		name, v = "after", r.URL.Query().Get("after")
	}
	if v == "" {
		return 0, name, true
	}
	n, err := strconv.ParseInt(v, 10, 64)
	if err != nil || n < 0 {
		return 0, name, false
	}
	return n, name, true
}
