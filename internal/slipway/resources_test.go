package slipway

import (
	"math"
	"strings"
	"testing"
)

func TestParseMemory(t *testing.T) {
	tests := []struct {
		in      string
		want    int64
		wantErr string // a substring of the error; "" means no error
	}{
		{in: "512Mi", want: 512 << 20},
		{in: "1Gi", want: 1 << 30},
		{in: "1.5Gi", want: 3 << 29},
		{in: "1Ki", want: 1024},
		{in: "2Ti", want: 2 << 40},
		{in: "1Pi", want: 1 << 50},
		{in: "7Ei", want: 7 << 60},
		{in: "1k", want: 1000},
		{in: "1M", want: 1e6},
		{in: "1.5G", want: 1.5e9},
		{in: "1T", want: 1e12},
		{in: "1P", want: 1e15},
		{in: "9E", want: 9e18},
		{in: "128974848", want: 128974848},
		{in: "129e6", want: 129e6},
		{in: "129E6", want: 129e6},
		{in: "1e+9", want: 1e9},
		{in: "12e-1", want: 2},  // 1.2 bytes round up
		{in: "0.5", want: 1},    // half a byte rounds up
		{in: "1e-300", want: 1}, // however little
		{in: "+64Mi", want: 64 << 20},
		{in: "1.", want: 1},
		{in: ".5Ki", want: 512},
		{in: "0001Mi", want: 1 << 20},
		{in: "9223372036854775807", want: math.MaxInt64},
		{in: "7.999999999999999999Ei", want: 9223372036854775807}, // rounds up to the last byte that fits

		{in: "8Ei", wantErr: "less than 8Ei"},
		{in: "9223372036854775808", wantErr: "less than 8Ei"},
		{in: "1e19", wantErr: "less than 8Ei"},
		{in: "1e999999999999999999999", wantErr: "less than 8Ei"},
		{in: "99999999999999999999Ti", wantErr: "less than 8Ei"},
		{in: "0", wantErr: "more than 0"},
		{in: "0Mi", wantErr: "more than 0"},
		{in: "-1Gi", wantErr: "more than 0"},
		{in: "-0", wantErr: "more than 0"},
		{in: "0e-999999999999999999999", wantErr: "more than 0"},
		{in: "512m", wantErr: `thousandths of a byte: did you mean "512Mi"?`},
		{in: "1u", wantErr: "millionths"},
		{in: "1n", wantErr: "billionths"},
		{in: "", wantErr: "Kubernetes quantity"},
		{in: "512MB", wantErr: `got "512MB"`},
		{in: "512K", wantErr: "Kubernetes quantity"},
		{in: "1.5 Gi", wantErr: "Kubernetes quantity"},
		{in: " 1Gi", wantErr: "Kubernetes quantity"},
		{in: "1Gi ", wantErr: "Kubernetes quantity"},
		{in: "Gi", wantErr: "Kubernetes quantity"},
		{in: ".", wantErr: "Kubernetes quantity"},
		{in: "+", wantErr: "Kubernetes quantity"},
		{in: "1e", wantErr: "Kubernetes quantity"},
		{in: "1e+", wantErr: "Kubernetes quantity"},
		{in: "1e1.5", wantErr: "Kubernetes quantity"},
		{in: "1e3Ki", wantErr: "Kubernetes quantity"},
		{in: "1ki", wantErr: "Kubernetes quantity"},
		{in: "1..2", wantErr: "Kubernetes quantity"},
		{in: "0x10", wantErr: "Kubernetes quantity"},
		{in: "1_000", wantErr: "Kubernetes quantity"},
		{in: "Infinity", wantErr: "Kubernetes quantity"},
		{in: "NaN", wantErr: "Kubernetes quantity"},
		{in: "1\x00", wantErr: "Kubernetes quantity"},
		{in: "１Gi", wantErr: "Kubernetes quantity"}, // a full-width digit
		{in: strings.Repeat("1", MaxQuantityLength+1), wantErr: "Kubernetes quantity"},
	}
	for _, tt := range tests {
		t.Run(tt.in, func(t *testing.T) {
			got, err := ParseMemory(tt.in)
			switch {
			case tt.wantErr == "" && err != nil:
				t.Fatalf("ParseMemory(%q) error: %v", tt.in, err)
			case tt.wantErr == "" && got != tt.want:
				t.Errorf("ParseMemory(%q) = %d, want %d", tt.in, got, tt.want)
			case tt.wantErr != "" && err == nil:
				t.Fatalf("ParseMemory(%q) = %d, want an error containing %q", tt.in, got, tt.wantErr)
			case tt.wantErr != "" && !strings.Contains(err.Error(), tt.wantErr):
				t.Errorf("ParseMemory(%q) error = %q, want it to contain %q", tt.in, err, tt.wantErr)
			case tt.wantErr != "" && !strings.HasPrefix(err.Error(), "memory must be"):
				t.Errorf("ParseMemory(%q) error = %q, want it to name the field", tt.in, err)
			}
		})
	}
}

