package cli

import (
	"bytes"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"
)

const (
	askQID   = "q-0123456789abcdef"
	askDepID = "20261122-130049-x5ucaa3ign"
)

// askToken is an ask token of tool mytool, step run:migrate (its
// signature is the fake server's business).
var askToken = "slask_" + base64.RawURLEncoding.EncodeToString([]byte("mytool\x00"+askDepID+"\x00run:migrate")) + ".sig"

// askQuestion is the wire form of a question in state with value.
func askQuestion(state, value, by string, fields bool) string {
	choices := `"options":[{"label":"yes","value":"yes"},{"label":"no","value":"n"}],"fields":[]`
	if fields {
		choices = `"options":[],"fields":[{"key":"env","type":"select","options":["prod","staging"],"default":"staging"},{"key":"dry","type":"boolean"}]`
	}
	return fmt.Sprintf(`{"id":%q,"tool":"mytool","deploy_id":%q,"step":"run:migrate","origin":"ask","question":"Continue with sync?",%s,`+
		`"state":%q,"created":"2026-11-22T13:00:49Z","deadline":%q,"on_deadline":"fail","default":"","value":%q,"answered_by":%q,`+
		`"comment":"","approvals":[],"policy":{"answerers":[],"required_answers":1,"forbid_initiator":false},"may_answer":""}`,
		askQID, askDepID, choices, state, time.Now().Add(time.Hour).UTC().Format(time.RFC3339), value, by)
}

// askStep is one scripted answer of the fake server to a poll: "drop"
// closes the connection without a response, a number is that status with
// an error envelope, anything else a question's JSON.
type askServer struct {
	t     *testing.T
	token string

	mu     sync.Mutex
	posted []string // bodies of the POSTs
	create []string // answers to POST, in turn ("201:<json>", "drop", "422")
	polls  []string // answers to GET, in turn; the last one repeats
	waits  []string // ?wait= of each GET
}

func (s *askServer) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	body, _ := io.ReadAll(r.Body)
	s.mu.Lock()
	defer s.mu.Unlock()
	if r.Header.Get("Authorization") != "Bearer "+s.token {
		reply(w, 401, `{"messages":{"error":["Authentication required: the ask token is not valid, or its step is no longer running"],"info":[],"warning":[]}}`)
		return
	}
	var step string
	switch {
	case r.Method == http.MethodPost && r.URL.Path == "/interactions/v1/tool/mytool/questions":
		s.posted = append(s.posted, string(body))
		step = s.create[0]
		if len(s.create) > 1 {
			s.create = s.create[1:]
		}
	case r.Method == http.MethodGet && r.URL.Path == "/interactions/v1/tool/mytool/questions/"+askQID:
		s.waits = append(s.waits, r.URL.Query().Get("wait"))
		step = s.polls[0]
		if len(s.polls) > 1 {
			s.polls = s.polls[1:]
		}
	default:
		reply(w, 404, `{"messages":{"error":["Not found."],"info":[],"warning":[]}}`)
		return
	}
	status, rest, _ := strings.Cut(step, ":")
	switch status {
	case "drop":
		conn, _, err := w.(http.Hijacker).Hijack()
		if err != nil {
			s.t.Error(err)
			return
		}
		_ = conn.Close()
	case "200", "201":
		reply(w, map[string]int{"200": 200, "201": 201}[status], `{"data":`+rest+`,"messages":{"error":[],"info":[],"warning":[]}}`)
	default:
		var code int
		_, _ = fmt.Sscan(status, &code)
		reply(w, code, `{"messages":{"error":["`+rest+`"],"info":[],"warning":[]}}`)
	}
}

// runAsk runs `slipway ask` args against srv with fast retries.
func runAsk(t *testing.T, url string, vars map[string]string, args ...string) result {
	t.Helper()
	if vars == nil {
		vars = map[string]string{"SLIPWAY_URL": url, "SLIPWAY_ASK_TOKEN": askToken}
	}
	e := &env{getenv: func(k string) string { return vars[k] }, stdin: strings.NewReader("")}
	e.hooks = hooks{retryMin: time.Millisecond, retryMax: 4 * time.Millisecond, grace: 50 * time.Millisecond, pollWait: time.Second}
	var stdout, stderr bytes.Buffer
	code := mainEnv(t.Context(), append([]string{"ask"}, args...), e, &stdout, &stderr)
	return result{code, stdout.String(), stderr.String()}
}

