package main

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/rogpeppe/go-internal/testscript"
)

// waitjob TOOL NAME SHORT: wait, at most 60 s, until the job's
// status.short (jobs API) is SHORT, and print "job NAME: SHORT".
func cmdWaitJob(ts *testscript.TestScript, neg bool, args []string) {
	if neg || len(args) != 3 {
		ts.Fatalf("usage: waitjob TOOL NAME SHORT")
	}
	url, _, _, ok := serverInfo(ts, ts.Getenv("SLIPWAY_DATA"))
	if !ok {
		ts.Fatalf("no server.json")
	}
	token, err := os.ReadFile(filepath.Join(ts.Getenv("SLIPWAY_DATA"), "admin-token"))
	ts.Check(err)
	last := ""
	for deadline := time.Now().Add(60 * time.Second); time.Now().Before(deadline); time.Sleep(100 * time.Millisecond) {
		last = jobShort(url+"/jobs/v1/tool/"+args[0]+"/jobs/"+args[1], strings.TrimSpace(string(token)))
		if last == args[2] {
			fmt.Fprintf(ts.Stdout(), "job %s: %s\n", args[1], last)
			return
		}
	}
	ts.Fatalf("job %s of %s is %s after 60s, want %s", args[1], args[0], last, args[2])
}

// jobShort returns the job's status.short at url, or what went wrong.
func jobShort(url, token string) string {
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
	if err != nil {
		return err.Error()
	}
	req.Header.Set("Authorization", "Bearer "+token)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return err.Error()
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	if err != nil {
		return err.Error()
	}
	var v struct {
		Job struct {
			Status struct {
				Short string `json:"short"`
			} `json:"status"`
		} `json:"job"`
	}
	if resp.StatusCode != http.StatusOK || json.Unmarshal(body, &v) != nil {
		return fmt.Sprintf("HTTP %d %s", resp.StatusCode, body)
	}
	return v.Job.Status.Short
}