func TestParseCPU(t *testing.T) {
	tests := []struct {
		in      string
		want    int64
		wantErr string
	}{
		{in: "1", want: 1000},
		{in: "0.5", want: 500},
		{in: ".5", want: 500},
		{in: "500m", want: 500},
		{in: "100m", want: 100},
		{in: "1.5", want: 1500},
		{in: "2", want: 2000},
		{in: "0.1m", want: 1},     // rounds up to a millicore
		{in: "1u", want: 1},       // so does a microcore
		{in: "1500000n", want: 2}, // 1.5m rounds up
		{in: "1e-1", want: 100},
		{in: "5E-1", want: 500},
		{in: "1k", want: 1e6},
		{in: "1Ki", want: 1024000},
		{in: "+1", want: 1000},
		{in: "9223372036854775807m", want: math.MaxInt64},

		{in: "9223372036854775808m", wantErr: "less than"},
		{in: "9223372036854776", wantErr: "less than"},
		{in: "1E", wantErr: "less than"}, // exa-cores
		{in: "0", wantErr: "more than 0"},
		{in: "0m", wantErr: "more than 0"},
		{in: "-1", wantErr: "more than 0"},
		{in: "-500m", wantErr: "more than 0"},
		{in: "lots", wantErr: `got "lots"`},
		{in: "", wantErr: "Kubernetes quantity"},
		{in: "1 ", wantErr: "Kubernetes quantity"},
		{in: "1cpu", wantErr: "Kubernetes quantity"},
		{in: "500M ", wantErr: "Kubernetes quantity"},
		{in: "1,5", wantErr: "Kubernetes quantity"},
		{in: "m", wantErr: "Kubernetes quantity"},
	}
	for _, tt := range tests {
		t.Run(tt.in, func(t *testing.T) {
			got, err := ParseCPU(tt.in)
			switch {
			case tt.wantErr == "" && err != nil:
				t.Fatalf("ParseCPU(%q) error: %v", tt.in, err)
			case tt.wantErr == "" && got != tt.want:
				t.Errorf("ParseCPU(%q) = %d, want %d", tt.in, got, tt.want)
			case tt.wantErr != "" && err == nil:
				t.Fatalf("ParseCPU(%q) = %d, want an error containing %q", tt.in, got, tt.wantErr)
			case tt.wantErr != "" && !strings.Contains(err.Error(), tt.wantErr):
				t.Errorf("ParseCPU(%q) error = %q, want it to contain %q", tt.in, err, tt.wantErr)
			case tt.wantErr != "" && !strings.HasPrefix(err.Error(), "cpu must be"):
				t.Errorf("ParseCPU(%q) error = %q, want it to name the field", tt.in, err)
			}
		})
	}
}

func TestFormatMemory(t *testing.T) {
	tests := []struct {
		in   int64
		want string
	}{
		{0, "0"},
		{1, "1"},
		{1000, "1k"},
		{1024, "1Ki"},
		{512 << 20, "512Mi"},
		{1536 << 20, "1536Mi"},
		{6 << 30, "6Gi"},
		{1500e6, "1500M"},
		{1 << 60, "1Ei"},
		{math.MaxInt64, "9223372036854775807"},
		{1001, "1001"},
	}
	for _, tt := range tests {
		if got := FormatMemory(tt.in); got != tt.want {
			t.Errorf("FormatMemory(%d) = %q, want %q", tt.in, got, tt.want)
		}
		if tt.in > 0 {
			back, err := ParseMemory(FormatMemory(tt.in))
			if err != nil || back != tt.in {
				t.Errorf("ParseMemory(FormatMemory(%d)) = %d, %v", tt.in, back, err)
			}
		}
	}
}

func TestFormatCPU(t *testing.T) {
	for in, want := range map[int64]string{1: "1m", 500: "500m", 1000: "1", 1500: "1500m", 4000: "4"} {
		if got := FormatCPU(in); got != want {
			t.Errorf("FormatCPU(%d) = %q, want %q", in, got, want)
		}
		if back, err := ParseCPU(want); err != nil || back != in {
			t.Errorf("ParseCPU(%q) = %d, %v, want %d", want, back, err, in)
		}
	}
}

func TestRunSpec_Resources(t *testing.T) {
	defaults := Resources{MemoryBytes: 512 << 20, MilliCPU: 500}
	tests := []struct {
		name string
		run  RunSpec
		want Resources
	}{
		{"Unset", RunSpec{}, defaults},
		{"Both", RunSpec{Memory: "64Mi", CPU: "250m"}, Resources{MemoryBytes: 64 << 20, MilliCPU: 250}},
		{"MemoryOnly", RunSpec{Memory: "1Gi"}, Resources{MemoryBytes: 1 << 30, MilliCPU: 500}},
		{"CPUOnly", RunSpec{CPU: "2"}, Resources{MemoryBytes: 512 << 20, MilliCPU: 2000}},
		// An older Slipway stored "512K" and "0"; they count as unset.
		{"InvalidIsUnset", RunSpec{Memory: "512K", CPU: "0"}, defaults},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := tt.run.Resources(defaults); got != tt.want {
				t.Errorf("Resources() = %+v, want %+v", got, tt.want)
			}
		})
	}
}

