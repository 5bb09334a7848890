package diskspace_test

import (
	"errors"
	"strings"
	"testing"

	"golang.org/x/sys/unix"

	"slipway.dev/slipway/internal/diskspace"
	"slipway.dev/slipway/internal/slipway"
)

func TestParseSize(t *testing.T) {
	t.Parallel()
	for _, tt := range []struct {
		in   string
		want int64
		bad  bool
	}{
		{in: "0", want: 0},
		{in: "1048576", want: 1 << 20},
		{in: "10MiB", want: 10 << 20},
		{in: "10 MiB", want: 10 << 20},
		{in: "10mib", want: 10 << 20},
		{in: "10Mi", want: 10 << 20},
		{in: "1GiB", want: 1 << 30},
		{in: "1Gi", want: 1 << 30},
		{in: "2G", want: 2e9},
		{in: "500MB", want: 500e6},
		{in: "4KiB", want: 4096},
		{in: "7B", want: 7},
		{in: "", bad: true},
		{in: "MiB", bad: true},
		{in: "-1", bad: true},
		{in: "1.5GiB", bad: true},
		{in: "ten", bad: true},
		{in: "9999999999TiB", bad: true},
	} {
		got, err := diskspace.ParseSize(tt.in)
		if tt.bad {
			if err == nil || !strings.Contains(err.Error(), "want a size such as 10MiB") {
				t.Errorf("ParseSize(%q) = %d, %v; want an error", tt.in, got, err)
			}
			continue
		}
		if err != nil || got != tt.want {
			t.Errorf("ParseSize(%q) = %d, %v; want %d", tt.in, got, err, tt.want)
		}
	}
}

func TestParseFloor(t *testing.T) {
	t.Parallel()
	for _, tt := range []struct {
		in, want string
		bad      bool
	}{
		{in: "1GiB", want: "1 GiB"},
		{in: "5%", want: "5%"},
		{in: "2.5 %", want: "2.5%"},
		{in: "0", want: "off"},
		{in: "off", want: "off"},
		{in: "100%", bad: true},
		{in: "0%", bad: true},
		{in: "x%", bad: true},
		{in: "lots", bad: true},
	} {
		f, err := diskspace.ParseFloor(tt.in)
		if tt.bad != (err != nil) || !tt.bad && f.String() != tt.want {
			t.Errorf("ParseFloor(%q) = %v, %v; want %q (error: %v)", tt.in, f, err, tt.want, tt.bad)
		}
	}
	if got := (diskspace.Floor{}).String(); got != "1 GiB" {
		t.Errorf("the zero Floor is %q, want the default 1 GiB", got)
	}
}

func TestFormatSize(t *testing.T) {
	t.Parallel()
	for n, want := range map[int64]string{
		512: "512 bytes", 4096: "4 KiB", 80 << 20: "80 MiB", 1 << 30: "1 GiB", 3 << 29: "1.5 GiB", 5 << 40: "5 TiB",
	} {
		if got := diskspace.FormatSize(n); got != want {
			t.Errorf("FormatSize(%d) = %q, want %q", n, got, want)
		}
	}
}

// fakeStatfs is a fake statfs: a filesystem of total bytes with free
// bytes available, in 4 KiB blocks.
func fakeStatfs(total, free uint64) func(string, *unix.Statfs_t) error {
	return func(_ string, st *unix.Statfs_t) error {
		st.Bsize = 4096
		st.Blocks = total / 4096
		st.Bavail = free / 4096
		return nil
	}
}

func TestChecker_Check(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	for _, tt := range []struct {
		name        string
		floor       string
		total, free uint64
		want        string // "" when under no floor
	}{
		{name: "Above", floor: "1GiB", total: 100 << 30, free: 2 << 30},
		{name: "Under", floor: "1GiB", total: 100 << 30, free: 80 << 20, want: "80 MiB free, the floor is 1 GiB; free some space or lower --min-free-disk"},
		{name: "PercentAbove", floor: "5%", total: 100 << 30, free: 6 << 30},
		{name: "PercentUnder", floor: "5%", total: 100 << 30, free: 4 << 30, want: "4 GiB free, the floor is 5 GiB (5% of 100 GiB)"},
		{name: "Off", floor: "off", total: 100 << 30, free: 0},
	} {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			f, err := diskspace.ParseFloor(tt.floor)
			if err != nil {
				t.Fatal(err)
			}
			c := diskspace.NewChecker(dir, f)
			c.StatfsFunc = fakeStatfs(tt.total, tt.free)
			err = c.Check()
			if tt.want == "" {
				if err != nil {
					t.Errorf("Check() = %v, want nil", err)
				}
				return
			}
			if err == nil || !strings.HasPrefix(err.Error(), "not enough free disk space on /") || !strings.Contains(err.Error(), tt.want) {
				t.Errorf("Check() = %v, want %q", err, tt.want)
			}
			if !errors.Is(err, diskspace.ErrLowDisk) || slipway.ErrorCode(err) != slipway.EUnavailable {
				t.Errorf("Check() = %v: want ErrLowDisk in the chain and code unavailable", err)
			}
		})
	}
}

// Ensure the real statfs of a real directory works and the message names
// a mount point.
func TestChecker_Real(t *testing.T) {
	t.Parallel()
	c := diskspace.NewChecker(t.TempDir(), diskspace.Floor{Percent: 99.999})
	free, total, err := c.Free()
	if err != nil || total == 0 || free > total {
		t.Fatalf("Free() = %d, %d, %v", free, total, err)
	}
	if err := c.Check(); err == nil || !strings.Contains(err.Error(), "not enough free disk space on /") {
		t.Errorf("Check() with a floor of almost all the disk = %v", err)
	}
}
