package dagsvg

import (
	"regexp"
	"strconv"
	"strings"
	"testing"
)

func itoa(i int) string { return strconv.Itoa(i) }

// decodeNodeID inverts NodeID, proving it injective.
func decodeNodeID(t *testing.T, id string) string {
	t.Helper()
	rest, ok := strings.CutPrefix(id, "dag-")
	if !ok {
		t.Fatalf("%q lacks the dag- prefix", id)
	}
	var b []byte
	for i := 0; i < len(rest); i++ {
		if rest[i] != '_' {
			b = append(b, rest[i])
			continue
		}
		if i+3 >= len(rest) || rest[i+3] != '_' {
			t.Fatalf("%q: bad escape at %d", id, i)
		}
		v, err := strconv.ParseUint(rest[i+1:i+3], 16, 8)
		if err != nil {
			t.Fatalf("%q: bad escape at %d: %v", id, i, err)
		}
		b = append(b, byte(v))
		i += 3
	}
	return string(b)
}

var validID = regexp.MustCompile(`^[A-Za-z][A-Za-z0-9_-]*$`)

func TestNodeID(t *testing.T) {
	for key, want := range map[string]string{
		"build:web":        "dag-build_3a_web",
		"run:web-2":        "dag-run_3a_web-2",
		"run:a_b":          "dag-run_3a_a_5f_b",
		"prune:Old":        "dag-prune_3a_Old",
		"":                 "dag-",
		"x y":              "dag-x_20_y",
		"é":                "dag-_c3__a9_",
		`<script>"&'`:      "dag-_3c_script_3e__22__26__27_",
		"build:web_3a_web": "dag-build_3a_web_5f_3a_5f_web",
	} {
		if got := NodeID(key); got != want {
			t.Errorf("NodeID(%q) = %q, want %q", key, got, want)
		}
	}
}

func FuzzNodeID(f *testing.F) {
	for _, s := range append([]string{"build:web", "run:web", "", "_", "__", "_3a_", "dag-x", "\xff"}, nasty...) {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, key string) {
		id := NodeID(key)
		if !validID.MatchString(id) {
			t.Errorf("NodeID(%q) = %q, not a plain HTML id", key, id)
		}
		if back := decodeNodeID(t, id); back != key {
			t.Errorf("NodeID(%q) = %q decodes to %q", key, id, back)
		}
		if strings.HasPrefix(id, "dagsvg-") {
			t.Errorf("NodeID(%q) = %q could clash with the drawing's own ids", key, id)
		}
	})
}

func TestStateClass(t *testing.T) {
	for state, want := range map[string]string{
		"running":   "state-running",
		"timed_out": "state-timed_out",
		"":          "state-unknown",
		`a "b"<c>`:  "state-a--b--c-",
	} {
		if got := stateClass(state); got != want {
			t.Errorf("stateClass(%q) = %q, want %q", state, got, want)
		}
	}
}
