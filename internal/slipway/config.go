package slipway

import (
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"slices"
	"strconv"
	"strings"
)

// ConfigVersionV1Beta1 is the only tool config version: Toolforge's.
const ConfigVersionV1Beta1 = "v1beta1"

// ComponentType is what kind of workload a component is. Unlike Toolforge,
// which guesses the type from the fields set, Slipway uses component_type as
// the discriminator.
type ComponentType string

// The component types.
const (
	Continuous ComponentType = "continuous" // long-running, optionally published
	Scheduled  ComponentType = "scheduled"  // cron
	OneOff     ComponentType = "one-off"    // runs to completion once per deployment that changes it
)

// ComponentTypes lists the valid component types in documentation order.
var ComponentTypes = []ComponentType{Continuous, Scheduled, OneOff}

// ToolConfig is one version of a tool's config: a set of named components.
type ToolConfig struct {
	// ConfigVersion is "v1beta1" or "" when the user did not set it.
	ConfigVersion string
	// SourceURL, when set, is where the config is fetched from on each deploy.
	SourceURL string
	// Components by name.
	Components map[string]Component
	// Order is the component names in the order the user wrote them.
	Order []string
	// Environments are the tool's declared environments in promotion order
	// (none: the one DefaultEnvironment; see EnvironmentList).
	Environments []Environment
	// Policy is the tool-level Slipway extension (`x-slipway:`).
	Policy ToolPolicy
	// Flows are the tool's declared flows, in the config's order
	// (x-slipway.flows).
	Flows []Flow
	// Raw is the config as the user set it: only the fields they sent, in
	// their order, without unknown fields, as JSON. It is what `config show`
	// echoes and what a deployment snapshots.
	Raw json.RawMessage
}

// Names returns the component names in the user's order.
func (c ToolConfig) Names() []string {
	if len(c.Order) == len(c.Components) {
		return c.Order
	}
	names := make([]string, 0, len(c.Components))
	for n := range c.Components {
		names = append(names, n)
	}
	slices.Sort(names)
	return names
}

// Component is one named workload of a tool.
type Component struct {
	Name    string
	Type    ComponentType
	Build   BuildSpec
	Run     RunSpec
	WaitFor []string
	// Gate, when set, is a question a deployment asks before it changes
	// the component (a Slipway extension of Toolforge's config). It is no
	// part of the component's spec: changing it restarts nothing.
	Gate *Gate
}

// BuildSpec says where a component's artifact comes from: exactly one of
// Source, ReuseFrom or Image is set.
type BuildSpec struct {
	Source    *SourceBuild
	ReuseFrom string
	// Image is a prebuilt image reference (Kubernetes targets only).
	Image string
}

// SourceBuild is a build from a git repository at a ref.
type SourceBuild struct {
	Repository string
	// Ref is a branch, a tag, or a full or short commit SHA.
	Ref                   string
	UseLatestVersions     bool
	UseDeprecatedVersions bool
}

// RunSpec holds the run fields of a component. Zero values mean "not set".
type RunSpec struct {
	Command           string
	CPU               string
	Memory            string
	Emails            string
	Filelog           *bool
	FilelogStdout     string
	FilelogStderr     string
	Mount             string
	Port              int
	PortProtocol      string
	Publish           string
	Replicas          int
	HealthCheckScript string
	HealthCheckHTTP   string
	Schedule          string
	Retry             int
	// Timeout in seconds; 0 means none.
	Timeout int
	// StopGracePeriod is how long, in seconds, a continuous component's
	// process has between SIGTERM and SIGKILL when it is stopped (replaced,
	// restarted, removed); 0 means the server's default. A Slipway
	// extension of Toolforge's config.
	StopGracePeriod int
}

// ReplicaCount returns the number of replicas, 1 when unset.
func (r RunSpec) ReplicaCount() int {
	if r.Replicas < 1 {
		return 1
	}
	return r.Replicas
}

// SpecHash returns a stable hash of everything that decides how a component
// runs (type, run fields), excluding its build. Two components with the same
// SpecHash and the same artifact need no restart.
func (c Component) SpecHash() string {
	fields := c.specFields()
	lines := make([]string, len(fields))
	for i, f := range fields {
		lines[i] = f.name + "=" + f.value
	}
	return hashStrings(lines)
}

// specField is one field of a component's spec, as SpecHash hashes it.
type specField struct{ name, value string }

// specFields returns the fields SpecHash hashes, in its order: first the
// type and the run fields Slipway has hashed from the start, set or not
// (TestSpecHash_NewFieldsOnlyWhenSet freezes their names: changing them
// changes every component's hash, which restarts every component on
// upgrade), then each field added since, only when it is set, so that the
// hash of every component configured before the field existed stays the
// same and nothing restarts for it. A new run field (a Kubernetes one, say)
// goes at the end of the second list.
func (c Component) specFields() []specField {
	r := c.Run
	fl := ""
	if r.Filelog != nil {
		fl = strconv.FormatBool(*r.Filelog)
	}
	fields := []specField{
		{"type", string(c.Type)},
		{"command", r.Command},
		{"cpu", r.CPU},
		{"memory", r.Memory},
		{"emails", r.Emails},
		{"filelog", fl},
		{"filelog_stdout", r.FilelogStdout},
		{"filelog_stderr", r.FilelogStderr},
		{"mount", r.Mount},
		{"port", strconv.Itoa(r.Port)},
		{"port_protocol", r.PortProtocol},
		{"publish", r.Publish},
		{"replicas", strconv.Itoa(r.ReplicaCount())},
		{"health_check_script", r.HealthCheckScript},
		{"health_check_http", r.HealthCheckHTTP},
		{"schedule", r.Schedule},
		{"retry", strconv.Itoa(r.Retry)},
		{"timeout", strconv.Itoa(r.Timeout)},
	}
	// Added later: hashed only when set.
	for _, f := range []specField{
		{"stop_grace_period", nonZero(r.StopGracePeriod)},
	} {
		if f.value != "" {
			fields = append(fields, f)
		}
	}
	return fields
}

// nonZero formats n, or returns "" (unset) for 0.
func nonZero(n int) string {
	if n == 0 {
		return ""
	}
	return strconv.Itoa(n)
}

// BuildFrom returns the name of the component whose build this component
// uses: its own name, or its reuse_from target.
func (c Component) BuildFrom() string {
	if c.Build.ReuseFrom != "" {
		return c.Build.ReuseFrom
	}
	return c.Name
}

func hashStrings(fields []string) string {
	h := sha256.New()
	for _, f := range fields {
		h.Write([]byte(f))
		h.Write([]byte{0})
	}
	return hex.EncodeToString(h.Sum(nil))[:16]
}

// BuildKey returns the content address of a build: the same repository,
// commit, builder version and build settings always produce the same
// artifact, so a successful build with this key can be reused.
func BuildKey(repository, commit, builderVersion string, settings ...string) string {
	return hashStrings(append([]string{strings.TrimSpace(repository), commit, builderVersion}, settings...))
}

// SourceBuildSettings returns the build settings of s that take part in the
// build key. The two booleans are always there, set or not; a setting
// added later must join only when it is set, so that the key of every
// build made before it existed stays the same and nothing rebuilds (and
// restarts) for it.
func SourceBuildSettings(s SourceBuild) []string {
	return []string{
		"use_latest_versions=" + strconv.FormatBool(s.UseLatestVersions),
		"use_deprecated_versions=" + strconv.FormatBool(s.UseDeprecatedVersions),
	}
}
