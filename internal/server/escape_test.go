package server_test

import (
	"encoding/base64"
	"encoding/json"
	"fmt"
	"net"
	"os"
	"os/exec"
	"os/signal"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"sync/atomic"
	"syscall"
	"testing"

	"slipway.dev/slipway/internal/auth"
	"slipway.dev/slipway/internal/slipwaytest"
	"slipway.dev/slipway/internal/slipwaytest/servertest"
)

// The escape suite: a tool is an untrusted guest. Tool "attacker" runs the
// same attacks from a build step and from a running component, knowing
// every host path and pid there is to know, against the server's secrets
// (admin token, secret key, CA key, database, environment), tool
// "victim" (its artifact, log, home, environment and processes) and its own
// artifact. Every attempt must fail, and the test checks each one by its
// effect: no secret in what it printed, no file changed, no signal
// delivered.

// attempt is one escape attempt of the attack script: a shell command
// whose output must not contain leak (when set), and which must not
// succeed when mustFail is set (writes and signals).
type attempt struct {
	name     string
	command  string
	leak     string
	mustFail bool
}

// attackScript returns the script that runs each attempt and prints
// "ATTEMPT <name> rc=<exit status> out=<base64 of its first 600 bytes>".
func attackScript(attempts []attempt) string {
	var b strings.Builder
	b.WriteString("#!/bin/sh\n# An attacker's script: every way out this test knows of.\n")
	b.WriteString(`try() { o=$(sh -c "$2" 2>&1 </dev/null); rc=$?; out=$(printf '%s' "$o" | head -c 600 | base64 -w0); echo "ATTEMPT $1 rc=$rc out=$out"; }` + "\n")
	for _, a := range attempts {
		fmt.Fprintf(&b, "try %s %s\n", a.name, shellQuote(a.command))
	}
	b.WriteString("echo ATTACK DONE\n")
	return b.String()
}

func shellQuote(s string) string { return "'" + strings.ReplaceAll(s, "'", `'\''`) + "'" }

var attemptLine = regexp.MustCompile(`(?m)^ATTEMPT (\S+) rc=(\d+) out=(\S*)$`)

// checkAttempts finds every attempt's line in log and fails the test for
// each one that got out; it returns how many it checked.
func checkAttempts(t *testing.T, where, log string, attempts []attempt) int {
	t.Helper()
	got := map[string][2]string{}
	for _, m := range attemptLine.FindAllStringSubmatch(log, -1) {
		got[m[1]] = [2]string{m[2], m[3]}
	}
	n := 0
	for _, a := range attempts {
		r, ok := got[a.name]
		if !ok {
			t.Errorf("%s: attempt %s did not run:\n%s", where, a.name, log)
			continue
		}
		out, err := base64.StdEncoding.DecodeString(r[1])
		if err != nil {
			t.Errorf("%s: attempt %s: bad output %q", where, a.name, r[1])
			continue
		}
		if a.leak != "" && strings.Contains(string(out), a.leak) {
			t.Errorf("%s: attempt %s LEAKED %q: %s", where, a.name, a.leak, out)
		}
		if a.mustFail && r[0] == "0" {
			t.Errorf("%s: attempt %s succeeded (rc 0): %s", where, a.name, out)
		}
		n++
	}
	return n
}

