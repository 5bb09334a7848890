package deploy

import (
	"bytes"
	"cmp"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"maps"
	"slices"
	"time"

	"slipway.dev/slipway/internal/slipway"
	"slipway.dev/slipway/internal/store"
)

// ReleaseRollback creates a deployment that brings back the live state of
// the tool as it was right after release seq, in that release's
// environment: for each component, its latest release up to seq (its
// build key, commit and spec); the components removed by then, or not yet
// released, are removed. Like [Deployments.DeploymentRollback] its builds
// are reused, never rebuilt, no ref is resolved, it is planned against what
// runs (what already runs that version is unchanged), and the stored
// config is left as it is (the next ordinary deployment rolls forward).
//
// Returns EInvalid for a seq that is not a release number, ENotFound when
// the tool has no such release, and EConflict naming the builds that were
// pruned since, or a component whose config is not stored any more
// (nothing is created then).
func (s *Deployments) ReleaseRollback(ctx context.Context, tool string, seq int64, opts slipway.DeployOptions) (slipway.Deployment, error) {
	if err := slipway.ValidateToolName(tool); err != nil {
		return slipway.Deployment{}, err
	}
	if seq <= 0 {
		return slipway.Deployment{}, slipway.Errorf(slipway.EInvalid, "release: %d is not a release number (the seq that slipway releases list shows)", seq)
	}
	if err := s.eng.ready(); err != nil {
		return slipway.Deployment{}, err
	}
	return s.rollbackToRelease(ctx, tool, seq, opts, origin{}, nil)
}

// rollbackToRelease creates the rollback deployment of tool to release
// seq. o.created runs in the creating transaction; check, when set, runs
// first in it, under the tool's lock, and its error creates nothing.
func (s *Deployments) rollbackToRelease(ctx context.Context, tool string, seq int64, opts slipway.DeployOptions,
	o origin, check func(store.Tx) error,
) (slipway.Deployment, error) {
	at, state, err := s.eng.releaseState(ctx, tool, seq)
	if err != nil {
		return slipway.Deployment{}, err
	}
	what := fmt.Sprintf("release %d", seq)
	version, raw, err := s.eng.releaseConfig(ctx, tool, at, state)
	if err != nil {
		return slipway.Deployment{}, err
	}
	cfg, err := parseStored(raw)
	if err != nil {
		return slipway.Deployment{}, fmt.Errorf("roll back %s to %s: %w", tool, what, err)
	}
	if err := s.checkPins(ctx, tool, what, releasePins(state, cfg)); err != nil {
		return slipway.Deployment{}, err
	}
	opts.ForceBuild = false
	opts.Description = cmp.Or(opts.Description, "Rollback to release "+fmt.Sprint(seq))
	o.rollbackOf, o.release = at.DeploymentID, seq
	opts.Environment = cmp.Or(at.Environment, slipway.DefaultEnvironment)
	return s.create(ctx, tool, opts, o, func(tx store.Tx, _ time.Time) (int, json.RawMessage, error) {
		if check != nil {
			if err := check(tx); err != nil {
				return 0, nil, err
			}
		}
		return version, raw, nil
	})
}

// releaseState returns release seq of tool and the live state of its
// environment right after it: each component's latest release up to seq
// that made it live (a removed component is not in it), by component.
// ENotFound when the tool has no release seq.
func (e *Engine) releaseState(ctx context.Context, tool string, seq int64) (slipway.Release, map[string]slipway.Release, error) {
	rs, err := e.store.ReleaseList(ctx, store.ReleaseFilter{Tool: tool, Before: seq + 1, Limit: 1})
	if err != nil {
		return slipway.Release{}, nil, fmt.Errorf("release %d of %s: %w", seq, tool, err)
	}
	if len(rs) == 0 || rs[0].Seq != seq {
		return slipway.Release{}, nil, slipway.Errorf(slipway.ENotFound, "Tool %s has no release %d: slipway releases list shows its releases.", tool, seq)
	}
	at := rs[0]
	latest, err := e.store.ReleaseList(ctx, store.ReleaseFilter{Tool: tool, Environment: at.Environment, Before: seq + 1, Latest: true})
	if err != nil {
		return slipway.Release{}, nil, fmt.Errorf("live state of %s after release %d: %w", tool, seq, err)
	}
	state := map[string]slipway.Release{}
	for _, r := range latest {
		if r.Outcome == slipway.ReleaseApplied {
			state[r.Component] = r
		}
	}
	return at, state, nil
}

