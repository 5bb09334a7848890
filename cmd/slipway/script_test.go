package main

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/rogpeppe/go-internal/testscript"

	"slipway.dev/slipway/internal/cli"
	"slipway.dev/slipway/internal/pgtest"
	"slipway.dev/slipway/internal/slipwaytest"
)

// TestMain makes the test binary double as the slipway binary: scripts run
// `slipway …` as a real child process (so that a server can be killed with
// SIGKILL), executing cli.Main.
func TestMain(m *testing.M) {
	testscript.Main(removeBinary{pgtest.Wrap(m)}, map[string]func(){
		"slipway": func() {
			os.Exit(cli.Main(signalContext(), os.Args[1:], os.Getenv, os.Stdin, os.Stdout, os.Stderr))
		},
	})
}

// TestScript runs the end-to-end scenarios in testdata/script: each starts
// a real server on 127.0.0.1:0 with its own data directory, builds real git
// repositories and deploys them as real processes.
func TestScript(t *testing.T) {
	if testing.Short() {
		t.Skip("end-to-end scripts build and run real apps; skipped with -short")
	}
	for _, tool := range []string{"git", "curl", "go"} {
		if _, err := exec.LookPath(tool); err != nil {
			t.Skipf("%s not installed (make deps installs it): %v", tool, err)
		}
	}
	goEnv := goEnvironment(t)
	bin := slipwayBinary(t)
	testscript.Run(t, testscript.Params{
		Dir:                 "testdata/script",
		RequireExplicitExec: true,
		Setup: func(e *testscript.Env) error {
			// Share the developer's Go caches so that app builds start warm.
			for k, v := range goEnv {
				e.Setenv(k, v)
			}
			e.Setenv("PATH", bin+string(os.PathListSeparator)+e.Getenv("PATH"))
			e.Setenv("SLIPWAY_DATA", filepath.Join(e.WorkDir, "data"))
			e.Setenv("GIT_CONFIG_NOSYSTEM", "1")
			e.Values[fileServersKey{}] = map[string]*http.Server{}
			return nil
		},
		Cmds: map[string]func(ts *testscript.TestScript, neg bool, args []string){
			"gitinit":         cmdGitInit,
			"gitcommit":       cmdGitCommit,
			"subst":           cmdSubst,
			"waitserver":      cmdWaitServer,
			"waitstep":        cmdWaitStep,
			"waitdeploy":      cmdWaitDeploy,
			"steps":           cmdSteps,
			"starts":          cmdStarts,
			"lines":           cmdLines,
			"gone":            cmdGone,
			"running":         cmdRunning,
			"count":           cmdCount,
			"setvar":          cmdSetVar,
			"stopped":         cmdStopped,
			"poll":            cmdPoll,
			"errmsg":          cmdErrMsg,
			"waitfile":        cmdWaitFile,
			"serve":           cmdServe,
			"stopserve":       cmdStopServe,
			"waitjob":         cmdWaitJob,
			"servegit":        cmdServeGit,
			"blackhole":       cmdBlackhole,
			"silent":          cmdSilent,
			"nosecret":        cmdNoSecret,
			"waitquestion":    cmdWaitQuestion,
			"freeport":        cmdFreePort,
			"waitrolledback":  cmdWaitRolledBack,
			"waitdeployments": cmdWaitDeployments,
			"waitmetric":      cmdWaitMetric,
			"notifysink":      cmdNotifySink,
			"waittrain":       cmdWaitTrain,
		},
	})
}

func goEnvironment(t *testing.T) map[string]string {
	t.Helper()
	out, err := exec.Command("go", "env", "-json", "GOCACHE", "GOMODCACHE", "GOPATH", "GOPROXY", "GOROOT").Output()
	if err != nil {
		t.Fatalf("go env: %v", err)
	}
	env := map[string]string{}
	// The servers' builds compile the Go standard library once into a
	// cache of the host's (not of the scripts' HOME, which is /no-home).
	if d, err := os.UserCacheDir(); err == nil {
		env["SLIPWAY_GO_STD_CACHE"] = filepath.Join(d, "slipway", "go-std")
	}
	if err := json.Unmarshal(out, &env); err != nil {
		t.Fatalf("go env: %v", err)
	}
	return env
}

