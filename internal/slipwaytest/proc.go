package slipwaytest

import (
	"os"
	"path/filepath"
	"strconv"
	"strings"
)

// Proc is a process of this host as /proc shows it.
type Proc struct {
	PID int
	// Cmdline is its command line, the arguments joined by spaces.
	Cmdline string
	// Environ is its environment, NUL-separated ("" when it may not be
	// read).
	Environ string
}

// Processes returns the live processes of this host (not zombies, not
// this test binary) for which match is true.
func Processes(match func(Proc) bool) []Proc {
	entries, _ := os.ReadDir("/proc")
	var out []Proc
	for _, e := range entries {
		pid, err := strconv.Atoi(e.Name())
		if err != nil || pid == os.Getpid() {
			continue
		}
		b, err := os.ReadFile(filepath.Join("/proc", e.Name(), "cmdline"))
		if err != nil || len(b) == 0 { // gone, or a zombie
			continue
		}
		env, _ := os.ReadFile(filepath.Join("/proc", e.Name(), "environ"))
		p := Proc{PID: pid, Cmdline: strings.ReplaceAll(strings.TrimRight(string(b), "\x00"), "\x00", " "), Environ: string(env)}
		if match(p) {
			out = append(out, p)
		}
	}
	return out
}
