package browsertest

import (
	"archive/tar"
	"bytes"
	"compress/gzip"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"
	"unicode/utf8"

	"github.com/chromedp/chromedp"

	"slipway.dev/slipway/internal/atomicfile"
	"slipway.dev/slipway/internal/flock"
)

// AxeVersion is the axe-core the accessibility checks run. It is not in
// the repository: the first test that needs it fetches it from npm
// (npm pack) into <repo>/.cache/axe-core-<version>/axe.min.js, and every
// test checks it against axeSHA256.
const AxeVersion = "4.14.1"

// axeSHA256 is the SHA-256 of package/axe.min.js in npm's axe-core 4.14.1
// (whose tarball npm's registry gives the integrity
// sha512-FHfa+lmNjQZfJz1q8wKqIDwC6DExcHt/pkjNQb09a3NPjCKg2rhu5qb2S4r76ASyFNNtuFooJpZe37OgudVGtQ==).
const axeSHA256 = "29348999450cdf2849a8e70b7912fc2da85a849da39c0d0d5394f51d4a9ed95c"

const (
	// axeFetchTimeout bounds npm pack.
	axeFetchTimeout = 2 * time.Minute
	// axeMaxSize bounds axe.min.js (654 KB in 4.14.1).
	axeMaxSize = 8 << 20
	// htmlMax bounds the HTML of a violation's node.
	htmlMax = 200
	// nodesShown bounds the nodes AssertAccessible lists per violation.
	nodesShown = 10
)

// Violation is a rule of axe-core that the page breaks.
type Violation struct {
	ID      string          `json:"id"`     // the rule: "color-contrast", "image-alt", …
	Impact  string          `json:"impact"` // "minor", "moderate", "serious" or "critical"
	Help    string          `json:"help"`   // what the rule asks for
	HelpURL string          `json:"helpUrl"`
	Nodes   []ViolationNode `json:"nodes"`
}

// ViolationNode is an element that breaks a rule.
type ViolationNode struct {
	Target []string `json:"target"` // CSS selectors, one per frame or shadow root, outermost first
	HTML   string   `json:"html"`   // its outer HTML, cut to 200 bytes
}

// Serious reports whether the violation's impact is "serious" or
// "critical": what [AssertAccessible] fails on.
func (v Violation) Serious() bool {
	return v.Impact == "serious" || v.Impact == "critical"
}

// String returns the violation and its first nodes, one a line.
func (v Violation) String() string {
	var b strings.Builder
	fmt.Fprintf(&b, "%s (%s): %s; %s", v.ID, v.Impact, v.Help, v.HelpURL)
	for i, n := range v.Nodes {
		if i == nodesShown {
			fmt.Fprintf(&b, "\n    … and %d more", len(v.Nodes)-i)
			break
		}
		fmt.Fprintf(&b, "\n    %s: %s", strings.Join(n.Target, " "), n.HTML)
	}
	return b.String()
}

// axeRun runs axe on the document and returns its violations, in the
// shape of Violation.
const axeRun = `axe.run(document, {resultTypes: ['violations']}).then(r => r.violations.map(v => ({
	id: v.id,
	impact: v.impact || '',
	help: v.help,
	helpUrl: v.helpUrl,
	nodes: v.nodes.map(n => ({
		target: n.target.map(t => Array.isArray(t) ? t.join(' >>> ') : String(t)),
		html: n.html,
	})),
})))`

// Axe runs axe-core on the tab's page (injecting it first, when the page
// has not got it) and returns the rules the page breaks, at every impact.
// It fails the test when axe cannot be fetched or run.
func Axe(tb testing.TB, ctx context.Context) []Violation {
	tb.Helper()
	src, err := axeSource(ctx)
	if err != nil {
		tb.Fatalf("browsertest: %v", err)
	}
	loaded, err := chromedp.Run(ctx, chromedp.Evaluate[bool](`typeof window.axe === 'object'`))
	if err == nil && !loaded {
		_, err = chromedp.Run(ctx, chromedp.Evaluate[chromedp.Void](string(src)))
	}
	if err != nil {
		tb.Fatalf("browsertest: injecting axe-core %s: %v", AxeVersion, err)
	}
	vs, err := chromedp.Run(ctx, chromedp.Evaluate[[]Violation](axeRun, chromedp.EvalAwaitPromise))
	if err != nil {
		tb.Fatalf("browsertest: running axe-core %s: %v", AxeVersion, err)
	}
	for i := range vs {
		for j := range vs[i].Nodes {
			vs[i].Nodes[j].HTML = truncate(vs[i].Nodes[j].HTML, htmlMax)
		}
	}
	return vs
}

// AssertAccessible runs [Axe] on the tab's page and fails the test, listing
// each, when the page breaks a rule with impact "serious" or "critical";
// the other violations are logged.
func AssertAccessible(tb testing.TB, ctx context.Context) {
	tb.Helper()
	var serious, other []string
	for _, v := range Axe(tb, ctx) {
		if v.Serious() {
			serious = append(serious, v.String())
		} else {
			other = append(other, v.String())
		}
	}
	if len(other) > 0 {
		tb.Logf("axe-core: %d minor or moderate violations:\n  %s", len(other), strings.Join(other, "\n  "))
	}
	if len(serious) > 0 {
		tb.Errorf("axe-core: %d serious or critical violations:\n  %s", len(serious), strings.Join(serious, "\n  "))
	}
}