func git(ts *testscript.TestScript, dir string, args ...string) {
	c := exec.Command("git", append([]string{"-c", "user.name=Slipway test", "-c", "user.email=test@slipway.invalid", "-c", "commit.gpgsign=false"}, args...)...)
	c.Dir = ts.MkAbs(dir)
	c.Env = append(os.Environ(), "HOME="+ts.Getenv("WORK"), "GIT_CONFIG_NOSYSTEM=1")
	if out, err := c.CombinedOutput(); err != nil {
		ts.Fatalf("git %s: %v\n%s", strings.Join(args, " "), err, out)
	}
}

// gitinit DIR: make DIR (already holding files) a repository with one
// commit on main.
func cmdGitInit(ts *testscript.TestScript, neg bool, args []string) {
	if neg || len(args) != 1 {
		ts.Fatalf("usage: gitinit DIR")
	}
	git(ts, args[0], "init", "-q", "-b", "main")
	git(ts, args[0], "add", "-A")
	git(ts, args[0], "commit", "-q", "-m", "initial")
}

// gitcommit DIR MESSAGE: commit everything in DIR.
func cmdGitCommit(ts *testscript.TestScript, neg bool, args []string) {
	if neg || len(args) != 2 {
		ts.Fatalf("usage: gitcommit DIR MESSAGE")
	}
	git(ts, args[0], "add", "-A")
	git(ts, args[0], "commit", "-q", "-m", args[1])
}

// subst FILE...: expand the script's $VAR and ${VAR} in files, in place;
// variables the script does not set (such as $PORT) are left alone.
func cmdSubst(ts *testscript.TestScript, neg bool, args []string) {
	if neg || len(args) == 0 {
		ts.Fatalf("usage: subst FILE...")
	}
	expand := func(name string) string {
		if v := ts.Getenv(name); v != "" {
			return v
		}
		return "$" + name
	}
	for _, f := range args {
		b, err := os.ReadFile(ts.MkAbs(f))
		ts.Check(err)
		ts.Check(os.WriteFile(ts.MkAbs(f), []byte(os.Expand(string(b), expand)), 0o644))
	}
}

// serverInfo reads DATA/server.json.
func serverInfo(ts *testscript.TestScript, data string) (url, proxy string, pid int, ok bool) {
	info, ok := readServerInfo(ts, data)
	return info.URL, info.ProxyURL, info.PID, ok
}

// serverJSON is the server's server.json.
type serverJSON struct {
	URL      string `json:"url"`
	ProxyURL string `json:"proxy_url"`
	PID      int    `json:"pid"`
	CA       string `json:"ca"`
}

func readServerInfo(ts *testscript.TestScript, data string) (serverJSON, bool) {
	b, err := os.ReadFile(filepath.Join(ts.MkAbs(data), "server.json"))
	if err != nil {
		return serverJSON{}, false
	}
	var info serverJSON
	if json.Unmarshal(b, &info) != nil {
		return serverJSON{}, false
	}
	return info, true
}

// apiHTTPClient returns a client for the server using data: one that trusts
// the server's own CA when it serves TLS with a certificate it issued.
func apiHTTPClient(ts *testscript.TestScript, data string) *http.Client {
	info, ok := readServerInfo(ts, data)
	if !ok || info.CA == "" {
		return http.DefaultClient
	}
	pem, err := os.ReadFile(info.CA)
	ts.Check(err)
	pool := x509.NewCertPool()
	pool.AppendCertsFromPEM(pem)
	return &http.Client{Transport: &http.Transport{TLSClientConfig: &tls.Config{RootCAs: pool, MinVersion: tls.VersionTLS12}}}
}

// waitserver DATA: wait until the server using DATA answers its health
// check; sets API_URL, PROXY_PORT and TOKEN (the admin token).
func cmdWaitServer(ts *testscript.TestScript, neg bool, args []string) {
	if neg || len(args) != 1 {
		ts.Fatalf("usage: waitserver DATA")
	}
	deadline := time.Now().Add(60 * time.Second)
	for time.Now().Before(deadline) {
		if url, proxy, _, ok := serverInfo(ts, args[0]); ok {
			resp, err := apiHTTPClient(ts, args[0]).Get(url + "/components/v1/healthz")
			if err == nil {
				_ = resp.Body.Close()
				if resp.StatusCode == http.StatusOK {
					token, err := os.ReadFile(filepath.Join(ts.MkAbs(args[0]), "admin-token"))
					ts.Check(err)
					ts.Setenv("TOKEN", strings.TrimSpace(string(token)))
					ts.Setenv("API_URL", url)
					ts.Setenv("PROXY_PORT", proxy[strings.LastIndex(proxy, ":")+1:])
					return
				}
			}
		}
		time.Sleep(50 * time.Millisecond)
	}
	ts.Fatalf("server using %s did not become healthy within 60s", args[0])
}