func TestEscape(t *testing.T) {
	if testing.Short() {
		t.Skip("builds and runs real tools; skipped with -short")
	}
	if _, err := exec.LookPath("bwrap"); err != nil {
		t.Skip("bubblewrap is not installed (make deps installs it)")
	}
	// A signal to the server is counted, not obeyed.
	var sigs atomic.Int32
	ch := make(chan os.Signal, 8)
	signal.Notify(ch, syscall.SIGUSR1)
	defer signal.Stop(ch)
	go func() {
		for range ch {
			sigs.Add(1)
		}
	}()

	hostDirs := map[string]string{"/etc": dirMode(t, "/etc"), "/root": dirMode(t, "/root")}
	s := servertest.Start(t)
	if _, err := auth.LoadOrCreateCA(s.DataDir); err != nil { // as `slipway admin cert issue` makes it
		t.Fatal(err)
	}
	data := s.DataDir
	ctx := t.Context()
	read := func(p string) string {
		b, err := os.ReadFile(p)
		if err != nil {
			t.Fatal(err)
		}
		return string(b)
	}

	// The victim: an artifact, a log, a home and an environment with
	// secrets of their own, and a process that reports any signal.
	victim := slipwaytest.GitRepo(t, map[string]string{"secret.txt": "victim-artifact-secret-6c1f\n"})
	victimCfg := `{"components": {"web": {"component_type": "continuous", "build": {"repository": "` + victim.URL + `", "ref": "main"},
	  "run": {"command": "echo victim-log-secret-93ab; echo victim-home-secret-51d2 > $HOME/secret; trap 'echo VICTIM GOT A SIGNAL' USR1; while :; do sleep 0.2; done"}},
	  "api": {"component_type": "continuous", "build": {"reuse_from": "web"},
	  "run": {"command": "exec python3 -m http.server $PORT --bind 0.0.0.0", "port": 8000}},
	  "ask": {"component_type": "one-off", "build": {"reuse_from": "web"}, "wait_for": ["api"],
	  "run": {"command": "echo asking $SLIPWAY_API_URL; curl -sSf --max-time 5 $SLIPWAY_API_URL/secret.txt"}}}}`
	if _, err := s.Client.ConfigCreate(ctx, "victim", []byte(victimCfg)); err != nil {
		t.Fatal(err)
	}
	if _, err := s.Client.EnvVarCreate(ctx, "victim", "VICTIM_SECRET", "victim-env-secret-7e44"); err != nil {
		t.Fatal(err)
	}
	s.DeployTool(t, "victim")
	victimArtifacts, _ := filepath.Glob(filepath.Join(data, "builder", "builds", "victim", "*", "secret.txt"))
	if len(victimArtifacts) != 1 {
		t.Fatalf("victim artifacts: %v", victimArtifacts)
	}
	victimLog := filepath.Join(data, "run", "victim", "web", "0.log")
	victimHome := filepath.Join(data, "tools", "victim", "home")
	servertest.Eventually(t, func() string {
		if !strings.Contains(read(victimLog), "victim-log-secret-93ab") {
			return "the victim has not logged yet"
		}
		return ""
	})
	victimPID := appPID(t, "victim-log-secret-93ab")
	// The victim's own processes reach its api at its service address
	// (the one-off would have failed the deployment otherwise).
	if askLog := strings.Join(globRead(t, filepath.Join(data, "run", "victim", "ask", "runs", "*.log")), ""); !strings.Contains(askLog, "victim-artifact-secret-6c1f") {
		t.Errorf("the victim's one-off did not reach its api by $SLIPWAY_API_URL:\n%s", askLog)
	}
	// The victim's unpublished port, on loopback and on the host's address.
	var api struct {
		Replicas []struct {
			Port int `json:"port"`
		} `json:"replicas"`
		ServicePort int `json:"service_port"`
	}
	if err := json.Unmarshal([]byte(read(filepath.Join(data, "run", "victim", "api", "state.json"))), &api); err != nil || len(api.Replicas) != 1 || api.ServicePort == 0 {
		t.Fatalf("victim api state: %v %+v", err, api)
	}
	victimPort := strconv.Itoa(api.Replicas[0].Port)
	// The victim's service address (its $SLIPWAY_API_URL), which the
	// server itself serves: for the victim's processes only.
	victimService := strconv.Itoa(api.ServicePort)
	isolated := strings.Contains(s.Sandbox(), "tools reach no port of this host")

	adminToken := strings.TrimSpace(read(filepath.Join(data, "admin-token")))
	secretKey := read(filepath.Join(data, "secret-key"))
	serverEnv := serverEnvMarker(t)
	attempts := []attempt{
		{name: "read-admin-token", command: "cat " + filepath.Join(data, "admin-token"), leak: adminToken},
		{name: "read-secret-key", command: "cat " + filepath.Join(data, "secret-key"), leak: secretKey[:8]},
		{name: "read-ca-key", command: "cat " + filepath.Join(data, "ca", "ca.key"), leak: "PRIVATE KEY"},
		{name: "read-database", command: "head -c 64 " + filepath.Join(data, "slipway.db"), leak: "SQLite format 3"},
		{name: "list-data-dir", command: "ls -la " + data, leak: "slipway.db"},
		{name: "read-victim-artifact", command: "cat " + victimArtifacts[0], leak: "victim-artifact-secret-6c1f"},
		{name: "read-victim-log", command: "cat " + victimLog, leak: "victim-log-secret-93ab"},
		{name: "read-victim-home", command: "cat " + filepath.Join(victimHome, "secret"), leak: "victim-home-secret-51d2"},
		{name: "read-victim-environ", command: "cat /proc/" + strconv.Itoa(victimPID) + "/environ; grep -a VICTIM /proc/*/environ", leak: "victim-env-secret-7e44"},
		{name: "read-server-environ", command: "cat /proc/" + strconv.Itoa(os.Getpid()) + "/environ; cat /proc/1/environ", leak: serverEnv},
		{name: "read-shadow", command: "cat /etc/shadow", leak: "root:"},
		{name: "write-victim-artifact", command: "echo tampered >> " + victimArtifacts[0], mustFail: true},
		{name: "write-victim-home", command: "echo tampered >> " + filepath.Join(victimHome, "secret"), mustFail: true},
		{name: "write-own-artifact-host-path", command: "for f in " + filepath.Join(data, "builder", "builds", "attacker", "*", "index.html") + "; do echo tampered >> $f || exit 1; done; test -e " + filepath.Join(data, "builder", "builds", "attacker"), mustFail: true},
		{name: "signal-server", command: "kill -USR1 " + strconv.Itoa(os.Getpid()), mustFail: true},
		{name: "signal-victim", command: "kill -USR1 " + strconv.Itoa(victimPID), mustFail: true},
		{name: "see-victim-process", command: "ps -eo pid,args 2>/dev/null || ls /proc", leak: "victim-log-secret-93ab"},
		{name: "make-user-namespace", command: "unshare -U -r id", mustFail: true},
		{name: "mount-a-filesystem", command: "mkdir -p /tmp/m && mount -t tmpfs none /tmp/m", mustFail: true},
	}
	if isolated {
		for _, addr := range append([]string{"127.0.0.1", "[::1]"}, hostAddresses(t)...) {
			attempts = append(attempts, attempt{
				name:    "connect-victim-port-" + strings.Trim(strings.ReplaceAll(addr, ":", "_"), "[]"),
				command: "curl -sS --max-time 5 http://" + addr + ":" + victimPort + "/secret.txt", leak: "victim-artifact-secret-6c1f", mustFail: true,
			})
		}
		attempts = append(attempts, attempt{
			name:    "connect-victim-service-address",
			command: "curl -sS --max-time 5 http://127.0.0.1:" + victimService + "/secret.txt", leak: "victim-artifact-secret-6c1f", mustFail: true,
		})
	} else {
		t.Logf("the network is not isolated here (%s): no port attempts", s.Sandbox())
	}
	runtimeOnly := []attempt{
		{name: "write-own-artifact", command: "echo tampered >> /app/index.html", mustFail: true},
	}
	// A build also leaves symlinks where the server makes the tool's cache
	// directories, for the next build: the server must not follow them.
	// What a tool may reach: its server's API (with a credential).
	apiCheck := "curl -s -o /dev/null -w 'API %{http_code}\\n' " + s.URL() + "/components/v1/healthz\n"
	script := attackScript(attempts) + apiCheck + "rm -rf /cache/home /cache/tmp; ln -s /etc /cache/home; ln -s /root /cache/tmp\n"
	attacker := slipwaytest.GitRepo(t, map[string]string{
		"index.html":     "attacker\n",
		".slipway/build": script,
		"attack.sh":      attackScript(append(attempts, runtimeOnly...)) + apiCheck,
	})
	attackerCfg := `{"components": {"web": {"component_type": "continuous", "build": {"repository": "` + attacker.URL + `", "ref": "main"},
	  "run": {"command": "sh attack.sh; exec sleep 3600"}},
	  "self": {"component_type": "continuous", "build": {"reuse_from": "web"},
	  "run": {"command": "exec python3 -m http.server $PORT --bind 127.0.0.1", "port": 8000,
	    "health_check_script": "curl -sf --max-time 5 http://127.0.0.1:$PORT/index.html"}}}}`
	// self's health check script reaches its own port (the deploy waits
	// for it), even where the network is isolated.
	if _, err := s.Client.ConfigCreate(ctx, "attacker", []byte(attackerCfg)); err != nil {
		t.Fatal(err)
	}
	s.DeployTool(t, "attacker")
	ownIndex, _ := filepath.Glob(filepath.Join(data, "builder", "builds", "attacker", "*", "index.html"))
	if len(ownIndex) != 1 {
		t.Fatalf("attacker artifacts: %v", ownIndex)
	}
	// A second build, while the first artifact exists, to attack it too.
	attacker.Commit(t, map[string]string{"index.html": "attacker 2\n"}, "again")
	s.DeployTool(t, "attacker")

	attackerLog := filepath.Join(data, "run", "attacker", "web", "0.log")
	servertest.Eventually(t, func() string {
		// The API check follows the attempts: wait for its answer too.
		_, after, done := strings.Cut(read(attackerLog), "ATTACK DONE")
		if !done || !strings.Contains(after, "API ") {
			return "the attacker's component has not finished its attempts and its API check"
		}
		return ""
	})
	buildLogs, _ := filepath.Glob(filepath.Join(data, "builder", "builds", "attacker", "*.log"))
	if len(buildLogs) != 2 {
		t.Fatalf("attacker build logs: %v", buildLogs)
	}
	n := 0
	for _, bl := range buildLogs {
		n += checkAttempts(t, "build step", read(bl), attempts)
	}
	n += checkAttempts(t, "component", read(attackerLog), append(attempts, runtimeOnly...))
	for _, log := range append(buildLogs, attackerLog) {
		if !strings.Contains(read(log), "API 200") {
			t.Errorf("%s: the tool could not reach its server's API:\n%s", log, read(log))
		}
	}

	// The effects, from outside.
	for dir, was := range hostDirs {
		if now := dirMode(t, dir); now != was {
			t.Errorf("%s is now %s, was %s: the server followed a tool's symlink", dir, now, was)
		}
	}
	if got := read(victimArtifacts[0]); got != "victim-artifact-secret-6c1f\n" {
		t.Errorf("the victim's artifact changed: %q", got)
	}
	if got := read(filepath.Join(victimHome, "secret")); got != "victim-home-secret-51d2\n" {
		t.Errorf("the victim's home changed: %q", got)
	}
	if got := read(ownIndex[0]); got != "attacker\n" {
		t.Errorf("the attacker's first artifact changed: %q", got)
	}
	if strings.Contains(read(victimLog), "VICTIM GOT A SIGNAL") {
		t.Errorf("the victim got a signal:\n%s", read(victimLog))
	}
	if syscall.Kill(victimPID, 0) != nil {
		t.Errorf("the victim's process %d is gone", victimPID)
	}
	if n := sigs.Load(); n != 0 {
		t.Errorf("the server got %d signals from a tool", n)
	}
	t.Logf("%d escape attempts (%d in each of 2 build steps, %d in a running component), every one refused", n, len(attempts), len(attempts)+len(runtimeOnly))
}

