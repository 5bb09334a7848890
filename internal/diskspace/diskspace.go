// Package diskspace keeps the data directory's filesystem from filling up:
// a floor of free space under which the server refuses new builds (the
// big writes: a checkout, a git fetch into a mirror, the toolchains'
// output) and reports itself degraded, so that what is stored already
// (the SQLite database, artifacts, logs) keeps the room it needs.
//
// The free space is statfs's f_bavail (what an unprivileged writer may
// use), read at each check: one system call.
package diskspace

import (
	"errors"
	"fmt"
	"math"
	"path/filepath"
	"strconv"
	"strings"

	"golang.org/x/sys/unix"

	"slipway.dev/slipway/internal/slipway"
)

// DefaultFloor is the default free-space floor: 1 GiB. A build writes up
// to a few hundred MiB (node_modules, a Go build, a virtualenv), a log
// rotation copies up to 10 MiB, and SQLite's WAL needs room to commit, so
// 1 GiB lets what is under way finish; on the 10–20 GB disks of small
// virtual machines it is 5–10%. A big disk may want a percentage instead
// ("5%").
var DefaultFloor = Floor{Bytes: 1 << 30}

// Floor is a free-space floor: an amount of bytes, or a percentage of the
// filesystem's size. The zero Floor is [DefaultFloor]; Off turns the check
// off.
type Floor struct {
	Bytes   int64
	Percent float64
	Off     bool
}

// ParseFloor parses a floor: a size ("1GiB", "500MiB", "2G", "1073741824",
// see [ParseSize]), a percentage of the filesystem ("5%"), or "0" / "off"
// for none.
func ParseFloor(s string) (Floor, error) {
	s = strings.TrimSpace(s)
	switch strings.ToLower(s) {
	case "0", "off", "none":
		return Floor{Off: true}, nil
	}
	if p, ok := strings.CutSuffix(s, "%"); ok {
		v, err := strconv.ParseFloat(strings.TrimSpace(p), 64)
		if err != nil || v <= 0 || v >= 100 || math.IsNaN(v) {
			return Floor{}, fmt.Errorf("want a percentage above 0 and below 100, such as 5%%, got %q", s)
		}
		return Floor{Percent: v}, nil
	}
	n, err := ParseSize(s)
	if err != nil {
		return Floor{}, err
	}
	if n == 0 {
		return Floor{Off: true}, nil
	}
	return Floor{Bytes: n}, nil
}

// String returns the floor as ParseFloor reads it.
func (f Floor) String() string {
	switch {
	case f.Off:
		return "off"
	case f.Percent > 0:
		return strconv.FormatFloat(f.Percent, 'f', -1, 64) + "%"
	case f.Bytes > 0:
		return FormatSize(f.Bytes)
	}
	return DefaultFloor.String()
}

// bytes returns the floor in bytes for a filesystem of total bytes.
func (f Floor) bytes(total uint64) uint64 {
	switch {
	case f.Off:
		return 0
	case f.Percent > 0:
		return uint64(float64(total) * f.Percent / 100)
	case f.Bytes > 0:
		return uint64(f.Bytes)
	}
	return uint64(DefaultFloor.Bytes)
}

// units are the suffixes ParseSize knows, longest first.
var units = []struct {
	suffix string
	mult   int64
}{
	{"KiB", 1 << 10},
	{"MiB", 1 << 20},
	{"GiB", 1 << 30},
	{"TiB", 1 << 40},
	{"Ki", 1 << 10},
	{"Mi", 1 << 20},
	{"Gi", 1 << 30},
	{"Ti", 1 << 40},
	{"KB", 1e3},
	{"MB", 1e6},
	{"GB", 1e9},
	{"TB", 1e12},
	{"K", 1e3},
	{"M", 1e6},
	{"G", 1e9},
	{"T", 1e12},
	{"B", 1},
}