// deployment fetches a deployment of a tool from the API.
func deployment(ts *testscript.TestScript, tool, id string) (map[string]any, error) {
	body, status, err := adminGet(ts, "/components/v1/tool/"+tool+"/deployment/"+id)
	if err != nil {
		return nil, err
	}
	var env struct {
		Data map[string]any `json:"data"`
	}
	if err := json.Unmarshal(body, &env); err != nil {
		return nil, err
	}
	if status != http.StatusOK {
		return nil, fmt.Errorf("status %d", status)
	}
	return env.Data, nil
}

// adminGet GETs path from the script's server with the admin token.
func adminGet(ts *testscript.TestScript, path string) ([]byte, int, error) {
	url, _, _, ok := serverInfo(ts, ts.Getenv("SLIPWAY_DATA"))
	if !ok {
		return nil, 0, fmt.Errorf("no server.json")
	}
	token, err := os.ReadFile(filepath.Join(ts.Getenv("SLIPWAY_DATA"), "admin-token"))
	if err != nil {
		return nil, 0, err
	}
	req, err := http.NewRequestWithContext(context.Background(), http.MethodGet, url+path, nil)
	if err != nil {
		return nil, 0, err
	}
	req.Header.Set("Authorization", "Bearer "+strings.TrimSpace(string(token)))
	resp, err := apiHTTPClient(ts, ts.Getenv("SLIPWAY_DATA")).Do(req)
	if err != nil {
		return nil, 0, err
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	return body, resp.StatusCode, err
}

// waitdeployments TOOL N: wait until the tool has at least N deployments
// (at most 120 s), and print how many.
func cmdWaitDeployments(ts *testscript.TestScript, neg bool, args []string) {
	if neg || len(args) != 2 {
		ts.Fatalf("usage: waitdeployments TOOL N")
	}
	want, err := strconv.Atoi(args[1])
	ts.Check(err)
	deadline := time.Now().Add(120 * time.Second)
	n := 0
	for time.Now().Before(deadline) {
		body, status, err := adminGet(ts, "/components/v1/tool/"+args[0]+"/deployment")
		var env struct {
			Data struct {
				Deployments []json.RawMessage `json:"deployments"`
			} `json:"data"`
		}
		if err == nil && status == http.StatusOK && json.Unmarshal(body, &env) == nil {
			if n = len(env.Data.Deployments); n >= want {
				fmt.Fprintf(ts.Stdout(), "deployments: %d\n", n)
				return
			}
		}
		time.Sleep(50 * time.Millisecond)
	}
	ts.Fatalf("%s has %d deployments after 120s, want %d", args[0], n, want)
}

// waitmetric PREFIX N: wait until the server's metrics whose line starts
// with PREFIX add up to at least N (at most 120 s), and print the sum.
func cmdWaitMetric(ts *testscript.TestScript, neg bool, args []string) {
	if neg || len(args) != 2 {
		ts.Fatalf("usage: waitmetric PREFIX N")
	}
	want, err := strconv.ParseFloat(args[1], 64)
	ts.Check(err)
	deadline := time.Now().Add(120 * time.Second)
	sum := 0.0
	for time.Now().Before(deadline) {
		body, status, err := adminGet(ts, "/metrics")
		if err == nil && status == http.StatusOK {
			sum = 0
			for line := range strings.SplitSeq(string(body), "\n") {
				if rest, ok := strings.CutPrefix(line, args[0]); ok {
					if v, err := strconv.ParseFloat(strings.TrimSpace(rest[strings.LastIndex(rest, " ")+1:]), 64); err == nil {
						sum += v
					}
				}
			}
			if sum >= want {
				fmt.Fprintf(ts.Stdout(), "%s: %g\n", args[0], sum)
				return
			}
		}
		time.Sleep(50 * time.Millisecond)
	}
	ts.Fatalf("metrics %s add up to %g after 120s, want %g", args[0], sum, want)
}

// waitstep TOOL KEY STATE: wait until the latest deployment's step KEY is
// in STATE.
func cmdWaitStep(ts *testscript.TestScript, neg bool, args []string) {
	if neg || len(args) != 3 {
		ts.Fatalf("usage: waitstep TOOL KEY STATE")
	}
	deadline := time.Now().Add(60 * time.Second)
	last := ""
	for time.Now().Before(deadline) {
		d, err := deployment(ts, args[0], "latest")
		if err == nil {
			steps, _ := d["steps"].([]any)
			for _, s := range steps {
				st, _ := s.(map[string]any)
				if st["key"] == args[1] {
					last, _ = st["state"].(string)
				}
			}
			if last == args[2] {
				return
			}
		}
		time.Sleep(20 * time.Millisecond)
	}
	ts.Fatalf("step %s of %s never reached %s (last seen %q)", args[1], args[0], args[2], last)
}

// waitrolledback TOOL ID VAR MAX: wait, at most MAX (a Go duration: the
// auto-rollback window), until deployment ID of TOOL records the
// deployment that rolled it back (rolled_back_by), and set VAR to it.
func cmdWaitRolledBack(ts *testscript.TestScript, neg bool, args []string) {
	if neg || len(args) != 4 {
		ts.Fatalf("usage: waitrolledback TOOL ID VAR MAX")
	}
	limit, err := time.ParseDuration(args[3])
	ts.Check(err)
	deadline := time.Now().Add(limit)
	for time.Now().Before(deadline) {
		d, err := deployment(ts, args[0], args[1])
		if by, _ := d["rolled_back_by"].(string); err == nil && by != "" {
			ts.Setenv(args[2], by)
			return
		}
		time.Sleep(200 * time.Millisecond)
	}
	ts.Fatalf("deployment %s of %s not rolled back within %s", args[1], args[0], limit)
}

// waitdeploy TOOL: wait until the latest deployment is final and print
// its status and long status.
func cmdWaitDeploy(ts *testscript.TestScript, neg bool, args []string) {
	if neg || len(args) != 1 {
		ts.Fatalf("usage: waitdeploy TOOL")
	}
	deadline := time.Now().Add(120 * time.Second)
	status := ""
	for time.Now().Before(deadline) {
		d, err := deployment(ts, args[0], "latest")
		if err == nil {
			status, _ = d["status"].(string)
			switch status {
			case "pending", "running", "cancelling":
			default:
				fmt.Fprintf(ts.Stdout(), "status: %s\nlong_status: %v\n", status, d["long_status"])
				return
			}
		}
		time.Sleep(50 * time.Millisecond)
	}
	ts.Fatalf("deployment of %s not final after 120s (last status %q)", args[0], status)
}

// steps FILE: print "key state action" for each step of the deployment
// JSON (data only, as `deployment show --json` prints it) in FILE.
func cmdSteps(ts *testscript.TestScript, neg bool, args []string) {
	if neg || len(args) != 1 {
		ts.Fatalf("usage: steps FILE")
	}
	var d struct {
		Steps []struct{ Key, State, Action string }
	}
	ts.Check(json.Unmarshal([]byte(ts.ReadFile(args[0])), &d))
	if len(d.Steps) == 0 {
		ts.Fatalf("%s has no steps", args[0])
	}
	for _, s := range d.Steps {
		fmt.Fprintf(ts.Stdout(), "%s %s %s\n", s.Key, s.State, s.Action)
	}
}

// starts TOOL COMPONENT N: assert that the component's processes were
// started exactly N times in all (replica 0's log counts start markers).
func cmdStarts(ts *testscript.TestScript, neg bool, args []string) {
	if len(args) != 3 {
		ts.Fatalf("usage: starts TOOL COMPONENT N")
	}
	want, err := strconv.Atoi(args[2])
	ts.Check(err)
	b, err := os.ReadFile(filepath.Join(ts.Getenv("SLIPWAY_DATA"), "run", args[0], args[1], "0.log"))
	ts.Check(err)
	got := strings.Count(string(b), "--- started pid")
	if (got == want) == neg {
		ts.Fatalf("%s/%s started %d times, want %s%d\n%s", args[0], args[1], got, map[bool]string{true: "not ", false: ""}[neg], want, b)
	}
}

// lines FILE N: assert that FILE has exactly N lines.
func cmdLines(ts *testscript.TestScript, neg bool, args []string) {
	if neg || len(args) != 2 {
		ts.Fatalf("usage: lines FILE N")
	}
	want, err := strconv.Atoi(args[1])
	ts.Check(err)
	got := strings.Count(ts.ReadFile(args[0]), "\n")
	if got != want {
		ts.Fatalf("%s has %d lines, want %d", args[0], got, want)
	}
}

// count FILE REGEX N: assert that REGEX (multi-line: ^ and $ match at line
// breaks) matches exactly N times in FILE, which may be stdout or stderr.
func cmdCount(ts *testscript.TestScript, neg bool, args []string) {
	if neg || len(args) != 3 {
		ts.Fatalf("usage: count FILE REGEX N")
	}
	re, err := regexp.Compile("(?m)" + args[1])
	ts.Check(err)
	want, err := strconv.Atoi(args[2])
	ts.Check(err)
	text := ts.ReadFile(args[0])
	if got := len(re.FindAllStringIndex(text, -1)); got != want {
		ts.Fatalf("%s matches %s %d times, want %d\n%s", args[0], args[1], got, want, text)
	}
}

// setvar VAR FILE REGEX: set VAR to the first submatch of REGEX's first
// match in FILE, which may be stdout or stderr.
func cmdSetVar(ts *testscript.TestScript, neg bool, args []string) {
	if neg || len(args) != 3 {
		ts.Fatalf("usage: setvar VAR FILE REGEX")
	}
	re, err := regexp.Compile("(?m)" + args[2])
	ts.Check(err)
	if re.NumSubexp() < 1 {
		ts.Fatalf("setvar: %s has no submatch", args[2])
	}
	text := ts.ReadFile(args[1])
	m := re.FindStringSubmatch(text)
	if m == nil {
		ts.Fatalf("%s does not match %s\n%s", args[1], args[2], text)
	}
	ts.Setenv(args[0], m[1])
}

// stopped TOOL ID MAX: assert that the deployment (ID may be latest) went
// from cancelling to cancelled within MAX (a Go duration), measured between
// the server's times of its two deployment events: from the moment the
// cancel request was accepted to the moment the deployment was final. The
// deployment must be final already. Prints the time it took.
func cmdStopped(ts *testscript.TestScript, neg bool, args []string) {
	if neg || len(args) != 3 {
		ts.Fatalf("usage: stopped TOOL ID MAX")
	}
	limit, err := time.ParseDuration(args[2])
	ts.Check(err)
	url, _, _, ok := serverInfo(ts, ts.Getenv("SLIPWAY_DATA"))
	if !ok {
		ts.Fatalf("no server.json")
	}
	token, err := os.ReadFile(filepath.Join(ts.Getenv("SLIPWAY_DATA"), "admin-token"))
	ts.Check(err)
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, url+"/components/v1/tool/"+args[0]+"/deployment/"+args[1]+"/events", nil)
	ts.Check(err)
	req.Header.Set("Authorization", "Bearer "+strings.TrimSpace(string(token)))
	resp, err := http.DefaultClient.Do(req)
	ts.Check(err)
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body) // the stream ends: the deployment is final
	ts.Check(err)
	if resp.StatusCode != http.StatusOK {
		ts.Fatalf("events of %s/%s: status %d\n%s", args[0], args[1], resp.StatusCode, body)
	}
	var from, to time.Time
	final := ""
	for line := range strings.SplitSeq(string(body), "\n") {
		data, ok := strings.CutPrefix(line, "data: ")
		if !ok {
			continue
		}
		var ev struct {
			Kind, State string
			Time        time.Time
		}
		ts.Check(json.Unmarshal([]byte(data), &ev))
		if ev.Kind != "deployment" {
			continue
		}
		switch ev.State {
		case "cancelling":
			if from.IsZero() {
				from = ev.Time
			}
		case "pending", "running":
		default:
			final, to = ev.State, ev.Time
		}
	}
	switch {
	case from.IsZero():
		ts.Fatalf("%s/%s was never cancelling\n%s", args[0], args[1], body)
	case final != "cancelled":
		ts.Fatalf("%s/%s ended %q, not cancelled\n%s", args[0], args[1], final, body)
	}
	took := to.Sub(from)
	fmt.Fprintf(ts.Stdout(), "cancelling to cancelled in %s\n", took.Round(time.Millisecond))
	if took > limit {
		ts.Fatalf("%s/%s took %s from cancelling to cancelled, more than %s\n%s", args[0], args[1], took, limit, body)
	}
}

