package web_test

import (
	"context"
	"net/http"
	"net/http/httptest"
	"regexp"
	"strings"
	"testing"
	"time"

	"slipway.dev/slipway/internal/slipway"
)

// sseMessage is one message of an event stream.
type sseMessage struct {
	id, event, data string
	size            int
}

// parseSSE splits an event stream into its messages (comments dropped).
func parseSSE(t testing.TB, body string) []sseMessage {
	t.Helper()
	var out []sseMessage
	for block := range strings.SplitSeq(body, "\n\n") {
		if block == "" {
			continue
		}
		m := sseMessage{size: len(block) + 2}
		var data []string
		for line := range strings.SplitSeq(block, "\n") {
			switch {
			case strings.HasPrefix(line, ":"):
			case strings.HasPrefix(line, "id: "):
				m.id = strings.TrimPrefix(line, "id: ")
			case strings.HasPrefix(line, "event: "):
				m.event = strings.TrimPrefix(line, "event: ")
			case strings.HasPrefix(line, "data: "):
				data = append(data, strings.TrimPrefix(line, "data: "))
			default:
				t.Fatalf("malformed stream line %q in:\n%s", line, body)
			}
		}
		if m.id == "" && m.event == "" && data == nil {
			continue // a keep-alive comment
		}
		m.data = strings.Join(data, "\n")
		out = append(out, m)
	}
	return out
}

var idRE = regexp.MustCompile(`\bid="([^"]+)"`)

// fragmentIDs returns the ids of a fragment's top-level elements, in order
// (the ids of the elements it carries, as app.js swaps them). Each
// top-level element starts a line.
func fragmentIDs(frag string) []string {
	var ids []string
	tag, depth := "", 0
	for line := range strings.SplitSeq(frag, "\n") {
		if depth == 0 {
			name, _, _ := strings.Cut(strings.TrimPrefix(line, "<"), " ")
			name, _, _ = strings.Cut(name, ">")
			if !strings.HasPrefix(line, "<") || strings.HasPrefix(line, "<!--") || name == "" {
				continue
			}
			tag = name
			if m := idRE.FindStringSubmatch(line); m != nil {
				ids = append(ids, m[1])
			}
		}
		depth += strings.Count(line, "<"+tag+" ") + strings.Count(line, "<"+tag+">") - strings.Count(line, "</"+tag+">")
	}
	return ids
}

// Ensure the live stream numbers its messages as the API numbers events,
// sends for each event the fragments it changed with the ids of the
// page's elements, rendered from the current deployment (a replay
// converges on the page), and ends with "done"; and that each step
// change's message is under 1 KB.
func TestLive_DeploymentFragments(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	c := e.signin(adminToken)
	const path = "/ui/t/one/d/20250601-115000-runningaaa"
	page := bodyOf(t, get(e, path, c))
	res := get(e, path+"/live", c)
	if res.StatusCode != http.StatusOK || res.Header.Get("Content-Type") != "text/event-stream" || res.Header.Get("X-Accel-Buffering") != "no" {
		t.Fatalf("live: %d %v", res.StatusCode, res.Header)
	}
	msgs := parseSSE(t, bodyOf(t, res))
	wantIDs := [][]string{
		{"deployment-header"},
		{"deployment-header", "dag", "steps"},
		{"step-build:web"},
		{"step-run:web"},
		{"deployment-header", "questions-top", "questions-bottom", "questions-settled"},
	}
	if len(msgs) != len(wantIDs)+1 {
		t.Fatalf("got %d messages, want %d and done: %+v", len(msgs), len(wantIDs), msgs)
	}
	for i, want := range wantIDs {
		m := msgs[i]
		if m.id != string(rune('1'+i)) || m.event != "" {
			t.Errorf("message %d: id %q event %q, want id %d", i, m.id, m.event, i+1)
		}
		got := fragmentIDs(m.data)
		if strings.Join(got, " ") != strings.Join(want, " ") {
			t.Errorf("message %d carries ids %v, want %v:\n%s", i, got, want, m.data)
		}
		for _, id := range got {
			if !strings.Contains(page, `id="`+id+`"`) {
				t.Errorf("message %d: id %q is not on the page", i, id)
			}
		}
	}
	// The row sent live is the page's row (plus what app.js announces).
	row := msgs[3].data
	if !strings.Contains(row, `data-announce="Step run:web: running"`) ||
		!strings.Contains(page, strings.Replace(row, ` data-announce="Step run:web: running"`, "", 1)) {
		t.Errorf("live row differs from the page's:\n%s", row)
	}
	if last := msgs[len(msgs)-1]; last.event != "done" {
		t.Errorf("last message %+v, want event done", last)
	}
	if q := msgs[4].data; !strings.Contains(q, `data-announce="Question waiting: Web is live. Run migrate now?"`) ||
		!strings.Contains(q, `id="`+qGate+`-top"`) || !strings.Contains(q, `id="`+qGate+`-bottom"`) || !strings.Contains(q, `id="`+qSettled+`-done"`) {
		t.Errorf("question message: no announcement, or not the gate's card at the top and the bottom and the settled one:\n%s", q)
	}
	for i, m := range msgs[2:4] {
		if m.size >= 1024 {
			t.Errorf("step message %d is %d bytes, want < 1024", i, m.size)
		}
	}
}