// TestSpecHash_Unchanged pins the spec hash of components that set no
// resources (and of one that does): a changed hash restarts every
// component on upgrade.
func TestSpecHash_Unchanged(t *testing.T) {
	tests := []struct {
		c    Component
		want string
	}{
		{Component{Name: "web", Type: Continuous, Run: RunSpec{Command: "web", Port: 8000}}, "4732c98601534a2f"},
		{Component{Name: "web", Type: Continuous, Run: RunSpec{Command: "web", Memory: "1Gi", CPU: "500m"}}, "7ad40ac941c465ed"},
	}
	for _, tt := range tests {
		if got := tt.c.SpecHash(); got != tt.want {
			t.Errorf("SpecHash(%+v) = %s, want %s", tt.c.Run, got, tt.want)
		}
	}
}

func TestLimits(t *testing.T) {
	d := DefaultLimits()
	if err := d.Validate(); err != nil {
		t.Fatalf("DefaultLimits().Validate() = %v", err)
	}
	if got := (Limits{}).WithDefaults(); got != d {
		t.Errorf("Limits{}.WithDefaults() = %+v, want the defaults", got)
	}
	custom := Limits{Quota: Quota{Replicas: 3}}.WithDefaults()
	if custom.Quota.Replicas != 3 || custom.Quota.Continuous != d.Quota.Continuous {
		t.Errorf("WithDefaults() = %+v, want replicas 3 and the other defaults", custom.Quota)
	}
	bad := d
	bad.Default.MemoryBytes = 8 << 30
	bad.Quota.MilliCPU = 100
	bad.Quota.Scheduled = -1
	if err := bad.Validate(); err == nil || !strings.Contains(err.Error(), "scheduled components quota must be more than 0") {
		t.Errorf("Validate() = %v, want the negative quota named", err)
	}
	bad.Quota.Scheduled = 1
	err := bad.Validate()
	for _, want := range []string{"memory: the minimum (16Mi) ≤ the default (8Gi) ≤ the maximum (4Gi) does not hold", "the default cpu (500m) is over the cpu quota (100m)"} {
		if err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("Validate() = %v, want it to contain %q", err, want)
		}
	}
}

// FuzzParseMemory checks that ParseMemory never panics, returns a positive
// number of bytes or an error naming the field, and reads FormatMemory's
// output back.
func FuzzParseMemory(f *testing.F) {
	for _, s := range []string{"512Mi", "1.5Gi", "1e9", "0", "-1", "512m", "8Ei", "1e-300", ".5", "+1E3", "9223372036854775807", "1e99999999999999999999"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		b, err := ParseMemory(s)
		if err != nil {
			if !strings.HasPrefix(err.Error(), "memory must be") {
				t.Fatalf("ParseMemory(%q) error %q does not name the field", s, err)
			}
			return
		}
		if b <= 0 {
			t.Fatalf("ParseMemory(%q) = %d, want more than 0", s, b)
		}
		back, err := ParseMemory(FormatMemory(b))
		if err != nil || back != b {
			t.Fatalf("ParseMemory(FormatMemory(%d)) = %d, %v", b, back, err)
		}
	})
}

// FuzzParseCPU is FuzzParseMemory for ParseCPU.
func FuzzParseCPU(f *testing.F) {
	for _, s := range []string{"1", "0.5", "500m", "1e-1", "0", "-1", "1u", "9223372036854775807m", "1E", "1e-99999999999999999999"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		m, err := ParseCPU(s)
		if err != nil {
			if !strings.HasPrefix(err.Error(), "cpu must be") {
				t.Fatalf("ParseCPU(%q) error %q does not name the field", s, err)
			}
			return
		}
		if m <= 0 {
			t.Fatalf("ParseCPU(%q) = %d, want more than 0", s, m)
		}
		back, err := ParseCPU(FormatCPU(m))
		if err != nil || back != m {
			t.Fatalf("ParseCPU(FormatCPU(%d)) = %d, %v", m, back, err)
		}
	})
}

func TestParseMemory_Hints(t *testing.T) {
	for in, want := range map[string]string{
		"512MB":  `did you mean "512Mi" (powers of 1024) or "512M" (powers of 1000)?`,
		"1GiB":   `did you mean "1Gi" (powers of 1024) or "1G" (powers of 1000)?`,
		"512K":   `did you mean "512Ki" (powers of 1024) or "512k" (powers of 1000)?`,
		"2gb":    "",
		"1.5 Gi": "",
		"MB":     "",
	} {
		_, err := ParseMemory(in)
		if err == nil {
			t.Fatalf("ParseMemory(%q): no error", in)
		}
		if got := strings.Contains(err.Error(), "did you mean"); want == "" && got {
			t.Errorf("ParseMemory(%q) error = %q, want no hint", in, err)
		} else if want != "" && !strings.HasSuffix(err.Error(), want) {
			t.Errorf("ParseMemory(%q) error = %q, want it to end with %q", in, err, want)
		}
	}
}