// poll URL: GET URL (which carries its own credentials, e.g. ?token=) every
// second, as CI scripts do, until .data.status is neither pending nor
// running, and print "status: <status>". Fails on a response without a
// status and after 120 s.
func cmdPoll(ts *testscript.TestScript, neg bool, args []string) {
	if neg || len(args) != 1 {
		ts.Fatalf("usage: poll URL")
	}
	deadline := time.Now().Add(120 * time.Second)
	for {
		resp, err := http.Get(args[0])
		ts.Check(err)
		body, err := io.ReadAll(resp.Body)
		_ = resp.Body.Close()
		ts.Check(err)
		var env struct {
			Data struct {
				Status *string `json:"status"`
			} `json:"data"`
		}
		if err := json.Unmarshal(body, &env); err != nil || resp.StatusCode != http.StatusOK || env.Data.Status == nil {
			ts.Fatalf("poll: %d %s", resp.StatusCode, body)
		}
		if s := *env.Data.Status; s != "pending" && s != "running" {
			fmt.Fprintf(ts.Stdout(), "status: %s\n", s)
			return
		}
		if time.Now().After(deadline) {
			ts.Fatalf("poll: still %s after 120s", *env.Data.Status)
		}
		time.Sleep(time.Second)
	}
}

// errmsg FILE: FILE must be a JSON error envelope (messages, no data);
// print its messages.error[0].
func cmdErrMsg(ts *testscript.TestScript, neg bool, args []string) {
	if neg || len(args) != 1 {
		ts.Fatalf("usage: errmsg FILE")
	}
	var env struct {
		Data     json.RawMessage `json:"data"`
		Messages struct {
			Error []string `json:"error"`
		} `json:"messages"`
	}
	text := ts.ReadFile(args[0])
	if err := json.Unmarshal([]byte(text), &env); err != nil {
		ts.Fatalf("%s is not JSON: %v\n%s", args[0], err, text)
	}
	if env.Data != nil || len(env.Messages.Error) == 0 {
		ts.Fatalf("%s is not an error envelope: %s", args[0], text)
	}
	fmt.Fprintln(ts.Stdout(), env.Messages.Error[0])
}

