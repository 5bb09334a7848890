package localexec

import (
	"testing"
	"time"
)

// Ensure freePorts never hands out a port twice within the quarantine,
// even when the kernel offers it again: two replicas started at once
// must not both get one port.
func TestFreePorts_NoRepeats(t *testing.T) {
	t.Parallel()
	seen := map[int]bool{}
	for range 50 {
		ports, err := freePorts(t.Context(), 4)
		if err != nil {
			t.Fatal(err)
		}
		for _, p := range ports {
			if seen[p] {
				t.Fatalf("port %d handed out twice", p)
			}
			seen[p] = true
		}
	}
	s := portSet{at: map[int]time.Time{}}
	if !s.take(4242) || s.take(4242) {
		t.Error("portSet.take(4242) twice = true, then not false")
	}
}
