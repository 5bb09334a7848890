package server_test

import (
	"context"
	"io"
	"net/http"
	"testing"
	"time"

	"slipway.dev/slipway/internal/slipwaytest/servertest"
)

// Ensure a stream that would run forever — a followed log — ends when the
// server stops, and Stop does not wait out its shutdown timeout for it:
// the requests' base context is cancelled first.
func TestServer_StopEndsStreams(t *testing.T) {
	t.Parallel()
	s := servertest.Start(t)
	r, err := http.NewRequestWithContext(t.Context(), "GET",
		s.URL()+"/jobs/v1/tool/"+servertest.Tool+"/jobs/web/logs?follow=true", nil)
	if err != nil {
		t.Fatal(err)
	}
	r.Header.Set("Authorization", "Bearer "+s.AdminToken())
	res, err := http.DefaultClient.Do(r) //nolint:bodyclose // closed below; the linter loses it in the reading goroutine
	if err != nil {
		t.Fatal(err)
	}
	defer res.Body.Close()
	if res.StatusCode != http.StatusOK {
		t.Fatalf("follow: status %d", res.StatusCode)
	}
	ended := make(chan struct{})
	go func() {
		defer close(ended)
		_, _ = io.Copy(io.Discard, res.Body) // until the stream ends
	}()

	start := time.Now()
	if err := s.Stop(context.WithoutCancel(t.Context())); err != nil {
		t.Errorf("Stop with a followed log open: %v", err)
	}
	if d := time.Since(start); d > 4*time.Second {
		t.Errorf("Stop took %v: it waited for the stream", d)
	}
	select {
	case <-ended:
	case <-time.After(10 * time.Second):
		t.Error("the followed log did not end when the server stopped")
	}
}
