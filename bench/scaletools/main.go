// Command scaletools measures many tools on one host: N tools, each with
// one continuous idle process, sandboxed and limited (the server's
// defaults), deployed from one client over keep-alive; then the server's
// RSS, its CPU while nothing changes, the processes each tool costs, the
// latency of `deployment show` and `config` reads at a fixed rate spread
// over the tools, and the data directory's size.
//
// Run by bench/scale-tools.sh N, which builds the slipway binary first.
package main

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"io/fs"
	"math/rand/v2"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"slipway.dev/slipway/bench/internal/benchserver"
)

func main() {
	bin := flag.String("slipway", "", "the slipway binary")
	tools := flag.Int("tools", 1000, "tools to deploy")
	conc := flag.Int("concurrency", 8, "requests in flight while deploying")
	rate := flag.Int("rate", 1000, "reads a second in the read phase")
	readFor := flag.Duration("read", 10*time.Second, "how long the read phase lasts")
	idleFor := flag.Duration("idle", 30*time.Second, "how long the server's idle CPU is measured")
	keep := flag.Bool("keep", false, "keep the work directory")
	extra := flag.String("server-flags", "", "more flags for slipway server, space-separated")
	profiles := flag.String("profiles", "", "a directory to write the server's pprof profiles to: CPU during the deploy and while idle, heap after each")
	flag.Parse()
	if *bin == "" {
		fmt.Fprintln(os.Stderr, "usage: scaletools -slipway BIN [-tools N]")
		os.Exit(2)
	}
	o := opts{bin: *bin, tools: *tools, conc: max(*conc, 1), rate: max(*rate, 1), readFor: *readFor, idleFor: *idleFor, keep: *keep, flags: strings.Fields(*extra), profiles: *profiles}
	if err := run(context.Background(), os.Stdout, o); err != nil {
		fmt.Fprintln(os.Stderr, "scale-tools:", err)
		os.Exit(1)
	}
}

type opts struct {
	bin              string
	tools, conc      int
	rate             int
	readFor, idleFor time.Duration
	keep             bool
	flags            []string
	profiles         string
}

func toolName(i int) string { return fmt.Sprintf("t%05d", i) }

