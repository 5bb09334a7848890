package dagsvg

// Node is one step of a deployment, as the graph needs it.
type Node struct {
	// ID is the step's key ("build:web"); unique in a graph.
	ID string
	// Label is the node's main text; empty means ID.
	Label string
	// Sub is the second line: the action or reason ("build", "commit 3f2a1c→9b0d44").
	Sub string
	// State is the step's state ("running"), drawn as the class state-<State>.
	State string
	// Needs are the IDs of the nodes this one waits for.
	Needs []string
}

const hexDigits = "0123456789abcdef"

// NodeID returns the id of the SVG element that draws the step with this key:
// "dag-" and the key, in which every byte other than an ASCII letter, digit
// or '-' is written as '_', two hex digits and '_' ("build:web" gives
// "dag-build_3a_web"). It is a valid HTML id that needs no escaping in a CSS
// selector, and two different keys never give the same id.
func NodeID(key string) string {
	b := make([]byte, 0, len("dag-")+len(key)+8)
	b = append(b, "dag-"...)
	for i := 0; i < len(key); i++ {
		c := key[i]
		if isIDByte(c) {
			b = append(b, c)
			continue
		}
		b = append(b, '_', hexDigits[c>>4], hexDigits[c&0xf], '_')
	}
	return string(b)
}

func isIDByte(c byte) bool {
	return 'a' <= c && c <= 'z' || 'A' <= c && c <= 'Z' || '0' <= c && c <= '9' || c == '-'
}

// stateClass returns the class naming state s: "state-" and s with every
// byte that is not an ASCII letter, digit, '-' or '_' replaced by '-'.
func stateClass(s string) string {
	if s == "" {
		s = "unknown"
	}
	b := make([]byte, 0, len("state-")+len(s))
	b = append(b, "state-"...)
	for i := 0; i < len(s); i++ {
		c := s[i]
		if !isIDByte(c) && c != '_' {
			c = '-'
		}
		b = append(b, c)
	}
	return string(b)
}
