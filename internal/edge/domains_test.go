package edge_test

import (
	"strings"
	"testing"

	"slipway.dev/slipway/internal/edge"
	"slipway.dev/slipway/internal/slipway"
)

// Ensure the apps domain serves tools and environment instances, and
// nothing else.
func TestAppsHosts_Lookup(t *testing.T) {
	h := edge.AppsHosts{Domain: "apps.example.org"}
	for host, want := range map[string]string{
		"web.apps.example.org":           "web",
		"Web.Apps.Example.Org.:8443":     "web",
		"web--staging.apps.example.org":  "web--staging",
		"apps.example.org":               "",
		"a.b.apps.example.org":           "",
		"web.localhost":                  "",
		"web.apps.example.org.evil.test": "",
		"web--Bad_.apps.example.org":     "",
		"web---x.apps.example.org":       "",
		"xapps.example.org":              "",
	} {
		got, ok := h.Lookup(host)
		if got != want || ok != (want != "") {
			t.Errorf("Lookup(%q) = %q, %v; want %q", host, got, ok, want)
		}
	}
	if got, ok := (edge.LocalhostHosts{}).Lookup("web--staging.localhost:8701"); !ok || got != "web--staging" {
		t.Errorf("LocalhostHosts = %q, %v", got, ok)
	}
}

// Ensure public URLs leave out the scheme's default port only.
func TestPublicURL(t *testing.T) {
	for _, c := range []struct {
		scheme string
		port   int
		want   string
	}{
		{"http", 80, "http://web.apps.test/"},
		{"https", 443, "https://web.apps.test/"},
		{"http", 8701, "http://web.apps.test:8701/"},
		{"https", 80, "https://web.apps.test:80/"},
	} {
		if got := edge.PublicURL(c.scheme, "web.apps.test", c.port); got != c.want {
			t.Errorf("PublicURL(%s, %d) = %s, want %s", c.scheme, c.port, got, c.want)
		}
	}
}

// Ensure a domain name is claimable only as plain lowercase ASCII, and that
// each refusal names the field and says why.
func TestValidateDomainName(t *testing.T) {
	for _, ok := range []string{"example.org", "www.example.org", "xn--bcher-kva.example", "a-b.c0.io", strings.Repeat("a", 63) + ".org"} {
		if err := slipway.ValidateDomainName("name", ok); err != nil {
			t.Errorf("%q: %v", ok, err)
		}
	}
	for bad, why := range map[string]string{
		"":                               "required",
		"Example.org":                    "lowercase",
		"example.org.":                   "trailing dot",
		"*.example.org":                  "wildcard",
		"bücher.example":                 "xn--",
		"localhost":                      "two labels",
		"127.0.0.1":                      "IP address",
		"::1":                            "IP address",
		"-a.example.org":                 "dash",
		"a..example.org":                 "1-63",
		"a_b.example.org":                "letters, digits",
		"example.123":                    "last label",
		strings.Repeat("a", 64) + ".io":  "1-63",
		strings.Repeat("a.", 127) + "io": "253",
		"a b.example.org":                "letters, digits",
	} {
		err := slipway.ValidateDomainName("name", bad)
		if err == nil || slipway.ErrorCode(err) != slipway.EInvalid || !strings.Contains(err.Error(), "name: ") || !strings.Contains(err.Error(), why) {
			t.Errorf("%q: got %v, want an EInvalid error naming the field and saying %q", bad, err, why)
		}
	}
}
