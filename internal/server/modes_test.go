package server_test

import (
	"bytes"
	"context"
	"io/fs"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"slipway.dev/slipway/internal/server"
	"slipway.dev/slipway/internal/store/sqlite"
)

func startServer(t *testing.T, cfg server.Config) *server.Server {
	t.Helper()
	cfg.Listen, cfg.ProxyListen, cfg.StopGrace = "127.0.0.1:0", "127.0.0.1:0", time.Second
	srv, err := server.New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	if err := srv.Start(t.Context()); err != nil {
		t.Fatal(err)
	}
	return srv
}

func stopServer(t *testing.T, srv *server.Server) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	if err := srv.Stop(ctx); err != nil {
		t.Error(err)
	}
}

// wantModes checks the modes of the data directory and its secret files.
func wantModes(t *testing.T, dir, when string) {
	t.Helper()
	for name, want := range map[string]fs.FileMode{
		".":              0o700,
		"admin-token":    0o600,
		"secret-key":     0o600,
		"slipway.db":     0o600,
		"slipway.db-wal": 0o600,
		"slipway.db-shm": 0o600,
		"slipway.lock":   0o600,
		"ca":             0o700,
		"ca/ca.key":      0o600,
		"git":            0o700,
		server.InfoFile:  0o644, // no secret in it (checked below)
	} {
		fi, err := os.Stat(filepath.Join(dir, name))
		if err != nil {
			t.Errorf("%s: %s: %v", when, name, err) // every one exists while the server runs
			continue
		}
		if got := fi.Mode().Perm(); got != want {
			t.Errorf("%s: %s is %o, want %o", when, name, got, want)
		}
	}
}

// TestDataDirModes: a new data directory is 0700 with its secrets 0600;
// one made loose (by an older version, or by hand) is tightened at start;
// server.json, the one file left readable, holds no secret.
func TestDataDirModes(t *testing.T) {
	t.Parallel()
	dir := filepath.Join(t.TempDir(), "data")
	srv := startServer(t, server.Config{DataDir: dir, TLS: true})
	wantModes(t, dir, "new directory")
	info, err := os.ReadFile(filepath.Join(dir, server.InfoFile))
	if err != nil {
		t.Fatal(err)
	}
	key, err := os.ReadFile(filepath.Join(dir, server.SecretKeyFile))
	if err != nil {
		t.Fatal(err)
	}
	if strings.Contains(string(info), srv.AdminToken()) || strings.Contains(string(info), string(key)) || strings.Contains(string(info), "PRIVATE KEY") {
		t.Errorf("server.json holds a secret: %s", info)
	}
	stopServer(t, srv)

	// Loosen everything, as a data directory from before was.
	err = filepath.WalkDir(dir, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		mode := fs.FileMode(0o644)
		if d.IsDir() {
			mode = 0o755
		}
		return os.Chmod(p, mode)
	})
	if err != nil {
		t.Fatal(err)
	}
	srv = startServer(t, server.Config{DataDir: dir, TLS: true})
	wantModes(t, dir, "loose directory after a start")
	stopServer(t, srv)
}

// TestWarnClearCredentials: a config stored with a credential in the clear
// (by a version from before they were sealed apart) is named at start,
// redacted.
func TestWarnClearCredentials(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	db, err := sqlite.Open(t.Context(), filepath.Join(dir, "slipway.db"), sqlite.Options{})
	if err != nil {
		t.Fatal(err)
	}
	raw := `{"components":{"web":{"component_type":"one-off","build":{"repository":"https://alice:pw-old-7@example.org/app.git","ref":"main"},"run":{"command":"web"}}}}`
	if err := db.ToolEnsure(t.Context(), "old", time.Now()); err != nil {
		t.Fatal(err)
	}
	if _, err := db.ConfigCreate(t.Context(), "old", []byte(raw), time.Now()); err != nil {
		t.Fatal(err)
	}
	if err := db.Close(); err != nil {
		t.Fatal(err)
	}
	var logs bytes.Buffer
	srv := startServer(t, server.Config{DataDir: dir, Logger: slog.New(slog.NewTextHandler(&logs, nil))})
	stopServer(t, srv)
	if !strings.Contains(logs.String(), `holds a credential in the clear`) || !strings.Contains(logs.String(), "tool=old url=https://***@example.org/app.git") {
		t.Errorf("no warning naming the tool and the redacted URL:\n%s", logs.String())
	}
	if strings.Contains(logs.String(), "pw-old-7") {
		t.Errorf("the log shows the password:\n%s", logs.String())
	}
}
