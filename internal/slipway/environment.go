package slipway

import (
	"cmp"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"maps"
	"regexp"
	"strings"
	"time"
)

// An Environment is one stage a tool's components are deployed to (e.g.
// staging, then production), with its own live state, deployments and
// queue. A tool that declares none has one, [DefaultEnvironment]. They
// are declared in the tool config's `x-slipway: environments:` mapping,
// in promotion order.
type Environment struct {
	Name string
	// Production marks an environment whose builds must have been live
	// and healthy upstream: a direct deployment of other builds is refused
	// unless AllowDirect.
	Production bool
	// Upstream is the environment promotions come from ("" for none).
	Upstream    string
	AllowDirect bool
	// Env holds environment variables set for every component in this
	// environment, over the tool's own.
	Env map[string]string
	// Overrides change components' run fields in this environment, by
	// component name.
	Overrides map[string]RunOverride
}

// RunOverride holds the run fields an environment changes for one
// component; zero values leave the field as the component sets it.
type RunOverride struct {
	Replicas int
	CPU      string
	Memory   string
	Schedule string
	Publish  string
	// Gate, when set, is the component's gate in this environment (e.g. a
	// question asked before production changes, not before staging).
	Gate *Gate
}

// MaxEnvironmentName is the longest environment name.
const MaxEnvironmentName = 10

var envNameRE = regexp.MustCompile(`^[a-z][a-z0-9]{0,9}$`)

// ValidEnvironmentName reports whether s is a valid environment name: a
// lowercase letter then up to 9 lowercase letters or digits (no dashes:
// "--" separates a tool from its environment in instance names).
func ValidEnvironmentName(s string) bool { return envNameRE.MatchString(s) }

// ValidateEnvironmentName returns an EInvalid error unless s is a valid
// environment name; field names it.
func ValidateEnvironmentName(field, s string) error {
	if ValidEnvironmentName(s) {
		return nil
	}
	return Errorf(EInvalid, "%s: %q is not an environment name: a lowercase letter then up to %d lowercase letters or digits", field, s, MaxEnvironmentName-1)
}

// InstanceName is the name a tool's environment runs under on the target
// (processes, data directory, published host): the tool's own name for
// [DefaultEnvironment], "<tool>--<environment>" for the others. Tool
// names may not contain "--" ([ValidateToolName]), so no tool's name is
// another's instance.
func InstanceName(tool, environment string) string {
	if environment == "" || environment == DefaultEnvironment {
		return tool
	}
	return tool + "--" + environment
}

// SplitInstance returns the tool and environment of an instance name
// ([InstanceName]'s inverse).
func SplitInstance(instance string) (tool, environment string) {
	if t, env, ok := strings.Cut(instance, "--"); ok {
		return t, env
	}
	return instance, DefaultEnvironment
}

// EnvironmentList returns the tool's environments in promotion order: the
// declared ones, or the one [DefaultEnvironment] of a tool that declares
// none.
func (c ToolConfig) EnvironmentList() []Environment {
	if len(c.Environments) > 0 {
		return c.Environments
	}
	return []Environment{{Name: DefaultEnvironment, Production: true}}
}

// Environment returns the environment called name; ok is false when the
// tool has none of that name.
func (c ToolConfig) Environment(name string) (Environment, bool) {
	for _, e := range c.EnvironmentList() {
		if e.Name == name {
			return e, true
		}
	}
	return Environment{}, false
}

// EntryEnvironment is where a deployment goes when none is named: the
// first environment (the start of the promotion chain).
func (c ToolConfig) EntryEnvironment() string { return c.EnvironmentList()[0].Name }

// ForEnvironment returns the config as deployed to environment env: each
// component with env's overrides applied. The receiver is not changed.
func (c ToolConfig) ForEnvironment(env Environment) ToolConfig {
	if len(env.Overrides) == 0 {
		return c
	}
	out := c
	out.Components = make(map[string]Component, len(c.Components))
	for name, comp := range c.Components {
		if o, ok := env.Overrides[name]; ok {
			r := &comp.Run
			if o.Replicas != 0 {
				r.Replicas = o.Replicas
			}
			r.CPU = cmp.Or(o.CPU, r.CPU)
			r.Memory = cmp.Or(o.Memory, r.Memory)
			r.Schedule = cmp.Or(o.Schedule, r.Schedule)
			r.Publish = cmp.Or(o.Publish, r.Publish)
			if o.Gate != nil {
				comp.Gate = o.Gate
			}
		}
		out.Components[name] = comp
	}
	return out
}

