package trigger_test

import (
	"encoding/hex"
	"net/http"
	"strings"
	"testing"

	"slipway.dev/slipway/internal/slipway"
	"slipway.dev/slipway/internal/trigger"
)

const (
	secret = "s3cret-of-the-tool"
	sha1   = "9fceb02d0ae598e95dc970b74767f19372d61af8"
)

func headers(kv ...string) http.Header {
	h := http.Header{}
	for i := 0; i < len(kv); i += 2 {
		h.Set(kv[i], kv[i+1])
	}
	return h
}

func sig(body string) string { return hex.EncodeToString(trigger.Sign(secret, []byte(body))) }

// Every forge's push, as it sends it: detected, verified with the secret,
// and read; the same delivery with a wrong secret, a changed body or no
// signature is refused.
func TestProviders(t *testing.T) {
	t.Parallel()
	github := `{"ref":"refs/heads/main","before":"0000000000000000000000000000000000000001","after":"` + sha1 + `",
		"repository":{"clone_url":"https://github.com/acme/app.git","ssh_url":"git@github.com:acme/app.git","html_url":"https://github.com/acme/app"},
		"pusher":{"name":"alice","email":"a@example.org"},"sender":{"login":"alice-gh"}}`
	gitlab := `{"object_kind":"push","ref":"refs/heads/main","after":"` + sha1 + `","checkout_sha":"` + sha1 + `",
		"user_username":"bob","project":{"git_http_url":"https://gitlab.example.org/acme/app.git","git_ssh_url":"git@gitlab.example.org:acme/app.git","web_url":"https://gitlab.example.org/acme/app"}}`
	gitea := `{"ref":"refs/heads/main","after":"` + sha1 + `","repository":{"clone_url":"https://gitea.example.org/acme/app.git"},
		"pusher":{"login":"carol","username":"carol"}}`
	generic := `{"ref":"refs/heads/main","after":"` + sha1 + `","repository":"https://git.example.org/acme/app.git","pusher":"dave"}`
	cases := []struct {
		name   string
		hdr    http.Header
		body   string
		want   trigger.Delivery
		pusher string
		repo   string
		// tamper returns the headers with a wrong signature.
		tamper http.Header
	}{
		{
			"GitHub", headers("X-GitHub-Event", "push", "X-GitHub-Delivery", "gh-1", "X-Hub-Signature-256", "sha256="+sig(github)), github,
			trigger.Delivery{Provider: trigger.GitHub, ID: "gh-1", Event: "push"},
			"alice", "https://github.com/acme/app.git",
			headers("X-GitHub-Event", "push", "X-GitHub-Delivery", "gh-1", "X-Hub-Signature-256", "sha256="+sig(github+" ")),
		},
		{
			"GitLab", headers("X-Gitlab-Event", "Push Hook", "Idempotency-Key", "gl-key", "X-Gitlab-Event-UUID", "gl-uuid", "X-Gitlab-Token", secret), gitlab,
			trigger.Delivery{Provider: trigger.GitLab, ID: "gl-key", Event: "Push Hook"},
			"bob", "https://gitlab.example.org/acme/app.git",
			headers("X-Gitlab-Event", "Push Hook", "X-Gitlab-Event-UUID", "gl-uuid", "X-Gitlab-Token", secret+"x"),
		},
		{
			// Gitea sends GitHub's headers too, with its own signature.
			"Gitea", headers("X-Gitea-Event", "push", "X-Gitea-Delivery", "gt-1", "X-Gitea-Signature", sig(gitea), "X-GitHub-Event", "push"), gitea,
			trigger.Delivery{Provider: trigger.Gitea, ID: "gt-1", Event: "push"},
			"carol", "https://gitea.example.org/acme/app.git",
			headers("X-Gitea-Event", "push", "X-Gitea-Delivery", "gt-1", "X-Gitea-Signature", "sha256="+sig(gitea)),
		},
		{
			"Forgejo", headers("X-Forgejo-Event", "push", "X-Forgejo-Delivery", "fj-1", "X-Forgejo-Signature", sig(gitea), "X-Gitea-Event", "push"), gitea,
			trigger.Delivery{Provider: trigger.Forgejo, ID: "fj-1", Event: "push"},
			"carol", "https://gitea.example.org/acme/app.git",
			headers("X-Forgejo-Event", "push", "X-Forgejo-Delivery", "fj-1"),
		},
		{
			"Generic", headers("X-Slipway-Event", "push", "X-Slipway-Delivery", "g-1", "X-Slipway-Signature", "sha256="+sig(generic)), generic,
			trigger.Delivery{Provider: trigger.Generic, ID: "g-1", Event: "push"},
			"dave", "https://git.example.org/acme/app.git",
			headers("X-Slipway-Event", "push", "X-Slipway-Delivery", "g-1", "X-Slipway-Signature", "sha256=zz"),
		},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			t.Parallel()
			d, err := trigger.Detect(c.hdr)
			if err != nil || d != c.want {
				t.Fatalf("Detect = %+v, %v; want %+v", d, err, c.want)
			}
			if err := trigger.Verify(d.Provider, secret, c.hdr, []byte(c.body)); err != nil {
				t.Errorf("Verify of the forge's own signature: %v", err)
			}
			if err := trigger.Verify(d.Provider, "another-secret", c.hdr, []byte(c.body)); err == nil {
				t.Error("Verify with another secret succeeded")
			}
			if d.Provider != trigger.GitLab { // GitLab signs no body
				if err := trigger.Verify(d.Provider, secret, c.hdr, []byte(c.body+" ")); err == nil {
					t.Error("Verify of a changed body succeeded")
				}
			}
			if err := trigger.Verify(d.Provider, secret, c.tamper, []byte(c.body)); err == nil {
				t.Error("Verify of a wrong or missing signature succeeded")
			}
			if !trigger.IsPush(d.Provider, d.Event) {
				t.Errorf("IsPush(%s, %q) = false", d.Provider, d.Event)
			}
			p, err := trigger.ParsePush(d.Provider, []byte(c.body))
			if err != nil {
				t.Fatalf("ParsePush: %v", err)
			}
			if p.Ref != "refs/heads/main" || p.Commit != sha1 || p.Deleted || p.Pusher != c.pusher || p.Repositories[0] != c.repo {
				t.Errorf("ParsePush = %+v; want main at %s pushed by %s to %s", p, sha1, c.pusher, c.repo)
			}
		})
	}
}

