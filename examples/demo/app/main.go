// Command app is the sample app that `slipway demo` builds and deploys: one
// binary with four process types (see the Procfile). It uses only the
// standard library so that it builds offline.
package main

import (
	"context"
	"fmt"
	"html"
	"net/http"
	"os"
	"os/signal"
	"path/filepath"
	"strings"
	"syscall"
	"time"
)

func main() {
	os.Exit(runMain())
}

// runMain runs the app and returns its exit code, so that main's deferred
// calls run before the process exits.
func runMain() int {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	if err := run(ctx, os.Args[1:]); err != nil {
		fmt.Fprintln(os.Stderr, "app:", err)
		return 1
	}
	return 0
}

func run(ctx context.Context, args []string) error {
	if len(args) != 1 {
		return fmt.Errorf("usage: app serve|work|cleanup|migrate")
	}
	switch args[0] {
	case "serve":
		return serve(ctx)
	case "work":
		return work(ctx)
	case "cleanup":
		fmt.Println("cleanup: nothing to clean at", time.Now().UTC().Format(time.RFC3339))
		return nil
	case "migrate":
		return migrate()
	}
	return fmt.Errorf("unknown process type %q", args[0])
}

// stateFile is where the migration records the schema version, in the
// tool's home directory.
func stateFile() string { return filepath.Join(os.Getenv("HOME"), "schema-version") }

func migrate() error {
	if err := os.MkdirAll(filepath.Dir(stateFile()), 0o755); err != nil {
		return err
	}
	if err := os.WriteFile(stateFile(), []byte("1\n"), 0o644); err != nil {
		return err
	}
	fmt.Println("migrate: schema is at version 1")
	return nil
}

func serve(ctx context.Context) error {
	port := os.Getenv("PORT")
	if port == "" {
		return fmt.Errorf("PORT is not set")
	}
	started := time.Now()
	mux := http.NewServeMux()
	mux.HandleFunc("GET /healthz", func(w http.ResponseWriter, _ *http.Request) {
		fmt.Fprintln(w, "ok")
	})
	mux.HandleFunc("GET /{$}", func(w http.ResponseWriter, _ *http.Request) {
		schema, err := os.ReadFile(stateFile())
		if err != nil {
			schema = []byte("not migrated")
		}
		w.Header().Set("Content-Type", "text/html; charset=utf-8")
		fmt.Fprintf(w, "<!doctype html><title>Slipway demo</title><h1>Hello from the Slipway demo</h1>"+
			"<p>Tool <b>%s</b>, component <b>%s</b>, up since %s, schema version %s.</p>\n",
			html.EscapeString(os.Getenv("TOOL_NAME")), html.EscapeString(os.Getenv("COMPONENT")),
			started.UTC().Format(time.RFC3339), html.EscapeString(strings.TrimSpace(string(schema))))
	})
	srv := &http.Server{Addr: "127.0.0.1:" + port, Handler: mux, ReadHeaderTimeout: 5 * time.Second}
	go func() {
		<-ctx.Done()
		// ctx is already cancelled here; the shutdown gets its own deadline.
		shutdown, cancel := context.WithTimeout(context.WithoutCancel(ctx), 5*time.Second)
		defer cancel()
		_ = srv.Shutdown(shutdown)
	}()
	fmt.Println("web: listening on", srv.Addr)
	if err := srv.ListenAndServe(); err != nil && err != http.ErrServerClosed {
		return err
	}
	return nil
}

func work(ctx context.Context) error {
	fmt.Println("worker: started")
	t := time.NewTicker(10 * time.Second)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			fmt.Println("worker: stopping")
			return nil
		case now := <-t.C:
			fmt.Println("worker: tick", now.UTC().Format(time.RFC3339))
		}
	}
}