// globRead returns the contents of the files matching pattern.
func globRead(t *testing.T, pattern string) []string {
	t.Helper()
	paths, _ := filepath.Glob(pattern)
	var out []string
	for _, p := range paths {
		b, err := os.ReadFile(p)
		if err != nil {
			t.Fatal(err)
		}
		out = append(out, string(b))
	}
	return out
}

// hostAddresses returns this host's addresses other than loopback, as
// URL hosts.
func hostAddresses(t *testing.T) []string {
	t.Helper()
	addrs, err := net.InterfaceAddrs()
	if err != nil {
		t.Fatal(err)
	}
	var out []string
	for _, a := range addrs {
		ipn, ok := a.(*net.IPNet)
		if !ok || ipn.IP.IsLoopback() || ipn.IP.IsLinkLocalUnicast() {
			continue
		}
		if ipn.IP.To4() != nil {
			out = append(out, ipn.IP.String())
		} else {
			out = append(out, "["+ipn.IP.String()+"]")
		}
	}
	return out
}

// dirMode returns a directory's mode and owner.
func dirMode(t *testing.T, dir string) string {
	t.Helper()
	fi, err := os.Stat(dir)
	if err != nil {
		t.Fatal(err)
	}
	st, _ := fi.Sys().(*syscall.Stat_t)
	return fmt.Sprintf("%o %d:%d", fi.Mode().Perm(), st.Uid, st.Gid)
}

