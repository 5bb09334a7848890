package sqlstore

import (
	"database/sql"
	"encoding/json"
	"fmt"
	"time"

	"slipway.dev/slipway/internal/slipway"
)

// timeLayout is how times are stored: UTC, fixed width, so that text order is
// time order (for years 0000 to 9999).
const timeLayout = "2006-01-02T15:04:05.000000000Z07:00"

// encTime returns t as stored: NULL for the zero time, else UTC text.
func encTime(t time.Time) any {
	if t.IsZero() {
		return nil
	}
	return t.UTC().Format(timeLayout)
}

// decTime reverses [encTime].
func decTime(s sql.NullString) (time.Time, error) {
	if !s.Valid {
		return time.Time{}, nil
	}
	t, err := time.Parse(time.RFC3339Nano, s.String)
	if err != nil {
		return time.Time{}, fmt.Errorf("decode time %q: %w", s.String, err)
	}
	return t, nil
}

// encRaw returns raw JSON as stored: NULL when nil, else text.
func encRaw(raw json.RawMessage) any {
	if raw == nil {
		return nil
	}
	return string(raw)
}

// decRaw reverses [encRaw].
func decRaw(s sql.NullString) json.RawMessage {
	if !s.Valid {
		return nil
	}
	return json.RawMessage(s.String)
}

// encNeeds returns a step's needs as stored: NULL when nil, else a JSON
// array, so that nil and empty both round-trip.
func encNeeds(needs []string) (any, error) {
	if needs == nil {
		return nil, nil
	}
	b, err := json.Marshal(needs)
	if err != nil {
		return nil, fmt.Errorf("encode needs: %w", err)
	}
	return string(b), nil
}

// decNeeds reverses [encNeeds].
func decNeeds(s sql.NullString) ([]string, error) {
	if !s.Valid {
		return nil, nil
	}
	var needs []string
	if err := json.Unmarshal([]byte(s.String), &needs); err != nil {
		return nil, fmt.Errorf("decode needs: %w", err)
	}
	return needs, nil
}

// The JSON shapes of a live run's spec. They mirror [slipway.Component]
// field for field, so that the domain types need no JSON tags. jsonSource and
// jsonRun are converted to and from their domain twins, so the compiler
// catches a field added to one side only; a field added to Component or
// BuildSpec must be added here by hand (the conformance suite round-trips a
// fully set component).
type (
	jsonComponent struct {
		Name    string    `json:"name"`
		Type    string    `json:"type"`
		Build   jsonBuild `json:"build"`
		Run     jsonRun   `json:"run"`
		WaitFor []string  `json:"wait_for"`
	}
	jsonBuild struct {
		Source    *jsonSource `json:"source"`
		ReuseFrom string      `json:"reuse_from,omitempty"`
		Image     string      `json:"image,omitempty"`
	}
	jsonSource struct {
		Repository            string `json:"repository"`
		Ref                   string `json:"ref"`
		UseLatestVersions     bool   `json:"use_latest_versions"`
		UseDeprecatedVersions bool   `json:"use_deprecated_versions"`
	}
	jsonRun struct {
		Command           string `json:"command,omitempty"`
		CPU               string `json:"cpu,omitempty"`
		Memory            string `json:"memory,omitempty"`
		Emails            string `json:"emails,omitempty"`
		Filelog           *bool  `json:"filelog,omitempty"`
		FilelogStdout     string `json:"filelog_stdout,omitempty"`
		FilelogStderr     string `json:"filelog_stderr,omitempty"`
		Mount             string `json:"mount,omitempty"`
		Port              int    `json:"port,omitempty"`
		PortProtocol      string `json:"port_protocol,omitempty"`
		Publish           string `json:"publish,omitempty"`
		Replicas          int    `json:"replicas,omitempty"`
		HealthCheckScript string `json:"health_check_script,omitempty"`
		HealthCheckHTTP   string `json:"health_check_http,omitempty"`
		Schedule          string `json:"schedule,omitempty"`
		Retry             int    `json:"retry,omitempty"`
		Timeout           int    `json:"timeout,omitempty"`
		StopGracePeriod   int    `json:"stop_grace_period,omitempty"`
	}
)

// encComponent returns c as stored JSON.
func encComponent(c slipway.Component) (string, error) {
	j := jsonComponent{
		Name:    c.Name,
		Type:    string(c.Type),
		WaitFor: c.WaitFor,
		Build: jsonBuild{
			ReuseFrom: c.Build.ReuseFrom,
			Image:     c.Build.Image,
		},
		Run: jsonRun(c.Run),
	}
	if s := c.Build.Source; s != nil {
		js := jsonSource(*s)
		j.Build.Source = &js
	}
	b, err := json.Marshal(j)
	if err != nil {
		return "", fmt.Errorf("encode component %s: %w", c.Name, err)
	}
	return string(b), nil
}

// decComponent reverses [encComponent].
func decComponent(s string) (slipway.Component, error) {
	var j jsonComponent
	if err := json.Unmarshal([]byte(s), &j); err != nil {
		return slipway.Component{}, fmt.Errorf("decode component: %w", err)
	}
	c := slipway.Component{
		Name:    j.Name,
		Type:    slipway.ComponentType(j.Type),
		WaitFor: j.WaitFor,
		Build: slipway.BuildSpec{
			ReuseFrom: j.Build.ReuseFrom,
			Image:     j.Build.Image,
		},
		Run: slipway.RunSpec(j.Run),
	}
	if s := j.Build.Source; s != nil {
		sb := slipway.SourceBuild(*s)
		c.Build.Source = &sb
	}
	return c, nil
}

// encStringMap returns a map as stored: NULL when nil, else a JSON object,
// so that nil (not recorded) and empty both round-trip.
func encStringMap(m map[string]string) (any, error) {
	if m == nil {
		return nil, nil
	}
	b, err := json.Marshal(m)
	if err != nil {
		return nil, fmt.Errorf("encode map: %w", err)
	}
	return string(b), nil
}

// decStringMap reverses [encStringMap].
func decStringMap(s sql.NullString) (map[string]string, error) {
	if !s.Valid {
		return nil, nil
	}
	m := map[string]string{}
	if err := json.Unmarshal([]byte(s.String), &m); err != nil {
		return nil, fmt.Errorf("decode map: %w", err)
	}
	return m, nil
}
