package target

import (
	"strings"
	"testing"
)

func TestActualSchedule(t *testing.T) {
	t.Parallel()
	for _, tt := range []struct {
		schedule string
		fields   int
		wantErr  bool
	}{
		{"*/5 * * * *", 5, false},
		{"@hourly", 5, false},
		{"@daily", 5, false},
		{"@weekly", 5, false},
		{"@monthly", 5, false},
		{"@yearly", 5, false},
		{"@reboot", 0, true},
		{"* * *", 0, true},
		{"61 * * * *", 0, true},
	} {
		got, err := ActualSchedule("tool", "job", tt.schedule)
		if (err != nil) != tt.wantErr {
			t.Errorf("ActualSchedule(%q) error = %v, wantErr %v", tt.schedule, err, tt.wantErr)
			continue
		}
		if err != nil {
			continue
		}
		if len(strings.Fields(got)) != tt.fields || strings.HasPrefix(got, "@") {
			t.Errorf("ActualSchedule(%q) = %q, want 5 concrete fields", tt.schedule, got)
		}
		again, _ := ActualSchedule("tool", "job", tt.schedule)
		if again != got {
			t.Errorf("ActualSchedule(%q) not stable: %q then %q", tt.schedule, got, again)
		}
	}
	a, _ := ActualSchedule("tool", "a", "@daily")
	b, _ := ActualSchedule("tool", "b", "@daily")
	c, _ := ActualSchedule("other", "a", "@daily")
	if a == b && b == c {
		t.Errorf("ActualSchedule(@daily) = %q for every component; want them spread", a)
	}
}
