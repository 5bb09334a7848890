package main

import (
	"context"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"time"

	"github.com/rogpeppe/go-internal/testscript"

	"slipway.dev/slipway/internal/notify"
	"slipway.dev/slipway/internal/slipwaytest"
)

// notifysink HOOKVAR MAILVAR: a webhook receiver and an SMTP server on
// 127.0.0.1 until the end of the script. HOOKVAR is set to the receiver's
// URL, MAILVAR to the SMTP server's host:port. The receiver answers 500 to
// its first request and 200 to the others, checks each signature with the
// secret in the file hooksecret (when it exists) and writes hook/N (N from
// 1): "EVENT DELIVERY STATUS signature=ok|<why not>". Each message the SMTP
// server takes is written to mail/N as sent.
func cmdNotifySink(ts *testscript.TestScript, neg bool, args []string) {
	if neg || len(args) != 2 {
		ts.Fatalf("usage: notifysink HOOKVAR MAILVAR")
	}
	work := ts.Getenv("WORK")
	for _, d := range []string{"hook", "mail"} {
		ts.Check(os.MkdirAll(filepath.Join(work, d), 0o755))
	}
	var (
		mu sync.Mutex
		n  int
	)
	handler := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, _ := io.ReadAll(r.Body)
		mu.Lock()
		n++
		i := n
		mu.Unlock()
		verdict := "ok"
		if secret, err := os.ReadFile(filepath.Join(work, "hooksecret")); err != nil {
			verdict = "no secret file"
		} else if err := notify.Verify(strings.TrimSpace(string(secret)), r.Header, body, time.Now(), 5*time.Minute); err != nil {
			verdict = err.Error()
		}
		status := http.StatusOK
		if i == 1 {
			status = http.StatusInternalServerError
		}
		line := fmt.Sprintf("%s %s %d signature=%s\n%s\n", r.Header.Get(notify.HeaderEvent), r.Header.Get(notify.HeaderDelivery), status, verdict, body)
		_ = os.WriteFile(filepath.Join(work, "hook", fmt.Sprint(i)), []byte(line), 0o644)
		w.WriteHeader(status)
	})
	var lc net.ListenConfig
	ln, err := lc.Listen(context.Background(), "tcp", "127.0.0.1:0")
	ts.Check(err)
	srv := &http.Server{Handler: handler, ReadHeaderTimeout: 10 * time.Second}
	go func() { _ = srv.Serve(ln) }()
	ts.Defer(func() { _ = srv.Close() })

	sink, err := slipwaytest.StartSMTPSink(context.Background())
	ts.Check(err)
	done := make(chan struct{})
	copied := make(chan struct{})
	go func() {
		defer close(copied)
		for i := 1; ; i++ {
			select {
			case m := <-sink.Mails:
				text := fmt.Sprintf("MAIL FROM:%s RCPT TO:%s\n%s", m.From, strings.Join(m.To, ","), m.Data)
				_ = os.WriteFile(filepath.Join(work, "mail", fmt.Sprint(i)), []byte(text), 0o644)
			case <-done:
				return
			}
		}
	}()
	ts.Defer(func() { sink.Close(); close(done); <-copied })
	ts.Setenv(args[0], "http://"+ln.Addr().String())
	ts.Setenv(args[1], sink.Addr)
}
