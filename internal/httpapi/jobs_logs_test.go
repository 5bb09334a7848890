package httpapi

import (
	"bytes"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"slipway.dev/slipway/internal/logfile"
)

// Ensure jobLogLines makes one JSON line of each log line, whatever the
// writes: lines cut between writes, several in one, the replica prefix
// of a continuous job's logs, an unfinished last line, characters that
// end a line for Python, and a line longer than a log keeps.
func TestJobLogLines(t *testing.T) {
	t.Parallel()
	at := time.Date(2026, 11, 22, 12, 0, 0, 123456789, time.FixedZone("CET", 3600))
	const dt = `"datetime":"2026-11-22T11:00:00+00:00"`
	tests := []struct {
		name       string
		continuous bool
		writes     []string
		want       string
	}{
		{
			name: "OneOff", writes: []string{"a\nb", "c\n", "", "\n"},
			want: `{"pod":"web","container":"web",` + dt + `,"message":"a"}` + "\n" +
				`{"pod":"web","container":"web",` + dt + `,"message":"bc"}` + "\n" +
				`{"pod":"web","container":"web",` + dt + `,"message":""}` + "\n",
		},
		{
			name: "ContinuousOneReplica", continuous: true, writes: []string{"web up\r\n[replica x] not a prefix\n"},
			want: `{"pod":"web-0","container":"web",` + dt + `,"message":"web up\r"}` + "\n" +
				`{"pod":"web-0","container":"web",` + dt + `,"message":"[replica x] not a prefix"}` + "\n",
		},
		{
			name: "ContinuousReplicas", continuous: true, writes: []string{"[replica 0] a\n[repl", "ica 12] b\n"},
			want: `{"pod":"web-0","container":"web",` + dt + `,"message":"a"}` + "\n" +
				`{"pod":"web-12","container":"web",` + dt + `,"message":"b"}` + "\n",
		},
		{
			name: "UnfinishedLast", writes: []string{"done\nhalf"},
			want: `{"pod":"web","container":"web",` + dt + `,"message":"done"}` + "\n" +
				`{"pod":"web","container":"web",` + dt + `,"message":"half"}` + "\n",
		},
		{
			name: "LineEnds", writes: []string{"a\u0085b\u2028c\x0bd\x1ce <&> \xff\n"},
			want: `{"pod":"web","container":"web",` + dt + `,"message":"a\u0085b\u2028c\u000bd\u001ce <&> \ufffd"}` + "\n",
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			var out bytes.Buffer
			l := &jobLogLines{w: &out, job: "web", continuous: tt.continuous, now: func() time.Time { return at }}
			for _, w := range tt.writes {
				if n, err := l.Write([]byte(w)); n != len(w) || err != nil {
					t.Fatalf("Write(%q) = %d, %v", w, n, err)
				}
			}
			if err := l.flush(); err != nil {
				t.Fatal(err)
			}
			if diff := cmp.Diff(tt.want, out.String()); diff != "" {
				t.Errorf("(-want +got):\n%s", diff)
			}
		})
	}

	t.Run("TooLong", func(t *testing.T) {
		t.Parallel()
		var out bytes.Buffer
		l := &jobLogLines{w: &out, job: "web", now: func() time.Time { return at }}
		long := strings.Repeat("x", logfile.DefaultMaxLine)
		if _, err := l.Write([]byte(long[:10])); err != nil {
			t.Fatal(err)
		}
		if _, err := l.Write([]byte(long[10:])); err != nil {
			t.Fatal(err)
		}
		if got := strings.Count(out.String(), "\n"); got != 1 {
			t.Errorf("a line as long as a log keeps is written at once: %d lines written", got)
		}
		if _, err := l.Write([]byte("y\n")); err != nil {
			t.Fatal(err)
		}
		if !strings.HasSuffix(out.String(), `x"}`+"\n"+`{"pod":"web","container":"web","datetime":"2026-11-22T11:00:00+00:00","message":"y"}`+"\n") {
			t.Errorf("the rest of the line: %q", out.String()[out.Len()-120:])
		}
	})
}