func run(ctx context.Context, out io.Writer, o opts) error {
	work, err := os.MkdirTemp("", "slipway-scale-")
	if err != nil {
		return err
	}
	if o.keep {
		fmt.Fprintln(out, "work directory:", work)
	} else {
		defer os.RemoveAll(work)
	}
	repo := filepath.Join(work, "idle")
	if err := makeRepo(ctx, repo); err != nil {
		return err
	}
	data := filepath.Join(work, "data")
	flags := o.flags
	var debug string
	if o.profiles != "" {
		if err := os.MkdirAll(o.profiles, 0o755); err != nil {
			return err
		}
		port, err := freePort(ctx)
		if err != nil {
			return err
		}
		debug = "127.0.0.1:" + strconv.Itoa(port)
		flags = append(slices.Clone(flags), "--debug-listen", debug)
	}
	srv, err := benchserver.Start(ctx, o.bin, data, filepath.Join(work, "server.log"), flags...)
	if err != nil {
		return err
	}
	defer srv.Stop()
	profile := func(name, kind string, seconds int) func() error {
		if debug == "" {
			return func() error { return nil }
		}
		done := make(chan error, 1)
		go func() {
			url := fmt.Sprintf("http://%s/debug/pprof/%s?seconds=%d", debug, kind, seconds)
			if kind == "heap" {
				url = fmt.Sprintf("http://%s/debug/pprof/heap?gc=1", debug)
			}
			done <- fetchProfile(ctx, srv.Token, url, filepath.Join(o.profiles, name))
		}()
		return func() error { return <-done }
	}
	client := &http.Client{Transport: &http.Transport{MaxIdleConnsPerHost: o.conc * 2}, Timeout: 2 * time.Minute}
	cfg, err := json.Marshal(map[string]any{
		"config_version": "v1beta1",
		"components": map[string]any{"idle": map[string]any{
			"component_type": "continuous",
			"build":          map[string]any{"repository": "file://" + repo, "ref": "main"},
			"run":            map[string]any{"command": "web"},
		}},
	})
	if err != nil {
		return err
	}

	// Deploy: a config and a deployment per tool, conc requests in flight.
	fmt.Fprintf(out, "deploying %d tools (%d requests in flight)…\n", o.tools, o.conc)
	deployProfile := profile("cpu-deploy.pprof", "profile", 20)
	start := time.Now()
	ids := make([]string, o.tools)
	var createLat []time.Duration
	var mu sync.Mutex
	if err := parallel(o.tools, o.conc, func(i int) error {
		t0 := time.Now()
		tool := toolName(i)
		if err := srv.Do(ctx, client, http.MethodPost, "/components/v1/tool/"+tool+"/config", bytes.NewReader(cfg), nil); err != nil {
			return err
		}
		var env struct {
			Data struct {
				DeployID string `json:"deploy_id"`
			} `json:"data"`
		}
		if err := srv.Do(ctx, client, http.MethodPost, "/components/v1/tool/"+tool+"/deployment", strings.NewReader("{}"), &env); err != nil {
			return err
		}
		ids[i] = env.Data.DeployID
		mu.Lock()
		createLat = append(createLat, time.Since(t0))
		mu.Unlock()
		return nil
	}); err != nil {
		return err
	}
	created := time.Since(start)
	failed, err := waitAll(ctx, srv, client, ids, o.conc)
	if err != nil {
		return err
	}
	deployed := time.Since(start)
	if err := deployProfile(); err != nil {
		return err
	}
	if err := profile("heap-deployed.pprof", "heap", 0)(); err != nil {
		return err
	}
	fmt.Fprintf(out, "deployed:        %d tools in %.1f s (requests done after %.1f s; config+deployment create p50 %s p99 %s); %d not successful\n",
		o.tools, deployed.Seconds(), created.Seconds(), pct(createLat, 50), pct(createLat, 99), failed)

	rss, err := rssKiB(srv.PID)
	if err != nil {
		return err
	}
	procs, procRSS := descendants(srv.PID)
	fmt.Fprintf(out, "server RSS:      %.1f MiB (goal < 500 MiB at 10,000 tools)\n", float64(rss)/1024)
	fmt.Fprintf(out, "tools' processes: %d (%.2f a tool), %.1f MiB RSS in all (%.0f KiB a tool; RSS counts shared pages once per process)\n",
		procs, float64(procs)/float64(o.tools), float64(procRSS)/1024, float64(procRSS)/float64(o.tools))

	// Idle: nothing changes; the server's own CPU.
	c0, err := cpuTicks(srv.PID)
	if err != nil {
		return err
	}
	t0 := time.Now()
	idleProfile := profile("cpu-idle.pprof", "profile", int(o.idleFor.Seconds()))
	time.Sleep(o.idleFor) // the measurement is of this interval
	c1, err := cpuTicks(srv.PID)
	if err != nil {
		return err
	}
	idle := float64(c1-c0) / clockTicks / time.Since(t0).Seconds() * 100
	if err := idleProfile(); err != nil {
		return err
	}
	fmt.Fprintf(out, "idle CPU:        %.2f%% of one core over %s (goal < 2%%)\n", idle, o.idleFor)

	// Reads at a fixed rate, spread over the tools.
	showLat, cfgLat, errs := readPhase(ctx, srv, ids, o)
	fmt.Fprintf(out, "reads at %d/s:   deployment show p50 %s p99 %s (%d); config p50 %s p99 %s (%d); %d errors (goal p99 < 5 ms)\n",
		o.rate, pct(showLat, 50), pct(showLat, 99), len(showLat), pct(cfgLat, 50), pct(cfgLat, 99), len(cfgLat), errs)

	size, err := dirSize(data)
	if err != nil {
		return err
	}
	fmt.Fprintf(out, "data directory:  %.1f MiB (%.1f KiB a tool; goal < 1 GiB at 10,000 tools)\n", float64(size)/(1<<20), float64(size)/1024/float64(o.tools))
	if o.profiles != "" {
		fmt.Fprintf(out, "profiles in %s: go tool pprof -top %s/cpu-idle.pprof\n", o.profiles, o.profiles)
	}
	return nil
}

