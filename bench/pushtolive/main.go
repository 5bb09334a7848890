// Command pushtolive measures push-to-live: from a new commit of a small
// Python web app (no packages to install) to the new version answering
// through Slipway's proxy, while a steady stream of requests goes through
// the proxy to count failures during the switch. It prints each round's
// time, the median, and where the time went from the deployment's events:
//
//	queue      the create request until the first step starts (the start
//	           job: queue wait, ref resolution, plan)
//	build      the build step
//	start      the run step: start the new replica and wait until healthy
//	switch     the run step's end until the proxy serves the new version
//	           (negative: the proxy served it before the step was recorded)
//
// Run by bench/push-to-live.sh, which builds the slipway binary first.
package main

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"slipway.dev/slipway/bench/internal/benchserver"
)

func main() {
	bin := flag.String("slipway", "", "the slipway binary")
	rounds := flag.Int("rounds", 11, "deployments to time")
	rate := flag.Int("rate", 200, "requests a second through the proxy during the rounds")
	keep := flag.Bool("keep", false, "keep the work directory")
	extra := flag.String("server-flags", "", "more flags for slipway server, space-separated (e.g. --unsandboxed)")
	flag.Parse()
	if *bin == "" {
		fmt.Fprintln(os.Stderr, "usage: pushtolive -slipway BIN [-rounds N] [-rate R]")
		os.Exit(2)
	}
	if err := run(context.Background(), os.Stdout, *bin, *rounds, *rate, *keep, strings.Fields(*extra)); err != nil {
		fmt.Fprintln(os.Stderr, "push-to-live:", err)
		os.Exit(1)
	}
}

const appPy = `import http.server, os

VERSION = "%s"


class Handler(http.server.BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def do_GET(self):
        body = (VERSION + "\n").encode()
        self.send_response(200)
        self.send_header("Content-Type", "text/plain")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *args):
        pass


class Server(http.server.ThreadingHTTPServer):
    request_queue_size = 128  # http.server's 5 drops connections under a burst, as no real app server does
    daemon_threads = True


Server(("127.0.0.1", int(os.environ["PORT"])), Handler).serve_forever()
`

type bench struct {
	ctx                  context.Context
	bin, work, data, app string
	api, proxyHost       string
	token                string
	client               *http.Client
}

func run(ctx context.Context, out io.Writer, bin string, rounds, rate int, keep bool, serverFlags []string) error {
	work, err := os.MkdirTemp("", "slipway-push-")
	if err != nil {
		return err
	}
	if keep {
		fmt.Fprintln(out, "work directory:", work)
	} else {
		defer os.RemoveAll(work)
	}
	b := &bench{
		ctx: ctx, bin: bin, work: work, data: filepath.Join(work, "data"), app: filepath.Join(work, "app"),
		client: &http.Client{Timeout: 30 * time.Second},
	}
	if err := b.makeApp(); err != nil {
		return err
	}
	srv, err := benchserver.Start(ctx, bin, b.data, filepath.Join(work, "server.log"), append([]string{"--local-repo-dirs", work}, serverFlags...)...)
	if err != nil {
		return err
	}
	defer srv.Stop()
	b.api, b.proxyHost, b.token = srv.API, srv.ProxyHost, srv.Token
	// First deployment: the tool, its build and its first replica.
	cfg := fmt.Sprintf(`components:
  web:
    component_type: continuous
    build: {repository: "file://%s", ref: main}
    run: {command: web, port: 8000, health_check_http: /, publish: /}
`, b.app)
	if err := os.WriteFile(filepath.Join(work, "tool.yaml"), []byte(cfg), 0o644); err != nil {
		return err
	}
	if out, err := b.cli("components", "config", "create", filepath.Join(work, "tool.yaml")); err != nil {
		return fmt.Errorf("config create: %w\n%s", err, out)
	}
	if out, err := b.cli("components", "deployment", "create", "--watch"); err != nil {
		return fmt.Errorf("first deployment: %w\n%s", err, out)
	}
	if err := b.waitVersion(ctx, "v0", 30*time.Second); err != nil {
		return err
	}

	var ok, failed atomic.Int64
	var failures sync.Map
	ctx, cancel := context.WithCancel(ctx)
	var wg sync.WaitGroup
	wg.Go(func() { b.load(ctx, rate, &ok, &failed, &failures) })

	var totals []time.Duration
	var phases [4][]time.Duration
	for i := 1; i <= rounds; i++ {
		version := fmt.Sprintf("v%d", i)
		if err := b.commit(version); err != nil {
			cancel()
			return err
		}
		t0 := time.Now()
		id, err := b.createDeployment()
		if err != nil {
			cancel()
			return err
		}
		if err := b.waitVersion(ctx, version, 60*time.Second); err != nil {
			cancel()
			return err
		}
		total := time.Since(t0)
		live := t0.Add(total)
		ph, err := b.phases(ctx, id, t0, live)
		if err != nil {
			cancel()
			return err
		}
		totals = append(totals, total)
		for j := range phases {
			phases[j] = append(phases[j], ph[j])
		}
		fmt.Fprintf(out, "round %2d: %4d ms  (queue %d, build %d, start %d, switch %d)\n", i, total.Milliseconds(),
			ph[0].Milliseconds(), ph[1].Milliseconds(), ph[2].Milliseconds(), ph[3].Milliseconds())
	}
	cancel()
	wg.Wait()
	fmt.Fprintf(out, "push-to-live median:     %d ms over %d rounds (min %d, max %d); goal < 400 ms\n",
		median(totals).Milliseconds(), rounds, slices.Min(totals).Milliseconds(), slices.Max(totals).Milliseconds())
	fmt.Fprintf(out, "breakdown (medians, ms): queue+resolve %d, build %d, start+health %d, proxy switch %d\n",
		median(phases[0]).Milliseconds(), median(phases[1]).Milliseconds(), median(phases[2]).Milliseconds(), median(phases[3]).Milliseconds())
	fmt.Fprintf(out, "requests through the proxy during the rounds: %d answered, %d failed\n", ok.Load(), failed.Load())
	failures.Range(func(k, v any) bool {
		fmt.Fprintf(out, "  failure: %s ×%d\n", k, v.(*atomic.Int64).Load())
		return true
	})
	return nil
}