func TestDetect_Refuses(t *testing.T) {
	t.Parallel()
	for name, h := range map[string]http.Header{
		"no forge header":     headers("Content-Type", "application/json"),
		"GitHub, no delivery": headers("X-GitHub-Event", "push"),
		"GitLab, no delivery": headers("X-Gitlab-Event", "Push Hook"),
		"delivery too long":   headers("X-GitHub-Event", "push", "X-GitHub-Delivery", strings.Repeat("a", 129)),
		"delivery with space": headers("X-GitHub-Event", "push", "X-GitHub-Delivery", "a b"),
		"delivery with UTF-8": headers("X-Slipway-Event", "push", "X-Slipway-Delivery", "é"),
	} {
		if _, err := trigger.Detect(h); slipway.ErrorCode(err) != slipway.EInvalid {
			t.Errorf("%s: Detect err = %v, want EInvalid", name, err)
		}
	}
}

func TestParsePush_Refuses(t *testing.T) {
	t.Parallel()
	for name, body := range map[string]string{
		"not JSON":          `ref=main`,
		"no ref":            `{"after":"` + sha1 + `","repository":{"clone_url":"https://x/y"}}`,
		"short commit":      `{"ref":"refs/heads/main","after":"abc","repository":{"clone_url":"https://x/y"}}`,
		"no repository":     `{"ref":"refs/heads/main","after":"` + sha1 + `"}`,
		"repository string": `{"ref":"refs/heads/main","after":"` + sha1 + `","repository":"https://x/y"}`,
	} {
		if _, err := trigger.ParsePush(trigger.GitHub, []byte(body)); slipway.ErrorCode(err) != slipway.EInvalid {
			t.Errorf("%s: ParsePush err = %v, want EInvalid", name, err)
		}
	}
	// A deleted branch parses, as deleted, with no commit.
	p, err := trigger.ParsePush(trigger.GitHub, []byte(`{"ref":"refs/heads/old","after":"0000000000000000000000000000000000000000","deleted":true,"repository":{"clone_url":"https://x/y"}}`))
	if err != nil || !p.Deleted || p.Commit != "" {
		t.Errorf("ParsePush of a deleted branch = %+v, %v; want deleted, no commit", p, err)
	}
	// Control characters in the pusher's name are dropped.
	p, err = trigger.ParsePush(trigger.Generic, []byte(`{"ref":"refs/heads/main","after":"`+sha1+`","repository":"https://x/y","pusher":"ev\u001b[31mil\n"}`))
	if err != nil || p.Pusher != "ev[31mil" {
		t.Errorf("pusher = %q, %v; want control characters dropped", p.Pusher, err)
	}
}

func TestSameRepository(t *testing.T) {
	t.Parallel()
	same := [][2]string{
		{"https://github.com/acme/app.git", "https://github.com/acme/app"},
		{"https://GitHub.com/acme/app/", "https://github.com/acme/app.git"},
		{"git@github.com:acme/app.git", "https://github.com/acme/app"},
		{"ssh://git@github.com/acme/app.git", "https://user:pass@github.com/acme/app.git"},
		{"https://***@github.com/acme/app.git", "https://github.com/acme/app"},
		{"file:///srv/git/app.git", "/srv/git/app"},
	}
	for _, c := range same {
		if !trigger.SameRepository(c[0], c[1]) {
			t.Errorf("SameRepository(%q, %q) = false, want true", c[0], c[1])
		}
	}
	differ := [][2]string{
		{"https://github.com/acme/app", "https://github.com/acme/app2"},
		{"https://github.com/acme/app", "https://gitlab.com/acme/app"},
		{"https://github.com/acme/app", "https://github.com/other/app"},
		{"https://github.com/Acme/app", "https://github.com/acme/app"}, // paths are case-sensitive on most forges
		{"", ""},
	}
	for _, c := range differ {
		if trigger.SameRepository(c[0], c[1]) {
			t.Errorf("SameRepository(%q, %q) = true, want false", c[0], c[1])
		}
	}
}
