package localbuild

import (
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
)

func TestParseProcfile(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name    string
		in      string
		want    map[string]string
		wantErr string
	}{
		{"Empty", "", map[string]string{}, ""},
		{"Basic", "web: ./serve --port $PORT\nworker:run.sh\n", map[string]string{"web": "./serve --port $PORT", "worker": "run.sh"}, ""},
		{"CommentsAndBlanks", "# c\n\n  \nweb: a\n  # indented comment\n", map[string]string{"web": "a"}, ""},
		{"ColonInCommand", "web: sh -c 'echo a:b'\n", map[string]string{"web": "sh -c 'echo a:b'"}, ""},
		{"CRLF", "web: a\r\nclock: b\r\n", map[string]string{"web": "a", "clock": "b"}, ""},
		{"NoColon", "web: a\njust words\n", nil, "line 2"},
		{"EmptyCommand", "web:\n", nil, "line 1"},
		{"BadName", "my web: a\n", nil, "line 1"},
		{"Duplicate", "web: a\nweb: b\n", nil, "line 2: process \"web\" is defined twice"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			got, err := parseProcfile(strings.NewReader(tt.in))
			if tt.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
					t.Fatalf("parseProcfile(%q) error = %v, want one containing %q", tt.in, err, tt.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if diff := cmp.Diff(tt.want, got); diff != "" {
				t.Errorf("parseProcfile(%q) (-want +got):\n%s", tt.in, diff)
			}
		})
	}
}