// Ensure a step message stays under 1 KB with the longest reason and
// detail a step can show (both are clipped).
func TestLive_StepMessageUnder1KB(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	long := strings.Repeat("<é\"&", 2000) // escaping and UTF-8 make each character count several bytes
	id := "20250601-115000-runningaaa"
	e.svc.deployments["one"][2].Steps[1].Reason = long
	e.svc.deployments["one"][2].Steps[1].Detail = long
	e.svc.deployments["one"][2].Steps[1].Key = "run:" + strings.Repeat("c", 60)
	e.svc.events[id] = []slipway.Event{{Seq: 9, DeploymentID: id, Kind: "step", Step: "run:" + strings.Repeat("c", 60)}}
	c := e.signin(adminToken)
	msgs := parseSSE(t, bodyOf(t, get(e, "/ui/t/one/d/"+id+"/live", c)))
	if len(msgs) != 2 || msgs[0].id != "9" {
		t.Fatalf("messages %+v", msgs)
	}
	if msgs[0].size >= 1024 {
		t.Errorf("step message is %d bytes, want < 1024:\n%s", msgs[0].size, msgs[0].data)
	}
	t.Logf("worst-case step message: %d bytes", msgs[0].size)
}

// Ensure the stream resumes after Last-Event-ID (an EventSource
// reconnecting), else after ?after=, and refuses a bad one.
func TestLive_LastEventID(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	c := e.signin(adminToken)
	const path = "/ui/t/one/d/20250601-115000-runningaaa/live"
	res := e.do(req{method: "GET", path: path + "?after=1", cookies: []*http.Cookie{c}, header: map[string]string{"Last-Event-ID": "3"}})
	msgs := parseSSE(t, bodyOf(t, res))
	if len(msgs) != 3 || msgs[0].id != "4" || msgs[2].event != "done" {
		t.Errorf("after Last-Event-ID 3: %+v", msgs)
	}
	msgs = parseSSE(t, bodyOf(t, get(e, path+"?after=2", c)))
	if len(msgs) != 4 || msgs[0].id != "3" {
		t.Errorf("after=2: %+v", msgs)
	}
	if got := e.svc.after; len(got) != 2 || got[0] != 3 || got[1] != 2 {
		t.Errorf("DeploymentEvents after = %v, want [3 2]", got)
	}
	wantStatus(t, "bad Last-Event-ID", e.do(req{method: "GET", path: path, cookies: []*http.Cookie{c}, header: map[string]string{"Last-Event-ID": "x"}}), http.StatusBadRequest)
	wantStatus(t, "negative after", get(e, path+"?after=-1", c), http.StatusBadRequest)
	wantStatus(t, "unknown deployment", get(e, "/ui/t/one/d/20250601-115000-nosuchdepl/live", c), http.StatusNotFound)
	wantStatus(t, "no session", get(e, path), http.StatusUnauthorized)
}

// Ensure the streams end when their request's context ends (the server
// cancels it at shutdown), without waiting for the deployment or log.
func TestLive_StreamsEndWithTheirContext(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	e.svc.block = true
	c := e.signin(adminToken)
	for _, path := range []string{"/ui/t/one/d/20250601-115000-runningaaa/live", "/ui/t/one/j/web/logs/live", "/ui/t/one/b/9b0d44aa-1a2b3c4d/logs/live"} {
		ctx, cancel := context.WithCancel(t.Context())
		r := httptest.NewRequestWithContext(ctx, "GET", path, nil)
		r.AddCookie(c)
		rec := httptest.NewRecorder()
		done := make(chan struct{})
		go func() { defer close(done); e.h.ServeHTTP(rec, r) }()
		cancel()
		select {
		case <-done:
		case <-time.After(10 * time.Second):
			t.Fatalf("%s: the stream did not end with its context", path)
		}
		if strings.Contains(rec.Body.String(), "event: done") {
			t.Errorf("%s: a cancelled stream claims to be done", path)
		}
	}
}

// Ensure a followed log streams one message per line, numbered, escaped
// like the page, then done; and an unknown log is a 404 page.
func TestLive_Logs(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	c := e.signin(adminToken)
	res := get(e, "/ui/t/one/b/9b0d44aa-1a2b3c4d/logs/live", c)
	msgs := parseSSE(t, bodyOf(t, res))
	want := []string{"Cloning…", "Building <web> & friends", `\x1b[31mred\x1b[0m done`}
	if len(msgs) != len(want)+1 {
		t.Fatalf("messages %+v", msgs)
	}
	for i, w := range want {
		if msgs[i].data != w || msgs[i].id != string(rune('1'+i)) {
			t.Errorf("line %d = %+v, want %q", i, msgs[i], w)
		}
	}
	if msgs[len(want)].event != "done" {
		t.Errorf("last %+v, want done", msgs[len(want)])
	}
	wantStatus(t, "unknown build", get(e, "/ui/t/one/b/nosuchbuild/logs/live", c), http.StatusNotFound)
	wantStatus(t, "unknown job", get(e, "/ui/t/one/j/nosuchjob/logs", c), http.StatusNotFound)
}
