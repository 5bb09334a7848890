package main

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/rogpeppe/go-internal/testscript"
)

// waittrain VAR WHAT: wait until the newest train is as WHAT says and set
// VAR to its ID. WHAT is "midway" (some member of its first stage has a
// deployment that ended while another has not ended yet), "stage=N" (it
// runs stage N, from 0) or a state (completed, partial, failed,
// cancelled). It polls the API of the server of $SLIPWAY_DATA (another
// process), retrying while that server is down, for 90 s.
func cmdWaitTrain(ts *testscript.TestScript, neg bool, args []string) {
	if neg || len(args) != 2 {
		ts.Fatalf("usage: waittrain VAR midway|stage=N|STATE")
	}
	data := ts.Getenv("SLIPWAY_DATA")
	last := ""
	for end := time.Now().Add(90 * time.Second); time.Now().Before(end); time.Sleep(50 * time.Millisecond) {
		url, _, _, ok := serverInfo(ts, data)
		token, err := os.ReadFile(filepath.Join(data, "admin-token"))
		if !ok || err != nil {
			continue
		}
		get := func(path string, v any) error {
			req, err := http.NewRequestWithContext(context.Background(), http.MethodGet, url+path, nil)
			if err != nil {
				return err
			}
			req.Header.Set("Authorization", "Bearer "+strings.TrimSpace(string(token)))
			resp, err := apiHTTPClient(ts, data).Do(req)
			if err != nil {
				return err
			}
			defer resp.Body.Close()
			if resp.StatusCode != http.StatusOK {
				return fmt.Errorf("GET %s: status %d", path, resp.StatusCode)
			}
			return json.NewDecoder(resp.Body).Decode(v)
		}
		var list struct {
			Data []struct {
				ID string `json:"id"`
			} `json:"data"`
		}
		if err := get("/releases/v1/trains", &list); err != nil || len(list.Data) == 0 {
			last = fmt.Sprintf("trains: %v", err)
			continue
		}
		var one struct {
			Data struct {
				ID    string `json:"id"`
				State string `json:"state"`
				Stage int    `json:"stage"`
				Cells []struct {
					Stage        int    `json:"stage"`
					State        string `json:"state"`
					DeploymentID string `json:"deployment_id"`
				} `json:"cells"`
			} `json:"data"`
		}
		if err := get("/releases/v1/trains/"+list.Data[0].ID, &one); err != nil {
			last = err.Error()
			continue
		}
		t := one.Data
		done, open := 0, 0
		for _, c := range t.Cells {
			if c.Stage != 0 || c.State == "skipped" {
				continue
			}
			if c.State == "succeeded" || c.State == "failed" {
				done++
			} else {
				open++
			}
		}
		last = fmt.Sprintf("train %s %s at stage %d; first stage: %d ended, %d not", t.ID, t.State, t.Stage, done, open)
		var ok2 bool
		switch w := args[1]; {
		case w == "midway":
			ok2 = t.Stage == 0 && done > 0 && open > 0
		case strings.HasPrefix(w, "stage="):
			ok2 = t.State == "running" && fmt.Sprint(t.Stage) == strings.TrimPrefix(w, "stage=")
		default:
			ok2 = t.State == w
		}
		if ok2 {
			ts.Setenv(args[0], t.ID)
			return
		}
	}
	ts.Fatalf("the newest train is not %s after 90s (last: %s)", args[1], last)
}