func (b *bench) makeApp() error {
	if err := os.MkdirAll(b.app, 0o755); err != nil {
		return err
	}
	if err := os.WriteFile(filepath.Join(b.app, "requirements.txt"), []byte("# no packages: the standard library serves\n"), 0o644); err != nil {
		return err
	}
	if err := b.git("init", "-q", "-b", "main"); err != nil {
		return err
	}
	return b.commit("v0")
}

func (b *bench) commit(version string) error {
	if err := os.WriteFile(filepath.Join(b.app, "app.py"), fmt.Appendf(nil, appPy, version), 0o644); err != nil {
		return err
	}
	if err := b.git("add", "-A"); err != nil {
		return err
	}
	return b.git("commit", "-q", "-m", version)
}

func (b *bench) git(args ...string) error {
	cmd := exec.CommandContext(b.ctx, "git", append([]string{"-c", "user.name=bench", "-c", "user.email=bench@invalid", "-c", "commit.gpgsign=false"}, args...)...)
	cmd.Dir = b.app
	if out, err := cmd.CombinedOutput(); err != nil {
		return fmt.Errorf("git %s: %w\n%s", strings.Join(args, " "), err, out)
	}
	return nil
}

func (b *bench) cli(args ...string) ([]byte, error) {
	cmd := exec.CommandContext(b.ctx, b.bin, args...)
	cmd.Env = append(os.Environ(), "SLIPWAY_DATA="+b.data, "SLIPWAY_TOOL=bench")
	return cmd.CombinedOutput()
}

// proxyGet asks the proxy for the app as bench.localhost.
func (b *bench) proxyGet(ctx context.Context, c *http.Client) (int, string, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, "http://"+b.proxyHost+"/", nil)
	if err != nil {
		return 0, "", err
	}
	req.Host = "bench.localhost"
	resp, err := c.Do(req)
	if err != nil {
		return 0, "", err
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	return resp.StatusCode, strings.TrimSpace(string(body)), err
}

// waitVersion polls the proxy until it answers version; polling as fast
// as the answers come, so the wait adds at most one request's time.
func (b *bench) waitVersion(ctx context.Context, version string, limit time.Duration) error {
	ctx, cancel := context.WithTimeout(ctx, limit)
	defer cancel()
	c := &http.Client{Transport: &http.Transport{MaxIdleConnsPerHost: 1}}
	var last string
	for ctx.Err() == nil {
		code, body, err := b.proxyGet(ctx, c)
		if err == nil && code == http.StatusOK && body == version {
			return nil
		}
		last = fmt.Sprintf("%d %q %v", code, body, err)
		time.Sleep(time.Millisecond)
	}
	return fmt.Errorf("the proxy did not serve %s within %v (last answer: %s)", version, limit, last)
}

