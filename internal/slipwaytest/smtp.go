package slipwaytest

import (
	"context"
	"net"
	"net/textproto"
	"strings"
	"sync"
	"testing"
)

// Mail is a message an [SMTPSink] received.
type Mail struct {
	From string
	To   []string
	// Data is the message as sent (headers and body, dot-unstuffed).
	Data string
}

// SMTPSink is a loopback SMTP server that takes every message (no
// extensions: no STARTTLS, no AUTH) and hands it to Mails.
type SMTPSink struct {
	Addr  string
	Mails chan Mail
	ln    net.Listener
	wg    sync.WaitGroup
}

// NewSMTPSink starts a sink on 127.0.0.1; the test's cleanup stops it.
func NewSMTPSink(t testing.TB) *SMTPSink {
	t.Helper()
	s, err := StartSMTPSink(t.Context())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(s.Close)
	return s
}

// StartSMTPSink starts a sink on 127.0.0.1; Close stops it.
func StartSMTPSink(ctx context.Context) (*SMTPSink, error) {
	ln, err := (&net.ListenConfig{}).Listen(ctx, "tcp", "127.0.0.1:0")
	if err != nil {
		return nil, err
	}
	s := &SMTPSink{Addr: ln.Addr().String(), Mails: make(chan Mail, 100), ln: ln}
	s.wg.Go(func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			s.wg.Go(func() { s.serve(c) })
		}
	})
	return s, nil
}

// Close stops the sink and waits for its sessions to end.
func (s *SMTPSink) Close() {
	_ = s.ln.Close()
	s.wg.Wait()
}

func (s *SMTPSink) serve(c net.Conn) {
	defer c.Close()
	tp := textproto.NewConn(c)
	reply := func(line string) bool { return tp.PrintfLine("%s", line) == nil }
	if !reply("220 sink.test ESMTP") {
		return
	}
	var m Mail
	for {
		line, err := tp.ReadLine()
		if err != nil {
			return
		}
		verb, arg, _ := strings.Cut(line, " ")
		switch strings.ToUpper(verb) {
		case "EHLO", "HELO":
			reply("250 sink.test")
		case "MAIL":
			m = Mail{From: addrOf(arg)}
			reply("250 OK")
		case "RCPT":
			m.To = append(m.To, addrOf(arg))
			reply("250 OK")
		case "DATA":
			if !reply("354 go ahead") {
				return
			}
			data, err := tp.ReadDotBytes()
			if err != nil {
				return
			}
			m.Data = string(data)
			s.Mails <- m
			reply("250 queued")
		case "RSET", "NOOP":
			reply("250 OK")
		case "QUIT":
			reply("221 bye")
			return
		default:
			reply("502 not implemented")
		}
	}
}

// addrOf returns the address of "FROM:<a@b>" or "TO:<a@b>".
func addrOf(arg string) string {
	_, a, _ := strings.Cut(arg, ":")
	a, _, _ = strings.Cut(strings.TrimSpace(a), " ")
	return strings.Trim(a, "<>")
}