// fileServersKey keys the script's file servers (by variable) in its
// values.
type fileServersKey struct{}

// serve DIR VAR: serve the files in DIR over HTTP on 127.0.0.1:0 (a
// missing file is 404) until stopserve VAR or the end of the script, and
// set VAR to the server's URL.
func cmdServe(ts *testscript.TestScript, neg bool, args []string) {
	if neg || len(args) != 2 {
		ts.Fatalf("usage: serve DIR VAR")
	}
	var lc net.ListenConfig
	ln, err := lc.Listen(context.Background(), "tcp", "127.0.0.1:0")
	ts.Check(err)
	srv := &http.Server{Handler: http.FileServer(http.Dir(ts.MkAbs(args[0]))), ReadHeaderTimeout: 10 * time.Second}
	go func() { _ = srv.Serve(ln) }()
	ts.Value(fileServersKey{}).(map[string]*http.Server)[args[1]] = srv
	ts.Defer(func() { _ = srv.Close() })
	ts.Setenv(args[1], "http://"+ln.Addr().String())
}

// stopserve VAR: stop the file server that serve started for VAR; its
// address then refuses connections.
func cmdStopServe(ts *testscript.TestScript, neg bool, args []string) {
	if neg || len(args) != 1 {
		ts.Fatalf("usage: stopserve VAR")
	}
	srv, ok := ts.Value(fileServersKey{}).(map[string]*http.Server)[args[0]]
	if !ok {
		ts.Fatalf("stopserve: no file server for %s", args[0])
	}
	ts.Check(srv.Close())
}

