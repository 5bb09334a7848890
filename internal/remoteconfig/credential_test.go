package remoteconfig

import (
	"errors"
	"net/http"
	"strings"
	"testing"
)

// TestFetcher_Credential: user info in the URL is sent as basic
// authentication to that host, never to another host a redirect leads to,
// and never shows in an error.
func TestFetcher_Credential(t *testing.T) {
	t.Parallel()
	const pass = "pw-remote-9f3k"
	var otherAuth []string
	other, _ := serve(t, func(w http.ResponseWriter, r *http.Request) {
		otherAuth = append(otherAuth, r.Header.Get("Authorization"))
		_, _ = w.Write([]byte(config))
	})
	srv, _ := serve(t, func(w http.ResponseWriter, r *http.Request) {
		u, p, ok := r.BasicAuth()
		switch {
		case !ok || u != "bot" || p != pass:
			w.Header().Set("WWW-Authenticate", `Basic realm="x"`)
			http.Error(w, "who are you", http.StatusUnauthorized)
		case r.URL.Path == "/away":
			// 127.0.0.1 and localhost are different hosts to net/http.
			http.Redirect(w, r, strings.Replace(other.URL, "127.0.0.1", "localhost", 1)+"/tool.yaml", http.StatusFound)
		default:
			_, _ = w.Write([]byte(config))
		}
	})
	f := New(Config{AllowPrivate: true})
	withCred := strings.Replace(srv.URL, "http://", "http://bot:"+pass+"@", 1)
	body, err := f.Fetch(t.Context(), withCred+"/tool.yaml")
	if err != nil || string(body) != config {
		t.Fatalf("Fetch with the credential = %q, %v", body, err)
	}
	_, err = f.Fetch(t.Context(), strings.Replace(srv.URL, "http://", "http://bot:wrong-"+pass+"@", 1)+"/tool.yaml")
	if se, ok := errors.AsType[*StatusError](err); !ok || se.StatusCode != http.StatusUnauthorized {
		t.Errorf("Fetch with a wrong credential = %v, want a 401 StatusError", err)
	}
	if err != nil && strings.Contains(err.Error(), pass) {
		t.Errorf("error shows the password: %v", err)
	}
	if _, err := f.Fetch(t.Context(), withCred+"/away"); err != nil {
		t.Fatalf("Fetch through a redirect: %v", err)
	}
	if len(otherAuth) != 1 || otherAuth[0] != "" {
		t.Errorf("the redirect's host got Authorization %q, want none", otherAuth)
	}
	// An unreachable host: the error names the URL without its user info.
	_, err = f.Fetch(t.Context(), "http://bot:"+pass+"@127.0.0.1:1/tool.yaml")
	if err == nil || strings.Contains(err.Error(), pass) || strings.Contains(err.Error(), "bot") {
		t.Errorf("unreachable: error %v shows the credential", err)
	}
	if _, err := f.Fetch(t.Context(), "http://bot:"+pass+"%zz@127.0.0.1:1/"); err == nil || strings.Contains(err.Error(), pass) {
		t.Errorf("unparsable URL: error %v shows the credential", err)
	}
}
