package server_test

import (
	"bytes"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"

	"slipway.dev/slipway/internal/apiclient"
	"slipway.dev/slipway/internal/server"
	"slipway.dev/slipway/internal/slipwaytest/servertest"
)

// lockedBuffer is a bytes.Buffer the server's logger and the test share.
type lockedBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (l *lockedBuffer) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.Write(p)
}

func (l *lockedBuffer) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.String()
}

// Ensure a server with artifact retention runs the maintenance job by
// itself: a build nothing needs (started on its own, never deployed) is
// removed, and the log says which, with its key and size, and the total;
// /metrics counts it; the artifact the live component runs stays.
func TestServer_MaintenanceRemovesUnneededArtifacts(t *testing.T) {
	t.Parallel()
	var logs lockedBuffer
	srv := servertest.StartWith(t, func(c *server.Config) {
		c.Logger = slog.New(slog.NewTextHandler(&logs, nil))
		c.ArtifactRetention, c.MaintenanceInterval = time.Nanosecond, 100*time.Millisecond
	})
	ctx := t.Context()
	srv.Repo.Commit(t, map[string]string{"index.html": "never deployed\n"}, "unreleased")
	env, err := srv.Client.BuildStart(ctx, servertest.Tool, apiclient.BuildStartRequest{SourceUrl: srv.Repo.URL, Ref: new("main"), ImageName: new("web")})
	if err != nil {
		t.Fatal(err)
	}
	started, err := env.NewBuild()
	if err != nil {
		t.Fatal(err)
	}
	total := regexp.MustCompile(`msg="artifact retention: removed the artifacts nothing needs" .*removed=1 bytes=[1-9]`)
	servertest.Eventually(t, func() string {
		if _, err := srv.Client.BuildGet(ctx, servertest.Tool, started.Name); err == nil {
			return "build " + started.Name + " is still there"
		}
		// The pass logs its total after it removed the record.
		if !total.MatchString(logs.String()) {
			return "the pass that removed it has not logged its total yet"
		}
		return ""
	})
	out := logs.String()
	if !strings.Contains(out, `msg="artifact retention: removed an artifact" component=deploy tool=`+servertest.Tool+` build=`+started.Name+` key=`) {
		t.Errorf("no log line for the removed artifact:\n%s", out)
	}
	// /metrics counts it (the admin may read them), once the pass is over.
	counted := regexp.MustCompile(`(?m)^slipway_retention_removed_total\{what="artifacts"\} [1-9]`)
	servertest.Eventually(t, func() string {
		req, err := http.NewRequestWithContext(ctx, http.MethodGet, srv.URL()+"/metrics", nil)
		if err != nil {
			t.Fatal(err)
		}
		req.Header.Set("Authorization", "Bearer "+srv.AdminToken())
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			return err.Error()
		}
		defer resp.Body.Close()
		page, err := io.ReadAll(resp.Body)
		if err != nil || !counted.Match(page) {
			return fmt.Sprintf("/metrics lacks the removed artifact (%v):\n%s", err, page)
		}
		return ""
	})
	list, err := srv.Client.BuildList(ctx, servertest.Tool)
	if err != nil {
		t.Fatal(err)
	}
	bs, err := list.Builds()
	if err != nil || len(bs) != 1 || bs[0].BuildId == started.Name {
		t.Errorf("builds left = %+v, %v; want the live one only", bs, err)
	}
}
