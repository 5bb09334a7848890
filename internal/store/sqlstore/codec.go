package sqlstore

import (
	"database/sql"
	"encoding/json"
	"fmt"
	"strings"
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
	if t, ok := parseTimeFast(s.String); ok {
		return t, nil
	}
	t, err := time.Parse(time.RFC3339Nano, s.String)
	if err != nil {
		return time.Time{}, fmt.Errorf("decode time %q: %w", s.String, err)
	}
	return t, nil
}

// parseTimeFast parses a time in exactly timeLayout with a Z zone
// (2006-01-02T15:04:05.000000000Z), the only form encTime writes, without
// time.Parse's generality: a list of a hundred deployments decodes two
// thousand of them. ok is false for any other form, which time.Parse
// then reads.
func parseTimeFast(v string) (t time.Time, ok bool) {
	if len(v) != len("2006-01-02T15:04:05.000000000Z") || v[4] != '-' || v[7] != '-' || v[10] != 'T' ||
		v[13] != ':' || v[16] != ':' || v[19] != '.' || v[29] != 'Z' {
		return time.Time{}, false
	}
	num := func(lo, hi int) (int, bool) {
		n := 0
		for i := lo; i < hi; i++ {
			c := v[i]
			if c < '0' || c > '9' {
				return 0, false
			}
			n = n*10 + int(c-'0')
		}
		return n, true
	}
	var f [7]int
	for i, r := range [7][2]int{{0, 4}, {5, 7}, {8, 10}, {11, 13}, {14, 16}, {17, 19}, {20, 29}} {
		if f[i], ok = num(r[0], r[1]); !ok {
			return time.Time{}, false
		}
	}
	if f[1] < 1 || f[1] > 12 || f[2] < 1 || f[2] > 31 || f[3] > 23 || f[4] > 59 || f[5] > 59 {
		return time.Time{}, false
	}
	t = time.Date(f[0], time.Month(f[1]), f[2], f[3], f[4], f[5], f[6], time.UTC)
	if t.Day() != f[2] { // February 30th and the like
		return time.Time{}, false
	}
	return t, true
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
	if needs, ok := splitNeeds(s.String); ok {
		return needs, nil
	}
	var needs []string
	if err := json.Unmarshal([]byte(s.String), &needs); err != nil {
		return nil, fmt.Errorf("decode needs: %w", err)
	}
	return needs, nil
}

// splitNeeds reads a JSON array of plain strings (no escapes), which is
// what step keys make, without encoding/json; ok is false for anything
// else, which json.Unmarshal then reads.
func splitNeeds(v string) (needs []string, ok bool) {
	if len(v) < 2 || v[0] != '[' || v[len(v)-1] != ']' || strings.ContainsAny(v, `\ `) {
		return nil, false
	}
	inner := v[1 : len(v)-1]
	needs = []string{}
	if inner == "" {
		return needs, true
	}
	for item := range strings.SplitSeq(inner, ",") {
		if len(item) < 2 || item[0] != '"' || item[len(item)-1] != '"' || strings.Contains(item[1:len(item)-1], `"`) {
			return nil, false
		}
		needs = append(needs, item[1:len(item)-1])
	}
	return needs, true
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
