package cli

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"slices"
	"strings"
	"testing"
)

// evil is server-provided text that tries to drive the terminal: set its
// title (OSC 0), clear the screen, ring the bell, a one-byte CSI (U+009B),
// a right-to-left override that makes "exe.png" read "gnp.exe", a carriage
// return that would write over the start of the line, NUL and DEL; with
// plain text, a tab and non-ASCII letters that must stay as they are.
const evil = "title\x1b]0;pwned\x07 clear\x1b[2J csi\u009b31m bidi\u202egnp.exe cr\rhidden nul\x00 del\x7f tab\tok héllo ✓"

// evilLog is a log with that, a CRLF line end (kept) and a byte that is
// not UTF-8, as the jobs API sends it: a JSON line each, the last two of a
// replica (the job's name as pod: a one-off or scheduled job) and of
// replica 1.
var evilLog = func() string {
	var b strings.Builder
	for i, msg := range []string{"line one", evil, "dos line\r", "bad byte \xff end"} {
		pod := "evil"
		if i == 3 {
			pod = "evil-1"
		}
		line, _ := json.Marshal(map[string]string{"pod": pod, "container": "evil", "datetime": "2026-11-22T12:00:00+00:00", "message": msg})
		b.Write(line)
		b.WriteByte('\n')
	}
	return b.String()
}()

// jsonString is s as a JSON string.
func jsonString(s string) string {
	b, _ := json.Marshal(s) // a string always encodes
	return string(b)
}

// evilServer answers every route the escaping tests use with evil text.
func evilServer(t *testing.T) *httptest.Server {
	t.Helper()
	e := jsonString(evil)
	dep := `{"builds":{"web":{"build_id":"b-1","build_image":"no-image-yet","build_long_status":` + e + `,"build_status":"failed"}},"creation_time":"20261122-130049","deploy_id":"` + depID + `","description":` + e + `,"force_build":false,"force_run":false,"long_status":` + e + `,"runs":{"web":{"run_long_status":` + e + `,"run_status":"skipped"}},"status":"failed","steps":[],"tool_config":{}}`
	evilMsgs := `"messages":{"error":[],"info":[` + e + `],"warning":[` + e + `]}`
	build := strings.Replace(builtJSON, `"message":"Built web"`, `"message":`+e, 1)
	job := `{"name":` + e + `,"cmd":` + e + `,"imagename":"web","job_type":"continuous","status_short":` + e + `,"status":{"short":"running","messages":[],"up_to_date":true}}`
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		switch p := r.URL.Path; {
		case strings.HasSuffix(p, "/jobs/evil/logs"):
			w.Header().Set("Content-Type", "text/plain; charset=utf-8")
			// In two writes, cutting the U+009B and the CRLF in half.
			half := strings.Index(evilLog, "\u009b") + 1
			_, _ = io.WriteString(w, evilLog[:half])
			w.(http.Flusher).Flush()
			_, _ = io.WriteString(w, evilLog[half:])
		case strings.HasSuffix(p, "/jobs"):
			reply(w, 200, `{"jobs":[`+job+`],`+evilMsgs+`}`)
		case strings.HasSuffix(p, "/deployment/latest"):
			reply(w, 200, `{"data":`+dep+`,`+evilMsgs+`}`)
		case strings.HasSuffix(p, "/builds/"+builtID):
			reply(w, 200, `{"build":`+build+`,`+msgs+`}`)
		default:
			reply(w, 404, `{"messages":{"error":[`+e+`],"info":[],"warning":[]}}`)
		}
	}))
	t.Cleanup(srv.Close)
	return srv
}

