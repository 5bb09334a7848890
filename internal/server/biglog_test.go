package server_test

import (
	"bufio"
	"bytes"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"

	"slipway.dev/slipway/internal/cli"
	"slipway.dev/slipway/internal/logfile"
	"slipway.dev/slipway/internal/server"
	"slipway.dev/slipway/internal/slipwaytest/servertest"
)

// procStatus returns a field of /proc/self/status in bytes ("VmRSS",
// "VmHWM").
func procStatus(t *testing.T, field string) int64 {
	t.Helper()
	f, err := os.Open("/proc/self/status")
	if err != nil {
		t.Skipf("no /proc/self/status: %v", err)
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		if v, ok := strings.CutPrefix(sc.Text(), field+":"); ok {
			kb, err := strconv.ParseInt(strings.TrimSuffix(strings.TrimSpace(v), " kB"), 10, 64)
			if err != nil {
				t.Fatalf("%s: %q", field, v)
			}
			return kb << 10
		}
	}
	t.Fatalf("no %s in /proc/self/status", field)
	return 0
}

// makeBigLog makes the log at path 2 GiB long: a hole (sparse, so the disk
// holds almost nothing) and then 1000 numbered lines, appended the way the
// replica appends. It returns the last five lines.
func makeBigLog(t *testing.T, path string) string {
	t.Helper()
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_APPEND, 0)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	if err := f.Truncate(2 << 30); err != nil {
		t.Fatal(err)
	}
	var b strings.Builder
	b.WriteString("\n")
	for i := range 1000 {
		fmt.Fprintf(&b, "big log line %d\n", i)
	}
	if _, err := f.WriteString(b.String()); err != nil {
		t.Fatal(err)
	}
	// As `jobs logs` prints them: each line with its pod (the job's replica).
	return "[web-0] big log line 995\n[web-0] big log line 996\n[web-0] big log line 997\n[web-0] big log line 998\n[web-0] big log line 999\n"
}

// logsLast runs `slipway jobs logs web --last n` against s, in this
// process, and returns its output.
func logsLast(t *testing.T, s *servertest.Server, n int) string {
	t.Helper()
	vars := map[string]string{"SLIPWAY_URL": s.URL(), "SLIPWAY_TOKEN": s.AdminToken(), "SLIPWAY_TOOL": servertest.Tool, "HOME": t.TempDir()}
	var stdout, stderr bytes.Buffer
	code := cli.Main(t.Context(), []string{"jobs", "logs", "web", "--last", strconv.Itoa(n)}, func(k string) string { return vars[k] }, strings.NewReader(""), &stdout, &stderr)
	if code != 0 {
		t.Fatalf("slipway jobs logs web --last %d: exit %d: %s", n, code, stderr.String())
	}
	return stdout.String()
}

// Ensure `jobs logs --last 5` of a component whose log is 2 GiB answers
// the last 5 lines with the server's memory (this process's: the server
// runs in it) growing by under 50 MB: the peak RSS during the request,
// reset before it (/proc/self/clear_refs), against the RSS before. The
// log is not rotated here (a 4 GiB limit), so all 2 GiB are there to be
// read.
func TestServer_BigLogLastLines(t *testing.T) {
	t.Parallel()
	s := servertest.StartWith(t, func(c *server.Config) { c.LogMaxSize = 4 << 30 })
	want := makeBigLog(t, filepath.Join(s.LogDir("web"), "0.log"))

	before := procStatus(t, "VmRSS")
	// Writing 5 resets the peak RSS (VmHWM) to the current RSS.
	resetErr := os.WriteFile("/proc/self/clear_refs", []byte("5"), 0)
	if resetErr != nil {
		t.Logf("cannot reset the peak RSS (%v): comparing with the peak before", resetErr)
		before = procStatus(t, "VmHWM")
	}
	got := logsLast(t, s, 5)
	peak := procStatus(t, "VmHWM")

	if !strings.HasSuffix(got, want) || strings.Count(got, "\n") != 5 {
		t.Errorf("jobs logs --last 5 =\n%s\nwant\n%s", got, want)
	}
	growth := peak - before
	t.Logf("RSS before %d MiB, peak during the request %d MiB: %+d MiB for the last 5 lines of a 2 GiB log",
		before>>20, peak>>20, growth>>20)
	if growth >= 50e6 {
		t.Errorf("the server's memory grew by %d MB answering 5 lines of a 2 GiB log; want under 50 MB", growth/1e6)
	}
}

// Ensure the rotation pass bounds a log that grew to 2 GiB to the default
// 10 MiB (keeping the end in 0.log.1) and the last lines still come from
// there.
func TestServer_BigLogRotated(t *testing.T) {
	t.Parallel()
	s := servertest.Start(t)
	log := filepath.Join(s.LogDir("web"), "0.log")
	want := makeBigLog(t, log)
	servertest.Eventually(t, func() string {
		fi, err := os.Stat(log)
		if err != nil {
			return err.Error()
		}
		if fi.Size() > logfile.DefaultMaxSize {
			return fmt.Sprintf("0.log is still %d bytes", fi.Size())
		}
		return ""
	})
	fi, err := os.Stat(logfile.Rotated(log, 1))
	if err != nil {
		t.Fatal(err)
	}
	if fi.Size() > logfile.DefaultMaxSize {
		t.Errorf("0.log.1 has %d bytes, past the 10 MiB limit", fi.Size())
	}
	if _, err := os.Stat(logfile.Rotated(log, 2)); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("one rotation made more than 0.log.1: %v", err)
	}
	if got := logsLast(t, s, 5); !strings.HasSuffix(got, want) {
		t.Errorf("jobs logs --last 5 after the rotation =\n%s\nwant\n%s", got, want)
	}
}