func newAskServer(t *testing.T, create []string, polls ...string) (*askServer, string) {
	t.Helper()
	s := &askServer{t: t, token: askToken, create: create, polls: polls}
	srv := httptest.NewServer(s)
	t.Cleanup(srv.Close)
	return s, srv.URL
}

// Ensure ask sends the question as the flags say, prints it to stderr,
// long-polls until it is answered and prints the value, exit 0.
func TestAsk_Answered(t *testing.T) {
	t.Parallel()
	open := askQuestion("open", "", "", false)
	s, url := newAskServer(t, []string{"201:" + open}, "200:"+open, "200:"+open, "200:"+askQuestion("answered", "n", "tool-token:abc", false))
	res := runAsk(t, url, nil, "Continue with sync?", "--option", "yes", "--option", "no=n", "--default", "n", "--timeout", "1h", "--key", "sync")
	if res.code != 0 || res.stdout != "n\n" {
		t.Fatalf("exit %d, stdout %q, stderr:\n%s", res.code, res.stdout, res.stderr)
	}
	var sent map[string]any
	if err := json.Unmarshal([]byte(s.posted[0]), &sent); err != nil {
		t.Fatal(err)
	}
	want := `{"default":"n","key":"sync","on_timeout":"default","options":[{"label":"yes","value":"yes"},{"label":"no","value":"n"}],"question":"Continue with sync?","timeout_seconds":3600}`
	if got, _ := json.Marshal(sent); string(got) != want {
		t.Errorf("POST body %s, want %s", got, want)
	}
	for _, w := range []string{
		"Asked " + askQID + " (run:migrate of " + askDepID + ")", "Continue with sync?", "Answers: yes, no (n)",
		"Answer with: slipway questions answer " + askQID + " --tool mytool --value yes", "Answered n by tool-token:abc.",
	} {
		if !strings.Contains(res.stderr, w) {
			t.Errorf("stderr lacks %q:\n%s", w, res.stderr)
		}
	}
	if len(s.waits) != 3 || s.waits[0] != "1s" {
		t.Errorf("polls with wait=%q, want 3 with the long poll's wait", s.waits)
	}
}

// Ensure a question with fields prints the JSON object of values, --json
// the whole question, and a question asked before (200) is said so.
func TestAsk_FieldsAndJSON(t *testing.T) {
	t.Parallel()
	answered := askQuestion("answered", `{"dry":"false","env":"prod"}`, "admin", true)
	s, url := newAskServer(t, []string{"200:" + answered}, "200:"+answered)
	res := runAsk(t, url, nil, "Where to?", "--field", "env:select:prod|staging=staging", "--field", "dry:bool")
	if res.code != 0 || res.stdout != `{"dry":"false","env":"prod"}`+"\n" || !strings.Contains(res.stderr, "Asked before") {
		t.Fatalf("exit %d, stdout %q, stderr:\n%s", res.code, res.stdout, res.stderr)
	}
	if want := `"fields":[{"default":"staging","key":"env","options":["prod","staging"],"type":"select"},{"key":"dry","type":"boolean"}]`; !strings.Contains(s.posted[0], want) {
		t.Errorf("POST body %s lacks %s", s.posted[0], want)
	}
	res = runAsk(t, url, nil, "Where to?", "--field", "env:select:prod|staging=staging", "--field", "dry:bool", "--json")
	var q map[string]any
	if err := json.Unmarshal([]byte(res.stdout), &q); res.code != 0 || err != nil || q["id"] != askQID || q["state"] != "answered" {
		t.Fatalf("--json: exit %d, stdout %s (%v)", res.code, res.stdout, err)
	}
}

