package httpapi

import (
	"net/http"
	"strings"
	"time"
)

// newTextWriter returns the writer of a text/plain response (a log). With
// follow, every write is flushed at once and the response may outlive the
// server's write timeout.
func newTextWriter(w http.ResponseWriter, follow bool) *textWriter {
	tw := &textWriter{w: w, rc: http.NewResponseController(w), flush: follow}
	if follow {
		_ = tw.rc.SetWriteDeadline(time.Time{})
	}
	return tw
}

// textWriter writes a text/plain response whose header goes out with the
// first write.
type textWriter struct {
	w       http.ResponseWriter
	rc      *http.ResponseController
	flush   bool
	started bool
}

func (t *textWriter) start() {
	t.started = true
	h := t.w.Header()
	h.Set("Content-Type", "text/plain; charset=utf-8")
	h.Set("X-Content-Type-Options", "nosniff")
	h.Set("Cache-Control", "no-cache") // a log grows
	h.Set("X-Accel-Buffering", "no")   // and proxies must not hold it back
	t.w.WriteHeader(http.StatusOK)
}

// open sends the header at once, so that a follower sees the 200 before
// the log has a line.
func (t *textWriter) open() {
	t.start()
	_ = t.rc.Flush()
}

// Write writes p, flushing it when following.
func (t *textWriter) Write(p []byte) (int, error) {
	if !t.started {
		t.start()
	}
	n, err := t.w.Write(p)
	if err == nil && t.flush {
		err = t.rc.Flush()
	}
	return n, err
}

// clip cuts a value from a request to n bytes for an error message,
// marking the cut with "…".
func clip(s string, n int) string {
	if len(s) > n {
		return s[:n] + "…"
	}
	return s
}

// quoteShort quotes s, clipped to 64 bytes, for an error message.
func quoteShort(s string) string {
	return "'" + strings.ToValidUTF8(clip(s, 64), "?") + "'"
}