// WithEnvironment returns env with an environment's variables set over
// the tool's: values and fingerprints (new maps; env is not changed).
func (env ToolEnv) WithEnvironment(e Environment) ToolEnv {
	if len(e.Env) == 0 {
		return env
	}
	out := ToolEnv{Values: maps.Clone(env.Values), Fingerprints: maps.Clone(env.Fingerprints), FromConfig: maps.Clone(env.FromConfig)}
	if out.Values == nil {
		out.Values = map[string]string{}
	}
	if out.Fingerprints == nil {
		out.Fingerprints = map[string]string{}
	}
	if out.FromConfig == nil {
		out.FromConfig = map[string]bool{}
	}
	for k, v := range e.Env {
		out.Values[k] = v
		out.FromConfig[k] = true
		sum := sha256.Sum256([]byte("environment\x00" + e.Name + "\x00" + v))
		out.Fingerprints[k] = "env:" + hex.EncodeToString(sum[:8])
	}
	return out
}

// A Pin is the build a promotion deploys for one component: the build key
// and commit live and healthy upstream.
type Pin struct {
	BuildKey string `json:"build_key"`
	Commit   string `json:"commit"`
}

// EnvironmentStatus is one environment of a tool with what runs there.
type EnvironmentStatus struct {
	Environment
	// Instance is the name it runs under ([InstanceName]).
	Instance string
	Live     []LiveComponent
	// LatestDeployment is its newest deployment ("" for none).
	LatestDeployment string
	LatestStatus     DeploymentStatus
}

// LiveComponent is what one component runs in an environment.
type LiveComponent struct {
	Component    string
	BuildKey     string
	Commit       string
	DeploymentID string
	AppliedAt    time.Time
	// Unhealthy says why it does not run as recorded; "" when healthy.
	Unhealthy string
}

// A Promotion is what promoting an environment's upstream to it would
// do: per component the builds and commits that come and go, the config
// differences, and the plan.
type Promotion struct {
	From, To string
	// Source is the upstream deployment whose config is deployed.
	Source        string
	Changes       []PromotionChange
	ConfigChanges []ConfigChange
	Plan          Deployment
}

// PromotionChange is one component's move in a promotion.
type PromotionChange struct {
	Component            string
	FromCommit, ToCommit string
	FromBuild, ToBuild   string
	// New and Removed are the commits it brings in and takes out, newest
	// first; Truncated when there were more than listed.
	New, Removed []CommitInfo
	Truncated    bool
}

// CommitInfo is one commit, as a diff lists it.
type CommitInfo struct {
	Commit  string
	Author  string
	At      time.Time
	Subject string
}

// ConfigChange is how one component's config differs between what runs
// and what a deployment would run.
type ConfigChange struct {
	Component string
	// Change is "added", "removed" or "changed".
	Change string
	// Fields are the changed run fields, "name: old → new".
	Fields []string
}

// RunDiff lists the spec fields (the type and the run fields, those
// [Component.SpecHash] hashes) in which b differs from a, as
// "name: old → new".
func RunDiff(a, b Component) []string {
	old := map[string]string{}
	for _, f := range a.specFields() {
		old[f.name] = f.value
	}
	var out []string
	for _, f := range b.specFields() {
		if v, ok := old[f.name]; f.value != v {
			if !ok {
				v = "(unset)"
			}
			out = append(out, fmt.Sprintf("%s: %s → %s", f.name, v, f.value))
		}
		delete(old, f.name)
	}
	for _, f := range a.specFields() {
		if _, gone := old[f.name]; gone {
			out = append(out, fmt.Sprintf("%s: %s → (unset)", f.name, f.value))
		}
	}
	return out
}