// Ensure network errors and server restarts (a dropped connection, 503,
// 429) are retried with backoff, on the POST and the polls, and said
// once per outage.
func TestAsk_RetriesThroughRestarts(t *testing.T) {
	t.Parallel()
	open := askQuestion("open", "", "", false)
	s, url := newAskServer(t, []string{"drop", "503:The server is starting.", "201:" + open},
		"200:"+open, "drop", "drop", "503:Stopping.", "429:Slow down.", "200:"+open, "200:"+askQuestion("answered", "yes", "admin", false))
	res := runAsk(t, url, nil, "Continue?", "--option", "yes", "--option", "no")
	if res.code != 0 || res.stdout != "yes\n" {
		t.Fatalf("exit %d, stdout %q, stderr:\n%s", res.code, res.stdout, res.stderr)
	}
	if len(s.posted) != 3 || len(s.waits) != 7 {
		t.Errorf("%d POSTs and %d polls, want 3 and 7", len(s.posted), len(s.waits))
	}
	if n := strings.Count(res.stderr, "Cannot reach the Slipway server"); n != 2 {
		t.Errorf("outages reported %d times, want 2 (one per outage):\n%s", n, res.stderr)
	}
	if n := strings.Count(res.stderr, "Reached the server again."); n != 2 {
		t.Errorf("recoveries reported %d times, want 2:\n%s", n, res.stderr)
	}
}

// Ensure the exit statuses: 3 expired, 4 cancelled or the step over
// (401), 1 a refused question or a server gone for good, 2 usage.
func TestAsk_ExitCodes(t *testing.T) {
	t.Parallel()
	open := askQuestion("open", "", "", false)
	tests := []struct {
		name   string
		create []string
		polls  []string
		vars   map[string]string
		args   []string
		code   int
		stderr string
	}{
		{"expired", []string{"201:" + open}, []string{"200:" + askQuestion("expired", "", "system:deadline", false)}, nil, nil, 3, "question " + askQID + " expired"},
		{"cancelled", []string{"201:" + open}, []string{"200:" + askQuestion("cancelled", "", "system:deployment-ended", false)}, nil, nil, 4, "was cancelled"},
		{"step over", []string{"201:" + open}, []string{"401:the ask token is not valid, or its step is no longer running"}, nil, nil, 4, "The question's step is over"},
		{"refused", []string{"422:Cannot ask: options[0].value: must be 1 to 200 characters on one line"}, nil, nil, nil, 1, "Error: Cannot ask: options[0].value"},
		{"gone for good", []string{"drop"}, nil, nil, []string{"--timeout", "1s"}, 1, "Giving up: the server has not answered since"},
		{"no env", nil, nil, map[string]string{}, nil, 1, "slipway ask runs inside a deployment's build or one-off step"},
		{"no options", nil, nil, nil, []string{"--option="}, 2, "want LABEL or LABEL=VALUE"},
		{"bad field", nil, nil, nil, []string{"--field", "env:select"}, 2, "a select field needs its options"},
		{"bad default", nil, nil, nil, []string{"--default", "maybe"}, 2, `--default "maybe" is not the value of an --option`},
		{"no question", nil, nil, nil, []string{"--option", "x", "--field", "a:text"}, 2, "not both"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			create, polls := tt.create, tt.polls
			if create == nil {
				create = []string{"201:" + open}
			}
			if polls == nil {
				polls = []string{"200:" + open}
			}
			_, url := newAskServer(t, create, polls...)
			args := []string{"Continue?"}
			if !strings.HasPrefix(tt.name, "no ") && tt.name != "bad field" && tt.name != "bad default" || tt.name == "no env" {
				args = append(args, "--option", "yes", "--option", "no")
			}
			if tt.name == "bad default" {
				args = append(args, "--option", "yes")
			}
			args = append(args, tt.args...)
			vars := tt.vars
			if vars != nil && len(vars) == 0 {
				vars = map[string]string{"SLIPWAY_URL": ""}
			}
			res := runAsk(t, url, vars, args...)
			if res.code != tt.code || !strings.Contains(res.stderr, tt.stderr) {
				t.Errorf("exit %d, want %d; stderr lacks %q?\n%s", res.code, tt.code, tt.stderr, res.stderr)
			}
			if tt.code != 0 && res.stdout != "" {
				t.Errorf("stdout %q, want nothing", res.stdout)
			}
		})
	}
}
