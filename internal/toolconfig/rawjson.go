package toolconfig

import (
	"encoding/json"
	"slices"
	"strconv"
	"time"
	"unicode/utf8"

	"slipway.dev/slipway/internal/slipway"
)

// object is a JSON object that keeps its keys in insertion order. Values
// are string, int64, bool, nil, []string, *object or []*object.
type object struct {
	keys []string
	vals []any
}

func (o *object) set(key string, v any) {
	if i := slices.Index(o.keys, key); i >= 0 {
		o.vals[i] = v
		return
	}
	o.keys = append(o.keys, key)
	o.vals = append(o.vals, v)
}

// marshal returns o as compact JSON.
func (o *object) marshal() json.RawMessage {
	return appendJSON(nil, o)
}

func appendJSON(b []byte, v any) []byte {
	switch v := v.(type) {
	case nil:
		return append(b, "null"...)
	case string:
		return appendString(b, v)
	case int64:
		return strconv.AppendInt(b, v, 10)
	case bool:
		return strconv.AppendBool(b, v)
	case []string:
		b = append(b, '[')
		for i, s := range v {
			if i > 0 {
				b = append(b, ',')
			}
			b = appendString(b, s)
		}
		return append(b, ']')
	case []*object:
		b = append(b, '[')
		for i, o := range v {
			if i > 0 {
				b = append(b, ',')
			}
			b = appendJSON(b, o)
		}
		return append(b, ']')
	case []any:
		b = append(b, '[')
		for i, o := range v {
			if i > 0 {
				b = append(b, ',')
			}
			b = appendJSON(b, o)
		}
		return append(b, ']')
	case *object:
		b = append(b, '{')
		for i, k := range v.keys {
			if i > 0 {
				b = append(b, ',')
			}
			b = appendString(b, k)
			b = append(b, ':')
			b = appendJSON(b, v.vals[i])
		}
		return append(b, '}')
	}
	// Unreachable: the parser only stores the types above.
	return append(b, "null"...)
}

// appendString appends s as a JSON string that YAML reads back as s: on
// top of what JSON needs, it escapes the characters that YAML does not
// allow raw (DEL, C1 controls, BOM, U+FFFE, U+FFFF) or reads as line breaks
// (NEL, U+2028, U+2029). Unlike encoding/json it leaves <, > and & alone.
func appendString(b []byte, s string) []byte {
	const hex = "0123456789abcdef"
	b = append(b, '"')
	for i, r := range s {
		switch {
		case r == '"' || r == '\\':
			b = append(b, '\\', byte(r))
		case r == '\n':
			b = append(b, '\\', 'n')
		case r == '\r':
			b = append(b, '\\', 'r')
		case r == '\t':
			b = append(b, '\\', 't')
		case r == utf8.RuneError && isInvalidAt(s, i):
			b = append(b, `\ufffd`...)
		case r < 0x20, r >= 0x7f && r <= 0x9f, r == 0x2028, r == 0x2029, r == 0xfeff, r == 0xfffe, r == 0xffff:
			b = append(b, '\\', 'u', hex[r>>12&0xf], hex[r>>8&0xf], hex[r>>4&0xf], hex[r&0xf])
		default:
			b = utf8.AppendRune(b, r)
		}
	}
	return append(b, '"')
}

// isInvalidAt reports whether s holds an invalid UTF-8 sequence at i.
func isInvalidAt(s string, i int) bool {
	r, size := utf8.DecodeRuneInString(s[i:])
	return r == utf8.RuneError && size <= 1
}

// ComponentJSON returns the set-fields JSON of one component, as a
// component value of a tool config ("components": {"<name>": <this>}), for
// `config generate`. A zero field counts as unset, so a retry or timeout of
// 0 and false build flags are left out; component_type is always there.
// Keys come in documentation order.
func ComponentJSON(c slipway.Component) json.RawMessage {
	o := &object{}
	if c.Type != "" {
		o.set("component_type", string(c.Type))
	}
	b := &object{}
	switch {
	case c.Build.Source != nil:
		s := c.Build.Source
		b.set("repository", s.Repository)
		b.set("ref", s.Ref)
		if s.UseLatestVersions {
			b.set("use_latest_versions", true)
		}
		if s.UseDeprecatedVersions {
			b.set("use_deprecated_versions", true)
		}
	case c.Build.ReuseFrom != "":
		b.set("reuse_from", c.Build.ReuseFrom)
	case c.Build.Image != "":
		b.set("image", c.Build.Image)
	}
	o.set("build", b)

	r := c.Run
	run := &object{}
	run.set("command", r.Command)
	setStr := func(k, v string) {
		if v != "" {
			run.set(k, v)
		}
	}
	setInt := func(k string, v int) {
		if v != 0 {
			run.set(k, int64(v))
		}
	}
	setStr("cpu", r.CPU)
	setStr("memory", r.Memory)
	setStr("emails", r.Emails)
	if r.Filelog != nil {
		run.set("filelog", *r.Filelog)
	}
	setStr("filelog_stdout", r.FilelogStdout)
	setStr("filelog_stderr", r.FilelogStderr)
	setStr("mount", r.Mount)
	setInt("port", r.Port)
	setStr("port_protocol", r.PortProtocol)
	setStr("publish", r.Publish)
	setInt("replicas", r.Replicas)
	setStr("health_check_script", r.HealthCheckScript)
	setStr("health_check_http", r.HealthCheckHTTP)
	setStr("schedule", r.Schedule)
	setInt("retry", r.Retry)
	setInt("timeout", r.Timeout)
	setInt("stop_grace_period", r.StopGracePeriod)
	o.set("run", run)

	if len(c.WaitFor) > 0 {
		o.set("wait_for", c.WaitFor)
	}
	if c.Gate != nil {
		o.set("gate", gateObject(*c.Gate))
	}
	return o.marshal()
}

// gateObject returns g's set fields.
func gateObject(g slipway.Gate) *object {
	o := &object{}
	o.set("question", g.Question)
	if len(g.Options) > 0 {
		opts := make([]*object, len(g.Options))
		for i, op := range g.Options {
			opts[i] = &object{}
			opts[i].set("label", op.Label)
			opts[i].set("value", op.Value)
			if op.Stop {
				opts[i].set("stop", true)
			}
		}
		o.set("options", opts)
	}
	if len(g.Fields) > 0 {
		fields := make([]*object, len(g.Fields))
		for i, f := range g.Fields {
			fo := &object{}
			fo.set("key", f.Key)
			fo.set("type", string(f.Type))
			for _, kv := range [][2]string{{"label", f.Label}, {"default", f.Default}} {
				if kv[1] != "" {
					fo.set(kv[0], kv[1])
				}
			}
			if len(f.Options) > 0 {
				fo.set("options", f.Options)
			}
			if f.Required {
				fo.set("required", true)
			}
			fields[i] = fo
		}
		o.set("fields", fields)
	}
	if p := g.Policy; len(p.Answerers) > 0 {
		o.set("answerers", p.Answerers)
	}
	if g.Policy.Required > 0 {
		o.set("required_answers", int64(g.Policy.Required))
	}
	if g.Policy.ForbidInitiator {
		o.set("forbid_initiator", true)
	}
	if g.Timeout > 0 {
		o.set("timeout", int64(g.Timeout/time.Second))
	}
	if g.OnTimeout != "" {
		o.set("on_timeout", string(g.OnTimeout))
	}
	if g.Default != "" {
		o.set("default", g.Default)
	}
	return o
}