// releasePins returns, by component, the build and commit that a
// rollback to state runs: those of every component of cfg built from a
// repository (reuse_from components follow theirs; images have none).
func releasePins(state map[string]slipway.Release, cfg slipway.ToolConfig) map[string]slipway.Step {
	pins := map[string]slipway.Step{}
	for name, c := range cfg.Components {
		if r, ok := state[name]; ok && c.Build.Source != nil && r.BuildKey != "" {
			pins[name] = slipway.Step{Component: name, Kind: slipway.StepBuild, BuildKey: r.BuildKey, Commit: r.Commit}
		}
	}
	return pins
}

// maxSpecSearch bounds how many stored config versions releaseConfig
// looks through for a component's spec that is not in its own release's
// version.
const maxSpecSearch = 1000

// releaseConfig returns the config (set fields, as JSON) of the live state
// right after release at: the stored config of at's version with, as its
// components, each component of state as its release ran it, found by
// its spec hash in the stored configs (at's version first, then the
// release's own, then the others, newest first). wait_for keeps only
// components of state. Its version is at's. EConflict when a component's
// spec is in no stored version.
func (e *Engine) releaseConfig(ctx context.Context, tool string, at slipway.Release, state map[string]slipway.Release) (int, json.RawMessage, error) {
	type version struct {
		cfg slipway.ToolConfig
		top []member
		raw map[string]json.RawMessage // components, by name
	}
	versions := map[int]*version{}
	load := func(v int) (*version, error) {
		if got, ok := versions[v]; ok {
			return got, nil
		}
		versions[v] = nil
		sc, err := e.store.ConfigGet(ctx, tool, v)
		if errors.Is(err, store.ErrNotFound) || (err == nil && (sc.Deleted || len(sc.Raw) == 0)) {
			return nil, nil
		} else if err != nil {
			return nil, fmt.Errorf("config %d of %s: %w", v, tool, err)
		}
		cfg, ok := readable(sc.Raw)
		if !ok {
			return nil, nil // a version this server cannot read holds no spec to run
		}
		top, err := members(sc.Raw)
		if err != nil {
			return nil, fmt.Errorf("config %d of %s: %w", v, tool, err)
		}
		got := &version{cfg: cfg, top: top, raw: map[string]json.RawMessage{}}
		for _, m := range top {
			if m.key == "components" {
				comps, err := members(m.value)
				if err != nil {
					return nil, fmt.Errorf("config %d of %s: %w", v, tool, err)
				}
				for _, c := range comps {
					got.raw[c.key] = c.value
				}
			}
		}
		versions[v] = got
		return got, nil
	}
	base, err := load(at.ConfigVersion)
	if err != nil {
		return 0, nil, err
	}
	if base == nil {
		return 0, nil, slipway.Errorf(slipway.EConflict, "Cannot roll back to release %d: its config (version %d) is not stored any more.", at.Seq, at.ConfigVersion)
	}
	latest, err := e.store.ConfigGetLatest(ctx, tool)
	if err != nil && !errors.Is(err, store.ErrNotFound) {
		return 0, nil, fmt.Errorf("latest config of %s: %w", tool, err)
	}
	// Components in the base's order, then the others by name.
	names := slices.DeleteFunc(slices.Clone(base.cfg.Names()), func(n string) bool { _, ok := state[n]; return !ok })
	for _, n := range slices.Sorted(maps.Keys(state)) {
		if !slices.Contains(names, n) {
			names = append(names, n)
		}
	}
	comps := make([]member, 0, len(names))
	for _, name := range names {
		r := state[name]
		candidates := []int{at.ConfigVersion, r.ConfigVersion}
		for v := latest.Version; v > 0 && len(candidates) < maxSpecSearch; v-- {
			candidates = append(candidates, v)
		}
		var found json.RawMessage
		for _, v := range candidates {
			ver, err := load(v)
			if err != nil {
				return 0, nil, err
			}
			if ver == nil {
				continue
			}
			// The release ran the component as its environment runs it.
			runs := ver.cfg
			if env, ok := ver.cfg.Environment(cmp.Or(at.Environment, slipway.DefaultEnvironment)); ok {
				runs = ver.cfg.ForEnvironment(env)
			}
			if c, ok := runs.Components[name]; ok && c.SpecHash() == r.SpecHash {
				if found, err = keepWaitFor(ver.raw[name], state); err != nil {
					return 0, nil, fmt.Errorf("config %d of %s: %w", v, tool, err)
				}
				break
			}
		}
		if found == nil {
			return 0, nil, slipway.Errorf(slipway.EConflict,
				"Cannot roll back to release %d: %s as release %d ran it (spec %s, config version %d) is in no stored config version.",
				at.Seq, name, r.Seq, r.SpecHash, r.ConfigVersion)
		}
		comps = append(comps, member{name, found})
	}
	top := make([]member, 0, len(base.top))
	for _, m := range base.top {
		if m.key == "components" {
			m.value = marshalMembers(comps)
		}
		top = append(top, m)
	}
	return at.ConfigVersion, marshalMembers(top), nil
}