// ParseSize parses a size in bytes: a whole number with an optional unit,
// binary (KiB, MiB, GiB, TiB, or Kubernetes' Ki, Mi, Gi, Ti) or decimal
// (KB, MB, GB, TB, or Kubernetes' K, M, G, T), in any case. "10MiB" is
// 10485760, "10M" 10000000.
func ParseSize(s string) (int64, error) {
	s = strings.TrimSpace(s)
	num, mult := s, int64(1)
	for _, u := range units {
		if strings.HasSuffix(strings.ToUpper(s), strings.ToUpper(u.suffix)) && len(s) > len(u.suffix) {
			num, mult = strings.TrimSpace(s[:len(s)-len(u.suffix)]), u.mult
			break
		}
	}
	n, err := strconv.ParseInt(num, 10, 64)
	if err != nil || n < 0 || n > math.MaxInt64/mult {
		return 0, fmt.Errorf("want a size such as 10MiB, 1GiB or a number of bytes, got %q", s)
	}
	return n * mult, nil
}

// FormatSize writes n bytes for people: "80 MiB", "1 GiB", "1.5 GiB".
func FormatSize(n int64) string {
	for _, u := range []struct {
		name string
		size int64
	}{{"TiB", 1 << 40}, {"GiB", 1 << 30}, {"MiB", 1 << 20}, {"KiB", 1 << 10}} {
		if n >= u.size {
			return strconv.FormatFloat(math.Round(float64(n)/float64(u.size)*10)/10, 'f', -1, 64) + " " + u.name
		}
	}
	return strconv.FormatInt(n, 10) + " bytes"
}

// Checker checks the free space of the filesystem holding a directory
// against a floor. It is safe for concurrent use.
type Checker struct {
	dir   string
	floor Floor
	mount string
	// StatfsFunc stands for unix.Statfs; tests replace it.
	StatfsFunc func(path string, st *unix.Statfs_t) error
}

// NewChecker returns a Checker of dir's filesystem; the floor's zero value
// is [DefaultFloor].
func NewChecker(dir string, floor Floor) *Checker {
	return &Checker{dir: dir, floor: floor, mount: mountPoint(dir), StatfsFunc: unix.Statfs}
}

// Floor returns the checker's floor.
func (c *Checker) Floor() Floor { return c.floor }

// Free returns the bytes free to use on the filesystem and its size.
func (c *Checker) Free() (free, total uint64, err error) {
	var st unix.Statfs_t
	if err := c.StatfsFunc(c.dir, &st); err != nil {
		return 0, 0, fmt.Errorf("statfs %s: %w", c.dir, err)
	}
	bsize := uint64(st.Bsize)
	return st.Bavail * bsize, st.Blocks * bsize, nil
}

// ErrLowDisk is in the chain of the error [Checker.Check] returns when the
// free space is under the floor.
var ErrLowDisk = errors.New("not enough free disk space")

// Check returns nil when the filesystem has more free space than the
// floor (or the floor is off). Under the floor it returns an
// [slipway.EUnavailable] error wrapping [ErrLowDisk], whose message says
// how much is free, the floor and what to do:
//
//	not enough free disk space on /srv: 80 MiB free, the floor is 1 GiB; free some space or lower --min-free-disk
//
// A failed statfs is returned as it is.
func (c *Checker) Check() error {
	if c == nil || c.floor.Off {
		return nil
	}
	free, total, err := c.Free()
	if err != nil {
		return err
	}
	floor := c.floor.bytes(total)
	if free >= floor {
		return nil
	}
	shown := FormatSize(int64(floor))
	if c.floor.Percent > 0 {
		shown = fmt.Sprintf("%s (%s of %s)", shown, c.floor, FormatSize(int64(total)))
	}
	return &slipway.Error{
		Code: slipway.EUnavailable,
		Message: fmt.Sprintf("not enough free disk space on %s: %s free, the floor is %s; free some space or lower --min-free-disk",
			c.mount, FormatSize(int64(free)), shown),
		Err: ErrLowDisk,
	}
}

// mountPoint returns the mount point of the filesystem holding dir (the
// highest ancestor on the same device), or dir itself when that cannot be
// told.
func mountPoint(dir string) string {
	abs, err := filepath.Abs(dir)
	if err != nil {
		return dir
	}
	if r, err := filepath.EvalSymlinks(abs); err == nil {
		abs = r
	}
	dev := func(p string) (uint64, bool) {
		var st unix.Stat_t
		if unix.Stat(p, &st) != nil {
			return 0, false
		}
		return st.Dev, true
	}
	d, ok := dev(abs)
	if !ok {
		return abs
	}
	for cur := abs; ; {
		parent := filepath.Dir(cur)
		if parent == cur {
			return cur
		}
		if pd, ok := dev(parent); !ok || pd != d {
			return cur
		}
		cur = parent
	}
}