// load sends rate requests a second through the proxy over keep-alive
// connections until ctx ends, counting what failed (a status other than
// 200, or an error) by cause.
func (b *bench) load(ctx context.Context, rate int, ok, failed *atomic.Int64, failures *sync.Map) {
	c := &http.Client{Transport: &http.Transport{MaxIdleConnsPerHost: 16}, Timeout: 10 * time.Second}
	tick := time.NewTicker(time.Second / time.Duration(max(rate, 1)))
	defer tick.Stop()
	var wg sync.WaitGroup
	for {
		select {
		case <-ctx.Done():
			wg.Wait()
			return
		case <-tick.C:
		}
		wg.Go(func() {
			code, _, err := b.proxyGet(context.WithoutCancel(ctx), c)
			if err == nil && code == http.StatusOK {
				ok.Add(1)
				return
			}
			failed.Add(1)
			cause := fmt.Sprint(code)
			if err != nil {
				cause = err.Error()
			}
			n, _ := failures.LoadOrStore(cause, new(atomic.Int64))
			n.(*atomic.Int64).Add(1)
		})
	}
}

func (b *bench) createDeployment() (string, error) {
	req, err := http.NewRequestWithContext(b.ctx, http.MethodPost, b.api+"/components/v1/tool/bench/deployment", strings.NewReader("{}"))
	if err != nil {
		return "", err
	}
	req.Header.Set("Authorization", "Bearer "+b.token)
	req.Header.Set("Content-Type", "application/json")
	resp, err := b.client.Do(req)
	if err != nil {
		return "", err
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(resp.Body)
	if resp.StatusCode != http.StatusOK && resp.StatusCode != http.StatusCreated {
		return "", fmt.Errorf("create deployment: %s: %s", resp.Status, body)
	}
	var env struct {
		Data struct {
			DeployID string `json:"deploy_id"`
		} `json:"data"`
	}
	if err := json.Unmarshal(body, &env); err != nil || env.Data.DeployID == "" {
		return "", fmt.Errorf("create deployment: no deploy_id in %s", body)
	}
	return env.Data.DeployID, nil
}

type event struct {
	Time  time.Time `json:"time"`
	Kind  string    `json:"kind"`
	Step  string    `json:"step"`
	State string    `json:"state"`
}

// phases reads the deployment's events (the stream ends once it is final)
// and splits posted..live into queue, build, start and switch.
func (b *bench) phases(ctx context.Context, id string, posted, live time.Time) ([4]time.Duration, error) {
	var ph [4]time.Duration
	ctx, cancel := context.WithTimeout(ctx, 60*time.Second)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, b.api+"/components/v1/tool/bench/deployment/"+id+"/events", nil)
	if err != nil {
		return ph, err
	}
	req.Header.Set("Authorization", "Bearer "+b.token)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return ph, err
	}
	defer resp.Body.Close()
	var first, buildStart, buildEnd, runStart, runEnd time.Time
	sc := bufio.NewScanner(resp.Body)
	sc.Buffer(make([]byte, 0, 64<<10), 1<<20)
	final := false
	for sc.Scan() && !final {
		line, found := bytes.CutPrefix(sc.Bytes(), []byte("data:"))
		if !found {
			continue
		}
		var ev event
		if err := json.Unmarshal(bytes.TrimSpace(line), &ev); err != nil {
			return ph, fmt.Errorf("event %s: %w", line, err)
		}
		switch {
		case ev.Kind == "step" && ev.State == "running":
			if first.IsZero() {
				first = ev.Time
			}
			if strings.HasPrefix(ev.Step, "build:") {
				buildStart = ev.Time
			} else if strings.HasPrefix(ev.Step, "run:") {
				runStart = ev.Time
			}
		case ev.Kind == "step" && (ev.State == "done" || ev.State == "unchanged"):
			if strings.HasPrefix(ev.Step, "build:") {
				buildEnd = ev.Time
			} else if strings.HasPrefix(ev.Step, "run:") {
				runEnd = ev.Time
			}
		case ev.Kind == "deployment" && (ev.State == "successful" || ev.State == "failed" || ev.State == "cancelled" || ev.State == "timed_out"):
			final = true
		}
	}
	if err := sc.Err(); err != nil && !errors.Is(err, context.Canceled) {
		return ph, err
	}
	if first.IsZero() || runEnd.IsZero() {
		return ph, fmt.Errorf("deployment %s: no step events (first %v, run end %v)", id, first, runEnd)
	}
	ph[0] = first.Sub(posted)
	if !buildEnd.IsZero() {
		ph[1] = buildEnd.Sub(buildStart)
	}
	ph[2] = runEnd.Sub(runStart)
	ph[3] = live.Sub(runEnd)
	return ph, nil
}

func median(ds []time.Duration) time.Duration {
	s := slices.Clone(ds)
	slices.Sort(s)
	return s[len(s)/2]
}
