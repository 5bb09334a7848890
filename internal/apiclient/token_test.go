package apiclient

import (
	"net/http"
	"slices"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"slipway.dev/slipway/internal/slipway"
)

func TestClient_DeployToken(t *testing.T) {
	t.Parallel()
	const data = `{"data":{"token":"e30186a5-d75f-4084-9731-702af094c65c","creation_date":"2026-11-22T12:54:26.348440Z"},"messages":{"info":["Deploy token for t created successfully."],"warning":[],"error":[]}}`
	c, reqs := newServer(t, func(w http.ResponseWriter, r *http.Request) {
		switch r.Method {
		case "DELETE":
			jsonReply(404, `{"messages":{"info":[],"warning":[],"error":["No deploy token found for tool: t"]}}`)(w, r)
		default:
			jsonReply(200, data)(w, r)
		}
	})
	want := slipway.DeployToken{Token: "e30186a5-d75f-4084-9731-702af094c65c", CreatedAt: time.Date(2026, 11, 22, 12, 54, 26, 348440000, time.UTC)}
	for name, call := range map[string]func() (Envelope, error){
		"get":     func() (Envelope, error) { return c.DeployTokenGet(t.Context(), "t") },
		"create":  func() (Envelope, error) { return c.DeployTokenCreate(t.Context(), "t") },
		"refresh": func() (Envelope, error) { return c.DeployTokenRefresh(t.Context(), "t") },
	} {
		env, err := call()
		if err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		got, err := env.DeployToken()
		if err != nil || !got.CreatedAt.Equal(want.CreatedAt) || got.Token != want.Token {
			t.Errorf("%s: DeployToken() = %+v, %v; want %+v", name, got, err, want)
		}
	}
	_, err := c.DeployTokenDelete(t.Context(), "t")
	if slipway.ErrorCode(err) != slipway.ENotFound || slipway.ErrorMessage(err) != "No deploy token found for tool: t" {
		t.Errorf("delete: err = %v, want ENotFound", err)
	}
	var got []string
	for _, r := range *reqs {
		got = append(got, r.method+" "+r.path+" "+r.auth)
	}
	slices.Sort(got)
	wantReqs := []string{
		"DELETE /components/v1/tool/t/deployment/token Bearer tok",
		"GET /components/v1/tool/t/deployment/token Bearer tok",
		"POST /components/v1/tool/t/deployment/token Bearer tok",
		"PUT /components/v1/tool/t/deployment/token Bearer tok",
	}
	if d := cmp.Diff(wantReqs, got); d != "" {
		t.Errorf("requests (-want +got):\n%s", d)
	}
}
