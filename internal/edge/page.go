package edge

import (
	"fmt"
	"html"
	"net/http"
	"strconv"
	"strings"
)

// The pages' sentences; %s is the instance. None names an address, a
// port, a path or an error: they are read by anyone on the web.
const (
	noHost       = "No app is served at this address."
	appFailed    = "The app of %s did not answer. Try again in a moment."
	appSlow      = "The app of %s took too long to answer."
	publishesNot = "%s publishes nothing at this address."
	deploying    = "%s is deploying: its app is starting and will answer shortly. Try again in a moment."
	crashLooping = "%s is crash-looping: its app keeps exiting as it starts. Its maintainers can see why with `slipway logs`."
	stopped      = "%s is stopped: its app is not running."
)

func tooLarge(max int64) string {
	return "The request's body is larger than this server accepts (" + size(max) + ")."
}

// size writes n bytes in the largest whole binary unit.
func size(n int64) string {
	for _, u := range []struct {
		name  string
		shift uint
	}{{"GiB", 30}, {"MiB", 20}, {"KiB", 10}} {
		if n >= 1<<u.shift && n%(1<<u.shift) == 0 {
			return strconv.FormatInt(n>>u.shift, 10) + " " + u.name
		}
	}
	return strconv.FormatInt(n, 10) + " bytes"
}

// writeDown answers a request for instance, which has no replica up.
func writeDown(w http.ResponseWriter, r *http.Request, instance string, state State) {
	switch state {
	case Deploying:
		w.Header().Set("Retry-After", "5")
		writePage(w, r, http.StatusServiceUnavailable, instance, deploying)
	case CrashLooping:
		writePage(w, r, http.StatusServiceUnavailable, instance, crashLooping)
	case Stopped:
		writePage(w, r, http.StatusServiceUnavailable, instance, stopped)
	default:
		writePage(w, r, http.StatusNotFound, instance, publishesNot)
	}
}

// writePage answers code with a short page saying msg (with the tool's
// name for %s), in HTML for a client that asks for it, else plain text.
// It is never cached.
func writePage(w http.ResponseWriter, r *http.Request, code int, instance, msg string) {
	title := strconv.Itoa(code) + " " + http.StatusText(code)
	h := w.Header()
	h.Set("Cache-Control", "no-store")
	h.Set("X-Content-Type-Options", "nosniff")
	name := "Tool " + instance
	if !strings.Contains(r.Header.Get("Accept"), "text/html") {
		h.Set("Content-Type", "text/plain; charset=utf-8")
		w.WriteHeader(code)
		if strings.Contains(msg, "%s") {
			msg = fmt.Sprintf(msg, name)
		}
		_, _ = fmt.Fprintf(w, "%s: %s\n", title, msg) //nolint:gosec // G705: text/plain with nosniff, not HTML

		return
	}
	h.Set("Content-Type", "text/html; charset=utf-8")
	w.WriteHeader(code)
	msg = html.EscapeString(msg)
	if strings.Contains(msg, "%s") {
		msg = fmt.Sprintf(msg, "<b>"+html.EscapeString(name)+"</b>")
	}
	_, _ = fmt.Fprintf(w, page, title, title, msg)
}

const page = `<!doctype html>
<html lang="en"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width, initial-scale=1">
<title>%s</title>
<style>body{font-family:system-ui,sans-serif;max-width:40rem;margin:4rem auto;padding:0 1rem;color:#222}h1{font-size:1.4rem}p{line-height:1.5}</style>
</head><body><h1>%s</h1><p>%s</p><p><small>Served by Slipway.</small></p></body></html>
`