// gone TEXT: assert that no process whose command line contains TEXT is
// left, waiting up to 10 s for killed ones to disappear (a signal to a
// process group is delivered asynchronously).
func cmdGone(ts *testscript.TestScript, neg bool, args []string) {
	if neg || len(args) != 1 {
		ts.Fatalf("usage: gone TEXT")
	}
	var left []string
	for end := time.Now().Add(10 * time.Second); time.Now().Before(end); time.Sleep(20 * time.Millisecond) {
		left = processesMatching(args[0])
		if len(left) == 0 {
			return
		}
	}
	ts.Fatalf("processes matching %q still run after 10s: %v", args[0], left)
}

// running TEXT: wait (up to 10s) until a process whose command line
// contains TEXT runs: one a build or a component starts in its sandbox a
// moment after its step is running.
func cmdRunning(ts *testscript.TestScript, neg bool, args []string) {
	if neg || len(args) != 1 {
		ts.Fatalf("usage: running TEXT")
	}
	for end := time.Now().Add(10 * time.Second); time.Now().Before(end); time.Sleep(20 * time.Millisecond) {
		if found := processesMatching(args[0]); len(found) > 0 {
			ts.Logf("running: %s", strings.Join(found, "; "))
			return
		}
	}
	ts.Fatalf("no process matching %q runs after 10s", args[0])
}