// truncate returns s cut to n bytes (on a rune boundary) and an ellipsis.
func truncate(s string, n int) string {
	if len(s) <= n {
		return s
	}
	for n > 0 && !utf8.RuneStart(s[n]) {
		n--
	}
	return s[:n] + "…"
}

var axe struct {
	mu  sync.Mutex
	src []byte
}

// axeSource returns axe.min.js, fetching it into the repository's cache
// on the first call of the first test process that needs it. A test
// process that finds it fetched (and whole: it checks the SHA-256) reads
// it; the fetch runs under a lock on the cache directory, so test
// processes running at once fetch it once, and the file is renamed into
// place whole.
func axeSource(ctx context.Context) ([]byte, error) {
	axe.mu.Lock()
	defer axe.mu.Unlock()
	if axe.src != nil {
		return axe.src, nil
	}
	root, err := repoRoot()
	if err != nil {
		return nil, fmt.Errorf("axe-core %s: %w", AxeVersion, err)
	}
	dir := filepath.Join(root, ".cache", "axe-core-"+AxeVersion)
	path := filepath.Join(dir, "axe.min.js")
	if src, err := readAxe(path); err == nil {
		axe.src = src
		return src, nil
	}

	// The fetch serves every test of the process, whichever ends first.
	ctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), axeFetchTimeout)
	defer cancel()
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return nil, fmt.Errorf("axe-core %s: %w", AxeVersion, err)
	}
	unlock, err := flock.Lock(ctx, filepath.Join(dir, ".lock"))
	if err != nil {
		return nil, fmt.Errorf("axe-core %s: waiting for another test process's fetch: %w", AxeVersion, err)
	}
	defer unlock()
	if src, err := readAxe(path); err == nil { // another process fetched it
		axe.src = src
		return src, nil
	}
	src, err := fetchAxe(ctx)
	if err != nil {
		return nil, fmt.Errorf("axe-core %s: %w", AxeVersion, err)
	}
	if err := atomicfile.Write(path, src, 0o644); err != nil {
		return nil, fmt.Errorf("axe-core %s: caching it: %w", AxeVersion, err)
	}
	axe.src = src
	return src, nil
}

// readAxe reads the cached axe.min.js and checks its SHA-256.
func readAxe(path string) ([]byte, error) {
	src, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	if err := checkAxe(src); err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	return src, nil
}

func checkAxe(src []byte) error {
	sum := sha256.Sum256(src)
	if got := hex.EncodeToString(sum[:]); got != axeSHA256 {
		return fmt.Errorf("SHA-256 %s, want %s", got, axeSHA256)
	}
	return nil
}

// fetchAxe runs npm pack axe-core@AxeVersion in a temporary directory and
// returns package/axe.min.js from the tarball, checked.
func fetchAxe(ctx context.Context) ([]byte, error) {
	npm, err := exec.LookPath("npm")
	if err != nil {
		return nil, fmt.Errorf("fetching it needs npm: %w (run `make deps`)", err)
	}
	tmp, err := os.MkdirTemp("", "slipway-axe-")
	if err != nil {
		return nil, fmt.Errorf("fetching it: %w", err)
	}
	defer os.RemoveAll(tmp)
	cmd := exec.CommandContext(ctx, npm, "pack", "--silent", "--ignore-scripts", "axe-core@"+AxeVersion)
	cmd.Dir = tmp
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		return nil, fmt.Errorf("npm pack axe-core@%s: %w: %s", AxeVersion, err, bytes.TrimSpace(stderr.Bytes()))
	}
	tgz := filepath.Join(tmp, "axe-core-"+AxeVersion+".tgz")
	if name := strings.TrimSpace(string(out)); name != "" && !strings.ContainsAny(name, "/\n") {
		tgz = filepath.Join(tmp, name)
	}
	src, err := untarFile(tgz, "package/axe.min.js")
	if err != nil {
		return nil, fmt.Errorf("npm pack axe-core@%s: %w", AxeVersion, err)
	}
	if err := checkAxe(src); err != nil {
		return nil, fmt.Errorf("npm pack axe-core@%s: package/axe.min.js: %w", AxeVersion, err)
	}
	return src, nil
}

// untarFile returns the file called name in the gzipped tarball at path.
func untarFile(path, name string) ([]byte, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	zr, err := gzip.NewReader(f)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	tr := tar.NewReader(zr)
	for {
		h, err := tr.Next()
		if errors.Is(err, io.EOF) {
			return nil, fmt.Errorf("%s: no %s", path, name)
		}
		if err != nil {
			return nil, fmt.Errorf("%s: %w", path, err)
		}
		if h.Name != name {
			continue
		}
		data, err := io.ReadAll(io.LimitReader(tr, axeMaxSize+1))
		if err != nil {
			return nil, fmt.Errorf("%s: %s: %w", path, name, err)
		}
		if len(data) > axeMaxSize {
			return nil, fmt.Errorf("%s: %s is over %d bytes", path, name, axeMaxSize)
		}
		return data, nil
	}
}