// TestEscaping runs commands against a server whose texts carry terminal
// control sequences, and compares what reaches the terminal with golden
// files: escaped, with --raw as sent, and with --json as valid JSON.
func TestEscaping(t *testing.T) {
	t.Parallel()
	srv := evilServer(t)
	for _, tt := range []struct {
		name string
		args []string
	}{
		{"EvilJobsLogs", []string{"jobs", "logs", "evil"}},
		{"EvilJobsLogsRaw", []string{"--raw", "jobs", "logs", "evil"}},
		{"EvilJobsLogsJSON", []string{"--json", "jobs", "logs", "evil"}},
		{"EvilJobsList", []string{"jobs", "list", "-o", "long"}},
		{"EvilDeploymentShow", []string{"components", "deployment", "show"}},
		{"EvilDeploymentShowRaw", []string{"--raw", "components", "deployment", "show"}},
		{"EvilDeploymentShowJSON", []string{"components", "deployment", "show", "--json"}},
		{"EvilBuildsShow", []string{"builds", "show", builtID}},
		{"EvilError", []string{"components", "config", "show"}},
		{"EvilErrorRaw", []string{"--raw", "components", "config", "show"}},
	} {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			res := run(t, srv.URL, "", tt.args...)
			golden(t, tt.name, fmt.Sprintf("$ slipway %s\nexit %d\n-- stdout --\n%s-- stderr --\n%s", strings.Join(tt.args, " "), res.code, res.stdout, res.stderr))
			raw := slices.Contains(tt.args, "--raw")
			for _, out := range []string{res.stdout, res.stderr} {
				if hasControl(out) && !raw {
					t.Errorf("a control character reached the terminal: %q", out)
				}
			}
			if raw && !strings.Contains(res.stdout+res.stderr, "\x1b]0;pwned\x07") {
				t.Errorf("--raw did not pass the text as sent: %q", res.stdout+res.stderr)
			}
			if slices.Contains(tt.args, "--json") {
				// Valid JSON still, holding the server's text unchanged.
				dec := json.NewDecoder(strings.NewReader(res.stdout))
				var all []byte
				for dec.More() {
					var v any
					if err := dec.Decode(&v); err != nil {
						t.Fatalf("--json output is not JSON: %v\n%s", err, res.stdout)
					}
					b, _ := json.Marshal(v) // decoded JSON encodes again
					all = append(all, b...)
				}
				if !bytes.Contains(all, []byte(jsonString(evil)[1:len(jsonString(evil))-1])) {
					t.Errorf("--json output lost the value: %s", all)
				}
			}
		})
	}
}

// hasControl reports whether s holds a C0 control other than newline and
// tab (and the CR of a CRLF), DEL, a C1 control or a bidi override.
func hasControl(s string) bool {
	s = strings.ReplaceAll(s, "\r\n", "\n")
	for _, r := range s {
		if r == '\n' || r == '\t' {
			continue
		}
		if r < 0x20 || r == 0x7f || dangerous(r) {
			return true
		}
	}
	return false
}

// Ensure the escaper keeps a sequence cut between two writes whole, and
// writes out a cut one at the end.
func TestEscaper_Pieces(t *testing.T) {
	t.Parallel()
	for _, tt := range []struct {
		name   string
		pieces []string
		json   bool
		want   string
	}{
		{name: "CRLFSplit", pieces: []string{"a\r", "\nb"}, want: "a\r\nb"},
		{name: "LoneCR", pieces: []string{"a\r", "b"}, want: `a\rb`},
		{name: "CRAtEnd", pieces: []string{"a\r"}, want: `a\r`},
		{name: "C1Split", pieces: []string{"a\xc2", "\x9bb"}, want: `a\u009bb`},
		{name: "LetterSplit", pieces: []string{"h\xc3", "\xa9"}, want: "hé"},
		{name: "CutAtEnd", pieces: []string{"a\xe2\x9c"}, want: `a\xe2\x9c`},
		{name: "Invalid", pieces: []string{"\xff\xfe"}, want: `\xff\xfe`},
		{name: "JSONInvalid", pieces: []string{`{"a":"` + "\xff\u009b\x7f" + `"}`}, json: true, want: `{"a":"\ufffd\u009b\u007f"}`},
		{name: "JSONWhitespace", pieces: []string{"{\r\n\t\"a\": 1\n}"}, json: true, want: "{\r\n\t\"a\": 1\n}"},
		{name: "Shorts", pieces: []string{"\a\b\f\v\x01"}, want: `\a\b\f\v\x01`},
	} {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			var b bytes.Buffer
			raw := false
			e := &escaper{w: &b, raw: &raw, json: func() bool { return tt.json }}
			for _, p := range tt.pieces {
				if n, err := e.Write([]byte(p)); err != nil || n != len(p) {
					t.Fatalf("Write(%q) = %d, %v", p, n, err)
				}
			}
			if err := e.flush(); err != nil {
				t.Fatal(err)
			}
			if got := b.String(); got != tt.want {
				t.Errorf("escaped %q = %q, want %q", tt.pieces, got, tt.want)
			}
		})
	}
}