// readable parses a stored config version, and reports whether it could.
func readable(raw json.RawMessage) (slipway.ToolConfig, bool) {
	cfg, err := parseStored(raw)
	return cfg, err == nil
}

// keepWaitFor returns a component's set fields with its wait_for keeping
// only the components of state.
func keepWaitFor(raw json.RawMessage, state map[string]slipway.Release) (json.RawMessage, error) {
	fields, err := members(raw)
	if err != nil {
		return nil, err
	}
	for i, f := range fields {
		if f.key != "wait_for" {
			continue
		}
		var names []string
		if err := json.Unmarshal(f.value, &names); err != nil {
			return nil, fmt.Errorf("wait_for: %w", err)
		}
		names = slices.DeleteFunc(names, func(n string) bool { _, ok := state[n]; return !ok })
		if names == nil {
			names = []string{}
		}
		v, err := json.Marshal(names)
		if err != nil {
			return nil, err
		}
		fields[i].value = v
	}
	return marshalMembers(fields), nil
}

// member is one key and value of a JSON object, in order.
type member struct {
	key   string
	value json.RawMessage
}

// members returns the members of a JSON object in their order.
func members(raw json.RawMessage) ([]member, error) {
	dec := json.NewDecoder(bytes.NewReader(raw))
	if t, err := dec.Token(); err != nil || t != json.Delim('{') {
		return nil, fmt.Errorf("not a JSON object: %.40q", raw)
	}
	var out []member
	for dec.More() {
		t, err := dec.Token()
		if err != nil {
			return nil, err
		}
		key, ok := t.(string)
		if !ok {
			return nil, fmt.Errorf("not a JSON object key: %v", t)
		}
		var v json.RawMessage
		if err := dec.Decode(&v); err != nil {
			return nil, err
		}
		out = append(out, member{key, v})
	}
	return out, nil
}

// marshalMembers writes members as a compact JSON object.
func marshalMembers(ms []member) json.RawMessage {
	var b bytes.Buffer
	b.WriteByte('{')
	for i, m := range ms {
		if i > 0 {
			b.WriteByte(',')
		}
		k, _ := json.Marshal(m.key) // a string always marshals
		b.Write(k)
		b.WriteByte(':')
		if err := json.Compact(&b, m.value); err != nil {
			b.Write(m.value)
		}
	}
	b.WriteByte('}')
	return b.Bytes()
}
