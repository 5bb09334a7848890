package dagsvg

import (
	"math"
	"regexp"
	"strconv"
	"strings"
	"testing"

	"slipway.dev/slipway/internal/slipway"
)

// luminance is WCAG 2's relative luminance of an #rrggbb colour.
func luminance(t *testing.T, hex string) float64 {
	t.Helper()
	v, err := strconv.ParseUint(strings.TrimPrefix(hex, "#"), 16, 32)
	if err != nil || len(hex) != 7 {
		t.Fatalf("colour %q: %v", hex, err)
	}
	lin := func(c uint64) float64 {
		s := float64(c) / 255
		if s <= 0.04045 {
			return s / 12.92
		}
		return math.Pow((s+0.055)/1.055, 2.4)
	}
	return 0.2126*lin(v>>16&0xff) + 0.7152*lin(v>>8&0xff) + 0.0722*lin(v&0xff)
}

func TestStyleColoursMeetAAOnWhite(t *testing.T) {
	colours := regexp.MustCompile(`(?:color|fill|stroke):(#[0-9a-f]{6})`).FindAllStringSubmatch(Style, -1)
	if len(colours) < 8 {
		t.Fatalf("found only %d colours in Style", len(colours))
	}
	for _, m := range colours {
		if m[1] == "#fff" || m[1] == "#ffffff" {
			continue
		}
		if ratio := 1.05 / (luminance(t, m[1]) + 0.05); ratio < 4.5 {
			t.Errorf("%s: contrast %.2f:1 on white, want ≥ 4.5:1", m[0], ratio)
		}
	}
}

// Every state of a step has its own colour and icon, so no two states look
// the same and none is told by colour alone.
func TestStyleGivesEveryStateAnIcon(t *testing.T) {
	icons := strings.Count(defs, "<path") - 1 // less the arrowhead
	seenColour := map[string]slipway.StepState{}
	seenShift := map[string]slipway.StepState{}
	for _, s := range []slipway.StepState{
		slipway.StepPending, slipway.StepRunning, slipway.StepDone, slipway.StepUnchanged,
		slipway.StepFailed, slipway.StepSkipped, slipway.StepCancelled, slipway.StepTimedOut,
	} {
		class := ".dag ." + stateClass(string(s))
		colour := "default"
		if m := regexp.MustCompile(regexp.QuoteMeta(class) + `\{color:(#[0-9a-f]{6})\}`).FindStringSubmatch(Style); m != nil {
			colour = m[1]
		}
		shift := "0"
		if m := regexp.MustCompile(regexp.QuoteMeta(class) + ` use\{transform:translateY\(-(\d+)px\)\}`).FindStringSubmatch(Style); m != nil {
			shift = m[1]
		}
		if other, ok := seenColour[colour]; ok {
			t.Errorf("%s and %s have the same colour %s", s, other, colour)
		}
		if other, ok := seenShift[shift]; ok {
			t.Errorf("%s and %s have the same icon", s, other)
		}
		seenColour[colour], seenShift[shift] = s, s
		if n, _ := strconv.Atoi(shift); n%16 != 0 || n/16 >= icons {
			t.Errorf("%s: icon shift %spx is not one of the %d icons", s, shift, icons)
		}
	}
}