// freePort returns a loopback port nobody listens on now.
func freePort(ctx context.Context) (int, error) {
	var lc net.ListenConfig
	ln, err := lc.Listen(ctx, "tcp", "127.0.0.1:0")
	if err != nil {
		return 0, err
	}
	defer ln.Close()
	return ln.Addr().(*net.TCPAddr).Port, nil
}

// fetchProfile saves the profile at url (the admin token sent) to path.
func fetchProfile(ctx context.Context, token, url, path string) error {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
	if err != nil {
		return err
	}
	req.Header.Set("Authorization", "Bearer "+token)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return fmt.Errorf("profile %s: %w", url, err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return fmt.Errorf("profile %s: %s", url, resp.Status)
	}
	f, err := os.Create(path)
	if err != nil {
		return err
	}
	if _, err := io.Copy(f, resp.Body); err != nil {
		_ = f.Close()
		return err
	}
	return f.Close()
}

func makeRepo(ctx context.Context, dir string) error {
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return err
	}
	if err := os.WriteFile(filepath.Join(dir, "Procfile"), []byte("web: exec sleep 2147483647\n"), 0o644); err != nil {
		return err
	}
	for _, args := range [][]string{{"init", "-q", "-b", "main"}, {"add", "-A"}, {"commit", "-q", "-m", "idle"}} {
		cmd := exec.CommandContext(ctx, "git", append([]string{"-c", "user.name=bench", "-c", "user.email=bench@invalid", "-c", "commit.gpgsign=false"}, args...)...)
		cmd.Dir = dir
		if out, err := cmd.CombinedOutput(); err != nil {
			return fmt.Errorf("git %s: %w\n%s", strings.Join(args, " "), err, out)
		}
	}
	return nil
}

// parallel runs fn(0..n-1), conc at a time, and returns the first error.
func parallel(n, conc int, fn func(int) error) error {
	var next atomic.Int64
	var first error
	var once sync.Once
	var wg sync.WaitGroup
	for range conc {
		wg.Go(func() {
			for {
				i := int(next.Add(1) - 1)
				if i >= n {
					return
				}
				if err := fn(i); err != nil {
					once.Do(func() { first = err })
					next.Store(int64(n))
					return
				}
			}
		})
	}
	wg.Wait()
	return first
}

// waitAll waits until every deployment is final, checking the unfinished
// ones in rounds, and returns how many did not succeed.
func waitAll(ctx context.Context, srv *benchserver.Server, c *http.Client, ids []string, conc int) (int, error) {
	pending := make([]int, len(ids))
	for i := range pending {
		pending[i] = i
	}
	failed := 0
	deadline := time.Now().Add(time.Hour)
	for len(pending) > 0 {
		if time.Now().After(deadline) {
			return 0, fmt.Errorf("%d deployments not final after an hour", len(pending))
		}
		var mu sync.Mutex
		var still []int
		err := parallel(len(pending), conc, func(k int) error {
			i := pending[k]
			var env struct {
				Data struct {
					Status string `json:"status"`
				} `json:"data"`
			}
			if err := srv.Do(ctx, c, http.MethodGet, "/components/v1/tool/"+toolName(i)+"/deployment/"+ids[i], nil, &env); err != nil {
				return err
			}
			mu.Lock()
			defer mu.Unlock()
			switch env.Data.Status {
			case "pending", "running", "cancelling":
				still = append(still, i)
			case "successful":
			default:
				failed++
			}
			return nil
		})
		if err != nil {
			return 0, err
		}
		pending = still
		if len(pending) > 0 {
			time.Sleep(500 * time.Millisecond) // a round of checks; the deployments move on their own
		}
	}
	return failed, nil
}

