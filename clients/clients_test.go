package clients

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"

	"slipway.dev/slipway/internal/atomicfile"
	"slipway.dev/slipway/internal/flock"
	"slipway.dev/slipway/internal/slipway"
	"slipway.dev/slipway/internal/slipwaytest"
	"slipway.dev/slipway/internal/slipwaytest/servertest"
)

// exampleTimeout bounds one run of an example: a deployment of a one-off
// behind a gate takes seconds.
const exampleTimeout = 3 * time.Minute

// TestClients runs each client's example against one live server, each
// with a tool of its own: it refuses an empty config (422 as the client's
// error), sets a config whose one-off waits at a gate, deploys, polls
// until the question is open, answers it, is refused a second answer
// (409), and polls the deployment until it succeeded. What the examples
// print is checked, and what they did is read back through the Go
// client.
func TestClients(t *testing.T) {
	t.Parallel()
	if testing.Short() {
		t.Skip("starts a server and deploys")
	}
	s := servertest.StartEmpty(t, nil)
	repo := slipwaytest.GitRepo(t, map[string]string{"index.html": "hello from the clients' tool\n"})
	t.Run("python", func(t *testing.T) {
		t.Parallel()
		python := lookPath(t, "python3")
		out := runExample(t, s, "pyclient", repo.URL, python, filepath.Join("python", "examples", "deploy.py"))
		checkExample(t, s, "pyclient", "Python", out)
	})
	t.Run("typescript", func(t *testing.T) {
		t.Parallel()
		dist := compileTypeScript(t)
		out := runExample(t, s, "tsclient", repo.URL, lookPath(t, "node"), filepath.Join(dist, "examples", "deploy.js"))
		checkExample(t, s, "tsclient", "TypeScript", out)
	})
}

// TestClientErrors checks that each client turns the server's refusals
// into its error type with the status code and the server's message: a
// wrong token (401), a tool's API token on another tool's route (403) and
// a question that does not exist (404).
func TestClientErrors(t *testing.T) {
	t.Parallel()
	if testing.Short() {
		t.Skip("starts a server")
	}
	s := servertest.StartEmpty(t, nil)
	env, err := s.Client.APITokenCreate(t.Context(), "alpha", "")
	if err != nil {
		t.Fatal(err)
	}
	var created struct{ Token string }
	if err := json.Unmarshal(env.Data, &created); err != nil {
		t.Fatal(err)
	}
	// Each case is a token and a tool, and the start of what the client's
	// error says: status and the server's message.
	cases := []struct{ name, token, tool, want string }{
		{"wrong token", "not-a-token", "alpha", "401: "},
		{"another tool", created.Token, "beta", "403: This credential is for tool 'alpha'; it cannot act on tool 'beta'."},
		{"no such question", s.AdminToken(), "alpha", "404: "},
	}
	args := []string{s.URL()}
	for _, c := range cases {
		args = append(args, c.token, c.tool)
	}
	check := func(t *testing.T, out string) {
		t.Helper()
		got := strings.Split(strings.TrimSuffix(out, "\n"), "\n")
		if len(got) != len(cases) {
			t.Fatalf("got %d lines, want %d:\n%s", len(got), len(cases), out)
		}
		for i, c := range cases {
			if !strings.HasPrefix(got[i], c.want) || len(got[i]) <= len("401: ") {
				t.Errorf("%s: got %q, want it to start with %q and carry a message", c.name, got[i], c.want)
			}
		}
	}
	t.Run("python", func(t *testing.T) {
		t.Parallel()
		const script = `
import sys
from slipway_client import Client, SlipwayError
url, rest = sys.argv[1], sys.argv[2:]
for token, tool in zip(rest[::2], rest[1::2]):
    try:
        Client(url, token).get_question(tool, "q-0000000000000000")
    except SlipwayError as e:
        print("%d: %s" % (e.status, "; ".join(e.errors)))
    else:
        sys.exit("no error")
`
		check(t, run(t, nil, lookPath(t, "python3"), append([]string{"-c", script}, args...)...))
	})
	t.Run("typescript", func(t *testing.T) {
		t.Parallel()
		index := filepath.Join(compileTypeScript(t), "src", "index.js")
		script := `
import { Client, SlipwayError } from ` + jsString("file://"+index) + `;
const [url, ...rest] = process.argv.slice(1);
for (let i = 0; i < rest.length; i += 2) {
  try {
    await new Client(url, { token: rest[i] }).getQuestion(rest[i + 1], "q-0000000000000000");
    console.error("no error");
    process.exit(1);
  } catch (e) {
    if (!(e instanceof SlipwayError)) throw e;
    console.log(e.status + ": " + e.errors.join("; "));
  }
}
`
		check(t, run(t, nil, lookPath(t, "node"), append([]string{"--input-type=module", "-e", script}, args...)...))
	})
}

