package browsertest

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/chromedp/chromedp"
)

// EnvScreenshots names the environment variable that moves [ArtifactDir]'s
// default, <repo>/.cache/screenshots, elsewhere.
const EnvScreenshots = "SLIPWAY_SCREENSHOTS"

// Viewport is a size the tests look at a page in.
type Viewport struct {
	Name   string  // "desktop", "phone": the suffix of its screenshots' names
	Width  int64   // in CSS pixels
	Height int64   // in CSS pixels
	Scale  float64 // device pixels per CSS pixel: a screenshot is Width×Scale pixels wide
	Mobile bool    // emulate a phone: mobile layout (the viewport meta tag), touch, portrait
}

// The viewports Slipway's pages are checked at.
var (
	Desktop = Viewport{Name: "desktop", Width: 1280, Height: 800, Scale: 1}
	Phone   = Viewport{Name: "phone", Width: 390, Height: 844, Scale: 2, Mobile: true}
)

// Viewports lists the viewports a test loops over: [Desktop] and [Phone].
var Viewports = []Viewport{Desktop, Phone}

// Action returns the chromedp action that makes the tab emulate v.
func (v Viewport) Action() chromedp.Action[chromedp.Void] {
	opts := []chromedp.EmulateViewportOption{chromedp.EmulateScale(v.Scale)}
	if v.Mobile {
		opts = append(opts, chromedp.EmulateMobile, chromedp.EmulateTouch, chromedp.EmulatePortrait)
	}
	return chromedp.EmulateViewport(v.Width, v.Height, opts...)
}

// SetViewport makes the tab whose context ctx is emulate v.
func SetViewport(ctx context.Context, v Viewport) error {
	if err := chromedp.Do(ctx, v.Action()); err != nil {
		return fmt.Errorf("emulating the %s viewport (%d×%d×%g): %w", v.Name, v.Width, v.Height, v.Scale, err)
	}
	if t := tabOf(ctx); t != nil {
		t.mu.Lock()
		t.viewport = v
		t.mu.Unlock()
	}
	return nil
}

// Screenshot writes full-page PNG screenshots of the tab at each of
// [Viewports] into [ArtifactDir], as <name>-desktop.png and
// <name>-phone.png, and returns their paths. The tab is left at the
// viewport it had. It fails the test when a screenshot cannot be taken.
func Screenshot(tb testing.TB, ctx context.Context, name string) []string {
	tb.Helper()
	before := Desktop
	if t := tabOf(ctx); t != nil {
		t.mu.Lock()
		before = t.viewport
		t.mu.Unlock()
	}
	var paths []string
	for _, v := range Viewports {
		paths = append(paths, ScreenshotAt(tb, ctx, name, v))
	}
	if err := SetViewport(ctx, before); err != nil {
		tb.Fatalf("browsertest: screenshot %s: restoring the viewport: %v", name, err)
	}
	return paths
}

// ScreenshotAt writes a full-page PNG screenshot of the tab at v into
// [ArtifactDir], as <name>-<v.Name>.png, and returns its path; the tab
// stays at v. It fails the test when the screenshot cannot be taken.
func ScreenshotAt(tb testing.TB, ctx context.Context, name string, v Viewport) string {
	tb.Helper()
	if err := SetViewport(ctx, v); err != nil {
		tb.Fatalf("browsertest: screenshot %s: %v", name, err)
	}
	png, err := chromedp.Run(ctx, chromedp.FullScreenshot(100)) // 100: PNG
	if err != nil {
		tb.Fatalf("browsertest: screenshot %s at %s: %v", name, v.Name, err)
	}
	file := safeName(name) + "-" + v.Name + ".png"
	dir := ArtifactDir(tb)
	if err := writeFile(dir, file, png); err != nil {
		tb.Fatalf("browsertest: screenshot %s: %v", name, err)
	}
	return filepath.Join(dir, file)
}

// ArtifactDir returns the directory for the test's screenshots and failure
// dumps, creating it: t.ArtifactDir() when the run has -artifacts (go test
// -artifacts -outputdir DIR), else a stable directory that each run
// overwrites, <base>/<package directory>/<test name> under
// $SLIPWAY_SCREENSHOTS, or under <repo>/.cache/screenshots (git-ignored).
func ArtifactDir(tb testing.TB) string {
	tb.Helper()
	if artifactsFlag() {
		return tb.ArtifactDir()
	}
	dir, err := stablePath(tb.Name())
	if err == nil {
		err = os.MkdirAll(dir, 0o755)
	}
	if err != nil {
		tb.Fatalf("browsertest: artifact directory: %v", err)
	}
	return dir
}

// artifactsFlag reports whether the run has -artifacts.
func artifactsFlag() bool {
	f := flag.Lookup("test.artifacts")
	return f != nil && f.Value.String() == "true"
}

// stablePath returns the directory of the test called name outside
// -artifacts.
func stablePath(name string) (string, error) {
	wd, err := os.Getwd()
	if err != nil {
		return "", err
	}
	root, rootErr := repoRoot()
	pkg := filepath.Base(wd)
	if rootErr == nil {
		if rel, err := filepath.Rel(root, wd); err == nil && filepath.IsLocal(rel) {
			pkg = rel
		}
	}
	base := os.Getenv(EnvScreenshots)
	if base == "" {
		if rootErr != nil {
			return "", fmt.Errorf("%w (set %s, or run go test with -artifacts)", rootErr, EnvScreenshots)
		}
		base = filepath.Join(root, ".cache", "screenshots")
	}
	return filepath.Join(base, pkg, safeName(name)), nil
}

// repoRoot returns the directory of the go.mod above the working
// directory, which go test makes the package's directory.
func repoRoot() (string, error) {
	dir, err := os.Getwd()
	if err != nil {
		return "", fmt.Errorf("finding the repository: %w", err)
	}
	for {
		if _, err := os.Stat(filepath.Join(dir, "go.mod")); err == nil {
			return dir, nil
		} else if !errors.Is(err, os.ErrNotExist) {
			return "", fmt.Errorf("finding the repository: %w", err)
		}
		parent := filepath.Dir(dir)
		if parent == dir {
			return "", errors.New("finding the repository: no go.mod above the working directory")
		}
		dir = parent
	}
}

// safeName returns name as one file name: a subtest's slashes become __
// (as in t.ArtifactDir), and every character but letters, digits and
// .-_ becomes _.
func safeName(name string) string {
	name = strings.ReplaceAll(name, "/", "__")
	return strings.Map(func(r rune) rune {
		switch {
		case r >= 'a' && r <= 'z', r >= 'A' && r <= 'Z', r >= '0' && r <= '9', r == '.', r == '-', r == '_':
			return r
		}
		return '_'
	}, name)
}

// writeFile writes data to dir/name, creating dir.
func writeFile(dir, name string, data []byte) error {
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return fmt.Errorf("writing %s: %w", name, err)
	}
	if err := os.WriteFile(filepath.Join(dir, name), data, 0o644); err != nil {
		return fmt.Errorf("writing %s: %w", name, err)
	}
	return nil
}