// processesMatching lists "pid cmdline" of live (non-zombie) processes
// whose command line contains text.
func processesMatching(text string) []string {
	var out []string
	for _, p := range slipwaytest.Processes(func(p slipwaytest.Proc) bool { return strings.Contains(p.Cmdline, text) }) {
		out = append(out, strconv.Itoa(p.PID)+" "+p.Cmdline)
	}
	return out
}

// waitfile FILE TEXT: wait up to 60 s until FILE exists and contains TEXT
// (a build's log reaching a line, say).
func cmdWaitFile(ts *testscript.TestScript, neg bool, args []string) {
	if neg || len(args) != 2 {
		ts.Fatalf("usage: waitfile FILE TEXT")
	}
	for end := time.Now().Add(60 * time.Second); time.Now().Before(end); time.Sleep(20 * time.Millisecond) {
		if b, err := os.ReadFile(ts.MkAbs(args[0])); err == nil && strings.Contains(string(b), args[1]) {
			return
		}
	}
	ts.Fatalf("%s does not contain %q after 60s", args[0], args[1])
}

// servegit DIR VAR USER PASS [push]: serve the git repository DIR over git's
// smart HTTP protocol (the real git http-backend) on 127.0.0.1:0, asking
// for HTTP basic authentication as USER:PASS, as a forge serving a private
// repository does, until the end of the script. Sets VAR to its URL without
// credentials (http://127.0.0.1:<port>/<name>) and VAR_HOST to
// 127.0.0.1:<port>. With "push" it accepts pushes too, which run the
// repository's hooks (post-receive) as a forge's do.
func cmdServeGit(ts *testscript.TestScript, neg bool, args []string) {
	if neg || len(args) < 4 || len(args) > 5 || (len(args) == 5 && args[4] != "push") {
		ts.Fatalf("usage: servegit DIR VAR USER PASS [push]")
	}
	dir := ts.MkAbs(args[0])
	g, err := slipwaytest.NewGitHTTP(filepath.Dir(dir), ts.MkAbs(".githttp-home"), args[2], args[3])
	ts.Check(err)
	g.Push = len(args) == 5
	var lc net.ListenConfig
	ln, err := lc.Listen(context.Background(), "tcp", "127.0.0.1:0")
	ts.Check(err)
	srv := &http.Server{Handler: g, ReadHeaderTimeout: 10 * time.Second}
	go func() { _ = srv.Serve(ln) }()
	ts.Defer(func() { _ = srv.Close() })
	ts.Setenv(args[1]+"_HOST", ln.Addr().String())
	ts.Setenv(args[1], "http://"+ln.Addr().String()+"/"+filepath.Base(dir))
}

// blackhole VAR: set VAR to the address of a TCP port on 127.0.0.1 that
// never completes a connection (slipwaytest.Blackhole), until the end of
// the script.
func cmdBlackhole(ts *testscript.TestScript, neg bool, args []string) {
	if neg || len(args) != 1 {
		ts.Fatalf("usage: blackhole VAR")
	}
	addr, closeFn, err := slipwaytest.ListenBlackhole()
	ts.Check(err)
	ts.Defer(closeFn)
	ts.Setenv(args[0], addr)
}

