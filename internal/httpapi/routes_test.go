package httpapi

import (
	"net/http"
	"net/http/httptest"
	"slices"
	"strings"
	"testing"

	"gopkg.in/yaml.v3"

	apispec "slipway.dev/slipway/api"
)

// TestSpecRoutesMatchServer fails when api/openapi.yaml and the routes the
// handler serves drift apart, either way: every operation of the spec must
// be routed (with and without the /components prefix) to a registered
// pattern, and every registered route must be in the spec.
func TestSpecRoutesMatchServer(t *testing.T) {
	t.Parallel()
	var spec struct {
		Paths map[string]map[string]any `yaml:"paths"`
	}
	if err := yaml.Unmarshal(apispec.OpenAPIYAML, &spec); err != nil {
		t.Fatal(err)
	}
	var specOps []string
	for path, item := range spec.Paths {
		for method := range item {
			switch method {
			case "get", "put", "post", "delete", "patch", "head", "options", "trace":
				specOps = append(specOps, strings.ToUpper(method)+" "+path)
			}
		}
	}
	a := &api{}
	var routed []string
	for _, rt := range a.routes() {
		routed = append(routed, rt.method+" "+rt.path)
	}
	slices.Sort(specOps)
	slices.Sort(routed)
	for _, op := range specOps {
		if !slices.Contains(routed, op) {
			t.Errorf("spec operation %s is not served (add it to routes.go)", op)
		}
	}
	for _, op := range routed {
		if !slices.Contains(specOps, op) {
			t.Errorf("route %s is not in api/openapi.yaml", op)
		}
	}

	// Every spec operation reaches a handler through the real handler: not
	// the 404/405 envelope of unmatched requests.
	h := NewHandler(newFakeService(), Config{AdminToken: testToken})
	for _, op := range specOps {
		method, path, _ := strings.Cut(op, " ")
		paths := []string{path}
		if alias, ok := unprefixed(path); ok {
			paths = append(paths, alias)
		}
		if alias, ok := slashAlias(path); ok {
			paths = append(paths, alias)
		}
		for _, p := range paths {
			p = strings.NewReplacer("{tool}", "mytool", "{deploy_id}", "20261122-130049-x5ucaa3ign", "{build_id}", "0123456789abcdef").Replace(p)
			r := httptest.NewRequest(method, p, nil)
			w := httptest.NewRecorder()
			h.ServeHTTP(w, r)
			if w.Code == http.StatusMethodNotAllowed || strings.Contains(w.Body.String(), "Not found: ") {
				t.Errorf("%s %s is not routed: %d %s", method, p, w.Code, w.Body)
			}
		}
	}
}
