package httpapi

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"maps"
	"net/http"
	"slices"
	"sync"

	"gopkg.in/yaml.v3"

	apispec "slipway.dev/slipway/api"
	"slipway.dev/slipway/internal/httpapi/oapi"
	"slipway.dev/slipway/internal/slipway"
)

// handleHealth serves healthz: 200 and status OK when every check passes;
// 200 and status DEGRADED, with a warning per degraded check, when some
// report the server degraded (see [Degraded]) and none failed; else 503
// and status ERROR. Each check's result is in checks.
func (a *api) handleHealth() http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		h := oapi.Health{Status: oapi.OK, Checks: map[string]string{}}
		code := http.StatusOK
		var warnings []string
		if a.cfg.Health != nil {
			checks := a.cfg.Health(r.Context())
			for _, name := range slices.Sorted(maps.Keys(checks)) {
				err := checks[name]
				var d degradedError
				switch {
				case err == nil:
					h.Checks[name] = "ok"
				case errors.As(err, &d):
					reason := d.err.Error()
					if e, ok := errors.AsType[*slipway.Error](d.err); ok {
						reason = e.Message
					}
					h.Checks[name] = "degraded: " + reason
					warnings = append(warnings, fmt.Sprintf("The server is degraded (%s): %s", name, reason))
					if h.Status == oapi.OK {
						h.Status = oapi.DEGRADED
					}
				default:
					h.Checks[name] = err.Error()
					h.Status, code = oapi.ERROR, http.StatusServiceUnavailable
				}
			}
		}
		writeJSON(w, code, oapi.HealthEnvelope{Data: h, Messages: messages(nil, warnings, nil)})
	})
}

// Degraded marks the error of a health check as a degraded state rather
// than a failure: the server serves and runs what it has, but refuses some
// work (new builds) until an admin acts. healthz then answers 200 with
// status DEGRADED, the error's user message as the check's value and as a
// warning, so that probes neither restart nor unroute the server while
// monitoring that reads the status sees it. Degraded(nil) is nil.
func Degraded(err error) error {
	if err == nil {
		return nil
	}
	return degradedError{err: err}
}

type degradedError struct{ err error }

func (d degradedError) Error() string { return "degraded: " + d.err.Error() }
func (d degradedError) Unwrap() error { return d.err }

// openAPIJSON converts the embedded spec to JSON once, keeping key order.
var openAPIJSON = sync.OnceValues(func() ([]byte, error) {
	var doc yaml.Node
	if err := yaml.Unmarshal(apispec.OpenAPIYAML, &doc); err != nil {
		return nil, fmt.Errorf("parse openapi.yaml: %w", err)
	}
	var buf bytes.Buffer
	if err := yamlToJSON(&buf, &doc); err != nil {
		return nil, fmt.Errorf("convert openapi.yaml: %w", err)
	}
	return buf.Bytes(), nil
})

// handleOpenAPI serves api/openapi.yaml as JSON.
func (a *api) handleOpenAPI() http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		b, err := openAPIJSON()
		if err != nil {
			a.writeError(w, r, &slipway.Error{Code: slipway.EInternal, Message: "Internal error.", Err: err})
			return
		}
		w.Header().Set("Content-Type", "application/json")
		_, _ = w.Write(b)
	})
}

// yamlToJSON writes the YAML node n as JSON, keeping mapping key order.
func yamlToJSON(buf *bytes.Buffer, n *yaml.Node) error {
	switch n.Kind {
	case yaml.DocumentNode:
		if len(n.Content) == 0 {
			buf.WriteString("null")
			return nil
		}
		return yamlToJSON(buf, n.Content[0])
	case yaml.AliasNode:
		return yamlToJSON(buf, n.Alias)
	case yaml.MappingNode:
		buf.WriteByte('{')
		for i := 0; i+1 < len(n.Content); i += 2 {
			if i > 0 {
				buf.WriteByte(',')
			}
			k, _ := json.Marshal(n.Content[i].Value)
			buf.Write(k)
			buf.WriteByte(':')
			if err := yamlToJSON(buf, n.Content[i+1]); err != nil {
				return err
			}
		}
		buf.WriteByte('}')
	case yaml.SequenceNode:
		buf.WriteByte('[')
		for i, c := range n.Content {
			if i > 0 {
				buf.WriteByte(',')
			}
			if err := yamlToJSON(buf, c); err != nil {
				return err
			}
		}
		buf.WriteByte(']')
	case yaml.ScalarNode:
		var v any
		if err := n.Decode(&v); err != nil {
			return fmt.Errorf("line %d: %w", n.Line, err)
		}
		b, err := json.Marshal(v)
		if err != nil {
			return fmt.Errorf("line %d: %w", n.Line, err)
		}
		buf.Write(b)
	default:
		return fmt.Errorf("line %d: unexpected YAML node kind %v", n.Line, n.Kind)
	}
	return nil
}