func readPhase(ctx context.Context, srv *benchserver.Server, ids []string, o opts) (show, cfg []time.Duration, errs int64) {
	c := &http.Client{Transport: &http.Transport{MaxIdleConnsPerHost: 64}, Timeout: 10 * time.Second}
	var mu sync.Mutex
	var nerr atomic.Int64
	tick := time.NewTicker(time.Second / time.Duration(o.rate))
	defer tick.Stop()
	end := time.Now().Add(o.readFor)
	var wg sync.WaitGroup
	for n := 0; time.Now().Before(end); n++ {
		<-tick.C
		i := rand.IntN(len(ids)) //nolint:gosec // spreading reads, not a secret
		isShow := n%2 == 0
		wg.Go(func() {
			path := "/components/v1/tool/" + toolName(i) + "/config"
			if isShow {
				path = "/components/v1/tool/" + toolName(i) + "/deployment/" + ids[i]
			}
			t0 := time.Now()
			if err := srv.Do(ctx, c, http.MethodGet, path, nil, nil); err != nil {
				nerr.Add(1)
				return
			}
			d := time.Since(t0)
			mu.Lock()
			if isShow {
				show = append(show, d)
			} else {
				cfg = append(cfg, d)
			}
			mu.Unlock()
		})
	}
	wg.Wait()
	return show, cfg, nerr.Load()
}

func pct(ds []time.Duration, p int) time.Duration {
	if len(ds) == 0 {
		return 0
	}
	s := slices.Clone(ds)
	slices.Sort(s)
	return s[min(len(s)-1, len(s)*p/100)].Round(10 * time.Microsecond)
}

// clockTicks is USER_HZ, the unit of /proc/<pid>/stat's times (100 on
// every Linux architecture Slipway runs on).
const clockTicks = 100

// cpuTicks returns the process's user + system time in clock ticks.
func cpuTicks(pid int) (int64, error) {
	raw, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return 0, err
	}
	// The fields after the command name, which is in parentheses.
	f := strings.Fields(string(raw[bytes.LastIndexByte(raw, ')')+1:]))
	if len(f) < 13 {
		return 0, fmt.Errorf("/proc/%d/stat: too short", pid)
	}
	u, err1 := strconv.ParseInt(f[11], 10, 64)
	s, err2 := strconv.ParseInt(f[12], 10, 64)
	if err1 != nil || err2 != nil {
		return 0, fmt.Errorf("/proc/%d/stat: %q %q", pid, f[11], f[12])
	}
	return u + s, nil
}

// rssKiB returns VmRSS of pid.
func rssKiB(pid int) (int64, error) {
	f, err := os.Open(fmt.Sprintf("/proc/%d/status", pid))
	if err != nil {
		return 0, err
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		if v, ok := strings.CutPrefix(sc.Text(), "VmRSS:"); ok {
			return strconv.ParseInt(strings.TrimSuffix(strings.TrimSpace(v), " kB"), 10, 64)
		}
	}
	return 0, fmt.Errorf("/proc/%d/status: no VmRSS", pid)
}

// descendants counts the processes below pid (the tools' sandboxes and
// processes, reparented or not, are found by their session: every process
// whose parent chain reaches pid) and sums their RSS in KiB.
func descendants(pid int) (n int, rss int64) {
	entries, err := os.ReadDir("/proc")
	if err != nil {
		return 0, 0
	}
	parent := map[int]int{}
	for _, e := range entries {
		p, err := strconv.Atoi(e.Name())
		if err != nil {
			continue
		}
		raw, err := os.ReadFile("/proc/" + e.Name() + "/stat")
		if err != nil {
			continue
		}
		f := strings.Fields(string(raw[bytes.LastIndexByte(raw, ')')+1:]))
		if len(f) > 1 {
			parent[p], _ = strconv.Atoi(f[1])
		}
	}
	for p := range parent {
		for q, hops := parent[p], 0; q > 1 && hops < 64; q, hops = parent[q], hops+1 {
			if q == pid {
				n++
				if kib, err := rssKiB(p); err == nil {
					rss += kib
				}
				break
			}
		}
	}
	return n, rss
}

// dirSize is the apparent size of the files under dir.
func dirSize(dir string) (int64, error) {
	var size int64
	err := filepath.WalkDir(dir, func(_ string, d fs.DirEntry, err error) error {
		if err != nil {
			return nil //nolint:nilerr // a file gone meanwhile (a socket, a rotated log)
		}
		if info, err := d.Info(); err == nil && info.Mode().IsRegular() {
			size += info.Size()
		}
		return nil
	})
	return size, err
}