// silent VAR: set VAR to the address of a TCP listener on 127.0.0.1 that
// accepts connections and never sends a byte, until the end of the script.
func cmdSilent(ts *testscript.TestScript, neg bool, args []string) {
	if neg || len(args) != 1 {
		ts.Fatalf("usage: silent VAR")
	}
	var lc net.ListenConfig
	ln, err := lc.Listen(context.Background(), "tcp", "127.0.0.1:0")
	ts.Check(err)
	var conns []net.Conn
	done := make(chan struct{})
	go func() {
		defer close(done)
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			conns = append(conns, c)
		}
	}()
	ts.Defer(func() {
		_ = ln.Close()
		<-done
		for _, c := range conns {
			_ = c.Close()
		}
	})
	ts.Setenv(args[0], ln.Addr().String())
}

// nosecret TEXT PATH...: assert that no file under the PATHs (directories
// are walked, every regular file read whole: databases, write-ahead logs,
// logs, state files) contains TEXT; the names stdout and stderr are the
// last command's output. Prints how many files and bytes it read.
func cmdNoSecret(ts *testscript.TestScript, neg bool, args []string) {
	if neg || len(args) < 2 {
		ts.Fatalf("usage: nosecret TEXT PATH...")
	}
	text := args[0]
	files, bytes := 0, 0
	var hits []string
	check := func(name, content string) {
		files++
		bytes += len(content)
		if strings.Contains(content, text) {
			hits = append(hits, name)
		}
	}
	for _, p := range args[1:] {
		if p == "stdout" || p == "stderr" {
			check(p, ts.ReadFile(p))
			continue
		}
		err := filepath.WalkDir(ts.MkAbs(p), func(path string, d os.DirEntry, err error) error {
			if err != nil {
				return err
			}
			if !d.Type().IsRegular() {
				return nil
			}
			b, err := os.ReadFile(path)
			if err != nil {
				return err
			}
			check(path, string(b))
			return nil
		})
		ts.Check(err)
	}
	fmt.Fprintf(ts.Stdout(), "nosecret: %d files, %d bytes\n", files, bytes)
	if len(hits) > 0 {
		ts.Fatalf("%q found in %d files:\n%s", text, len(hits), strings.Join(hits, "\n"))
	}
}

// waitquestion TOOL VAR: wait up to 60 s until the tool has an open
// question (asked by a process or a gate), and set VAR to its id.
func cmdWaitQuestion(ts *testscript.TestScript, neg bool, args []string) {
	if neg || len(args) != 2 {
		ts.Fatalf("usage: waitquestion TOOL VAR")
	}
	data := ts.Getenv("SLIPWAY_DATA")
	last := ""
	for end := time.Now().Add(60 * time.Second); time.Now().Before(end); time.Sleep(50 * time.Millisecond) {
		url, _, _, ok := serverInfo(ts, data)
		token, err := os.ReadFile(filepath.Join(data, "admin-token"))
		if !ok || err != nil {
			continue
		}
		req, err := http.NewRequestWithContext(context.Background(), http.MethodGet, url+"/interactions/v1/tool/"+args[0]+"/questions?state=open", nil)
		ts.Check(err)
		req.Header.Set("Authorization", "Bearer "+strings.TrimSpace(string(token)))
		resp, err := apiHTTPClient(ts, data).Do(req)
		if err != nil {
			last = err.Error()
			continue
		}
		var env struct {
			Data []struct {
				ID string `json:"id"`
			} `json:"data"`
		}
		err = json.NewDecoder(resp.Body).Decode(&env)
		_ = resp.Body.Close()
		if err == nil && resp.StatusCode == http.StatusOK && len(env.Data) > 0 {
			ts.Setenv(args[1], env.Data[0].ID)
			return
		}
		last = fmt.Sprintf("status %d, %d questions, %v", resp.StatusCode, len(env.Data), err)
	}
	ts.Fatalf("no open question of %s after 60s (last: %s)", args[0], last)
}

// freeport VAR: set VAR to a TCP port of 127.0.0.1 that was free a moment
// ago, for a server that must listen on the same port after a restart.
func cmdFreePort(ts *testscript.TestScript, neg bool, args []string) {
	if neg || len(args) != 1 {
		ts.Fatalf("usage: freeport VAR")
	}
	var lc net.ListenConfig
	ln, err := lc.Listen(context.Background(), "tcp", "127.0.0.1:0")
	ts.Check(err)
	port := ln.Addr().(*net.TCPAddr).Port
	ts.Check(ln.Close())
	ts.Setenv(args[0], strconv.Itoa(port))
}