func jsString(s string) string {
	return `"` + strings.NewReplacer(`\`, `\\`, `"`, `\"`).Replace(s) + `"`
}

func lookPath(t *testing.T, name string) string {
	t.Helper()
	p, err := exec.LookPath(name)
	if err != nil {
		t.Fatalf("the clients' tests need %s: %v (run `make deps`)", name, err)
	}
	return p
}

// runExample runs an example against s as the admin, for tool, and returns
// what it printed.
func runExample(t *testing.T, s *servertest.Server, tool, repoURL string, argv ...string) string {
	t.Helper()
	env := []string{
		"SLIPWAY_URL=" + s.URL(), "SLIPWAY_TOKEN=" + s.AdminToken(), "SLIPWAY_TOOL=" + tool, "SLIPWAY_REPO=" + repoURL,
	}
	return run(t, env, argv[0], argv[1:]...)
}

// run runs a command with PYTHONPATH set to the Python package and env
// added, and returns its standard output; it fails the test, with both
// outputs, when the command fails.
func run(t *testing.T, env []string, name string, args ...string) string {
	t.Helper()
	ctx, cancel := context.WithTimeout(t.Context(), exampleTimeout)
	defer cancel()
	cmd := exec.CommandContext(ctx, name, args...)
	abs, err := filepath.Abs("python")
	if err != nil {
		t.Fatal(err)
	}
	cmd.Env = append(append(os.Environ(), "PYTHONPATH="+abs, "PYTHONDONTWRITEBYTECODE=1"), env...)
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	start := time.Now()
	if err := cmd.Run(); err != nil {
		t.Fatalf("%s %s: %v\nstdout:\n%s\nstderr:\n%s", name, strings.Join(args, " "), err, stdout.String(), stderr.String())
	}
	t.Logf("%s: %s", filepath.Base(name), time.Since(start).Round(time.Millisecond))
	return stdout.String()
}

// checkExample checks what an example printed for tool, and reads back
// through the Go client what it did: the config stored, the question
// answered by the admin with the example's comment, the deployment
// successful.
func checkExample(t *testing.T, s *servertest.Server, tool, lang, out string) {
	t.Helper()
	for _, re := range []string{
		`(?m)^refused: 422: .+`,
		`(?m)^config: Configuration for ` + tool + ` updated successfully\.$`,
		`(?m)^deployment: \d{8}-\d{6}-\w+$`,
		`(?m)^question: q-[0-9a-f]{16}: Run the migration\?$`,
		`(?m)^answered: answered go by admin$`,
		`(?m)^refused: 409: .*answered "go" by admin`,
		`(?m)^final: successful: `,
	} {
		if !regexp.MustCompile(re).MatchString(out) {
			t.Errorf("the %s example's output does not match %s:\n%s", lang, re, out)
		}
	}
	ctx := t.Context()
	list, err := s.Client.QuestionList(ctx, tool, "", "")
	if err != nil {
		t.Fatal(err)
	}
	var qs []struct {
		ID, State, Value, Comment string
		AnsweredBy                string `json:"answered_by"`
		DeployID                  string `json:"deploy_id"`
	}
	if err := json.Unmarshal(list.Data, &qs); err != nil {
		t.Fatal(err)
	}
	if len(qs) != 1 {
		t.Fatalf("%s has %d questions, want 1: %+v", tool, len(qs), qs)
	}
	q := qs[0]
	if q.State != string(slipway.QuestionAnswered) || q.Value != "go" || q.AnsweredBy != "admin" || q.Comment != "from "+lang {
		t.Errorf("question %s: state %s, value %q by %q, comment %q; want answered go by admin, %q", q.ID, q.State, q.Value, q.AnsweredBy, q.Comment, "from "+lang)
	}
	got, err := s.Client.DeploymentGet(ctx, tool, q.DeployID)
	if err != nil {
		t.Fatal(err)
	}
	d, err := got.Deployment()
	if err != nil {
		t.Fatal(err)
	}
	if d.Status != slipway.DeploymentSuccessful || d.Description != "from the "+lang+" client" {
		t.Errorf("deployment %s: %s (%q), description %q", d.ID, d.Status, d.LongStatus, d.Description)
	}
}

// compiled is the TypeScript client and example, compiled once per test
// process (TestMain removes it).
var compiled struct {
	once sync.Once
	dir  string
	err  error
}

func TestMain(m *testing.M) {
	code := m.Run()
	if compiled.dir != "" {
		if err := os.RemoveAll(compiled.dir); err != nil {
			fmt.Fprintln(os.Stderr, err)
			code = 1
		}
	}
	os.Exit(code)
}

// compileTypeScript compiles the TypeScript client and its example with the
// pinned compiler (typescript/package-lock.json) into a temporary
// directory, once, and returns it (src/index.js, examples/deploy.js).
func compileTypeScript(t *testing.T) string {
	t.Helper()
	compiled.once.Do(func() { compiled.dir, compiled.err = compile(t.Context()) })
	if compiled.err != nil {
		t.Fatal(compiled.err)
	}
	return compiled.dir
}

func compile(ctx context.Context) (string, error) {
	tools, err := installTypeScript(ctx)
	if err != nil {
		return "", err
	}
	node, err := exec.LookPath("node")
	if err != nil {
		return "", fmt.Errorf("compiling the TypeScript client needs node: %w (run `make deps`)", err)
	}
	out, err := os.MkdirTemp("", "slipway-clients-ts-")
	if err != nil {
		return "", fmt.Errorf("compiling the TypeScript client: %w", err)
	}
	ctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), exampleTimeout)
	defer cancel()
	cmd := exec.CommandContext(ctx, node, filepath.Join(tools, "node_modules", "typescript", "bin", "tsc"),
		"-p", filepath.Join("typescript", "tsconfig.json"), "--outDir", out,
		"--typeRoots", filepath.Join(tools, "node_modules", "@types"))
	if b, err := cmd.CombinedOutput(); err != nil {
		return out, fmt.Errorf("compiling the TypeScript client: tsc: %w:\n%s", err, b)
	}
	// Node reads the output as ES modules, as the package's "type" says.
	if err := os.WriteFile(filepath.Join(out, "package.json"), []byte(`{"type": "module"}`+"\n"), 0o644); err != nil {
		return out, fmt.Errorf("compiling the TypeScript client: %w", err)
	}
	return out, nil
}

// installTypeScript installs the TypeScript package's devDependencies (the
// compiler and Node's types, pinned by its package-lock.json) with npm ci
// into <repo>/.cache/clients-typescript-<hash of the lock>/, once: a
// later run, in this process or another, finds them there. The install
// runs under a lock on the directory and is marked done only when it
// succeeded.
func installTypeScript(ctx context.Context) (string, error) {
	lock, err := os.ReadFile(filepath.Join("typescript", "package-lock.json"))
	if err != nil {
		return "", fmt.Errorf("the TypeScript compiler: %w", err)
	}
	manifest, err := os.ReadFile(filepath.Join("typescript", "package.json"))
	if err != nil {
		return "", fmt.Errorf("the TypeScript compiler: %w", err)
	}
	sum := sha256.Sum256(append(append([]byte(nil), manifest...), lock...))
	dir, err := filepath.Abs(filepath.Join("..", ".cache", "clients-typescript-"+hex.EncodeToString(sum[:6])))
	if err != nil {
		return "", fmt.Errorf("the TypeScript compiler: %w", err)
	}
	done := filepath.Join(dir, ".installed")
	if _, err := os.Stat(done); err == nil {
		return dir, nil
	}
	ctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 5*time.Minute)
	defer cancel()
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return "", fmt.Errorf("the TypeScript compiler: %w", err)
	}
	unlock, err := flock.Lock(ctx, filepath.Join(dir, ".lock"))
	if err != nil {
		return "", fmt.Errorf("the TypeScript compiler: waiting for another test process's install: %w", err)
	}
	defer unlock()
	if _, err := os.Stat(done); err == nil {
		return dir, nil
	}
	for name, b := range map[string][]byte{"package.json": manifest, "package-lock.json": lock} {
		if err := atomicfile.Write(filepath.Join(dir, name), b, 0o644); err != nil {
			return "", fmt.Errorf("the TypeScript compiler: %w", err)
		}
	}
	npm, err := exec.LookPath("npm")
	if err != nil {
		return "", fmt.Errorf("the TypeScript compiler: installing it needs npm: %w (run `make deps`)", err)
	}
	cmd := exec.CommandContext(ctx, npm, "ci", "--ignore-scripts", "--no-audit", "--no-fund")
	cmd.Dir = dir
	if out, err := cmd.CombinedOutput(); err != nil {
		return "", fmt.Errorf("the TypeScript compiler: npm ci in %s: %w: %s", dir, err, bytes.TrimSpace(out))
	}
	if err := atomicfile.Write(done, nil, 0o644); err != nil {
		return "", fmt.Errorf("the TypeScript compiler: %w", err)
	}
	return dir, nil
}