// appPID returns the host pid of the process whose command line or
// children print marker: the sandboxed shell of a component.
func appPID(t *testing.T, marker string) int {
	t.Helper()
	found := slipwaytest.Processes(func(p slipwaytest.Proc) bool {
		return strings.Contains(p.Cmdline, marker) && !strings.Contains(p.Cmdline, "bwrap") &&
			!strings.Contains(p.Cmdline, "setpriv") && !strings.Contains(p.Cmdline, "slipway-launch")
	})
	if len(found) == 0 {
		t.Fatalf("no process prints %q", marker)
	}
	return found[0].PID
}

// serverEnvMarker returns an entry of the server's own environment that no
// tool process has.
func serverEnvMarker(t *testing.T) string {
	t.Helper()
	b, err := os.ReadFile("/proc/self/environ")
	if err != nil {
		t.Fatal(err)
	}
	for kv := range strings.SplitSeq(string(b), "\x00") {
		k, _, _ := strings.Cut(kv, "=")
		switch {
		case k == "", k == "PATH", k == "LANG", k == "HOME", k == "TZ", k == "TMPDIR",
			strings.HasPrefix(k, "GO"), strings.HasPrefix(k, "LC_"), strings.Contains(strings.ToUpper(k), "PROXY"),
			strings.HasPrefix(k, "SSL_"), strings.HasPrefix(k, "PIP_"), strings.HasPrefix(strings.ToUpper(k), "NPM_"),
			strings.HasPrefix(k, "NODE_"), strings.HasPrefix(k, "REQUESTS_"):
			continue // builds get these from the server's environment
		}
		return kv
	}
	t.Fatal("the test's environment has nothing to recognise it by")
	return ""
}
