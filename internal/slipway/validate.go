package slipway

import (
	"errors"
	"fmt"
	"net/url"
	"regexp"
	"slices"
	"strings"
	"unicode"
)

// Problem is one thing wrong with a domain value, addressed by the dotted
// path of the field at fault, relative to the value checked (for a
// component: "run.port", "build.repository"; "" for the value itself).
// It has no position: a reader of a document (toolconfig) adds one.
type Problem struct {
	Path    string
	Message string
}

// String returns "path: message", or the message alone for the value
// itself.
func (p Problem) String() string {
	if p.Path == "" {
		return p.Message
	}
	return p.Path + ": " + p.Message
}

// ValidateOptions tunes [Component.ValidateWith].
type ValidateOptions struct {
	// Given reports whether the field at path (as in [Problem.Path]) was
	// given, whatever its value. A document reader sets it so that an
	// explicit zero ("port: 0") is checked, and a required field it found
	// of the wrong type is not also reported missing. Nil means a field is
	// given when its value is not zero.
	Given func(path string) bool
	// Stored accepts what older Slipway versions stored: control
	// characters in text fields, and the cpu and memory forms they took
	// ("512K", "0").
	Stored bool
}

// Validate returns what is wrong with c, each problem once, in the order
// of the tool config's fields; nil when nothing is. Zero fields count as
// not set. It checks c alone: that reuse_from and wait_for name other
// components of the config is the config's business.
func (c Component) Validate() []Problem { return c.ValidateWith(ValidateOptions{}) }

// ValidateWith is [Component.Validate] with options.
func (c Component) ValidateWith(o ValidateOptions) []Problem {
	v := validator{opts: o}
	if !ValidName(c.Name) {
		v.add("", "component name %q is not valid: use 1 to %d lowercase letters, digits or dashes, starting and ending with a letter or digit", c.Name, MaxNameLength)
	}
	if !slices.Contains(ComponentTypes, c.Type) {
		v.add("component_type", "component_type must be one of continuous, scheduled, one-off, got %q", c.Type)
	}
	v.build(c.Build)
	run := c.Run.ValidateWith(c.Type, ValidateOptions{Given: v.under("run."), Stored: o.Stored})
	for _, p := range run {
		v.problems = append(v.problems, Problem{Path: "run." + p.Path, Message: p.Message})
	}
	return v.problems
}

// Validate returns what is wrong with the run fields of a component of
// type t, with paths relative to the run ("port"), in the order of the
// tool config's fields: the ones missing first, then each field, followed
// by the checks that tie it to others. Zero fields count as not set.
// Fields that type t does not have are not looked at.
func (r RunSpec) Validate(t ComponentType) []Problem {
	return r.ValidateWith(t, ValidateOptions{})
}

// ValidateWith is [RunSpec.Validate] with options; Given takes paths
// relative to the run.
func (r RunSpec) ValidateWith(t ComponentType, o ValidateOptions) []Problem {
	v := validator{opts: o}
	given := v.given

	if !given("command", r.Command == "") {
		v.add("command", "command is required: the command line that starts the component")
	}
	if t == Scheduled && !given("schedule", r.Schedule == "") {
		v.add("schedule", "schedule is required for a scheduled component: %s", ScheduleForms)
	}
	// good holds the fields given with a valid value, for the checks that
	// tie fields together.
	good := map[string]bool{}
	check := func(f string, zero bool, msg func() string) {
		if !given(f, zero) {
			return
		}
		if m := msg(); m != "" {
			v.add(f, "%s", m)
			return
		}
		good[f] = true
	}
	check("command", r.Command == "", func() string {
		return v.nonEmptyText("command", r.Command, ShellText)
	})
	check("cpu", r.CPU == "", func() string { return CheckCPU(r.CPU, o.Stored) })
	check("memory", r.Memory == "", func() string { return CheckMemory(r.Memory, o.Stored) })
	check("emails", r.Emails == "", func() string { return oneOf("emails", r.Emails, "none", "all", "onfinish", "onfailure") })
	check("filelog_stdout", r.FilelogStdout == "", func() string { return v.text("filelog_stdout", r.FilelogStdout, "") })
	check("filelog_stderr", r.FilelogStderr == "", func() string { return v.text("filelog_stderr", r.FilelogStderr, "") })
	check("mount", r.Mount == "", func() string { return oneOf("mount", r.Mount, "all", "none") })
	if t == Continuous {
		check("port", r.Port == 0, func() string { return inRange("port", r.Port, PortRange) })
		check("port_protocol", r.PortProtocol == "", func() string { return oneOf("port_protocol", r.PortProtocol, "tcp", "udp") })
		portSet := given("port", r.Port == 0) // a bad port is reported already
		tcp := r.PortProtocol != "udp"
		check("publish", r.Publish == "", func() string { return CheckPublish(r.Publish) })
		if good["publish"] {
			switch {
			case !portSet:
				v.add("publish", "publish requires port to be set")
			case !tcp:
				v.add("publish", "publish requires port_protocol set to tcp")
			}
		}
		check("replicas", r.Replicas == 0, func() string { return inRange("replicas", r.Replicas, ReplicasRange) })
		check("health_check_script", r.HealthCheckScript == "", func() string {
			return v.nonEmptyText("health_check_script", r.HealthCheckScript, ShellText)
		})
		check("health_check_http", r.HealthCheckHTTP == "", func() string {
			if !strings.HasPrefix(r.HealthCheckHTTP, "/") || strings.ContainsFunc(r.HealthCheckHTTP, isSpaceOrControl) {
				return fmt.Sprintf("health_check_http must be a URL path starting with \"/\", such as \"/healthz\", got %q", r.HealthCheckHTTP)
			}
			return ""
		})
		if good["health_check_script"] && good["health_check_http"] {
			v.add("health_check_http", BothHealthChecks)
		}
		if good["health_check_http"] && (!portSet || !tcp) {
			v.add("health_check_http", "A tcp port must be set for health_check_http")
		}
	}
	if t == Scheduled {
		check("schedule", r.Schedule == "", func() string {
			if m := v.text("schedule", r.Schedule, ScheduleText); m != "" {
				return m
			}
			return CheckSchedule(r.Schedule)
		})
	}
	if t == Scheduled || t == OneOff {
		check("retry", r.Retry == 0, func() string { return inRange("retry", r.Retry, RetryRange) })
		check("timeout", r.Timeout == 0, func() string { return inRange("timeout", r.Timeout, TimeoutRange) })
	}
	if t == Continuous {
		check("stop_grace_period", r.StopGracePeriod == 0, func() string {
			return inRange("stop_grace_period", r.StopGracePeriod, StopGracePeriodRange)
		})
	}
	return v.problems
}

// BothHealthChecks is the problem of a run that sets both health checks.
const BothHealthChecks = "Cannot specify both health_check_script and health_check_http"

// IntRange is the valid values of an integer field, and how a message says
// them.
type IntRange struct {
	Min, Max int64
	// Text completes "<field> must be …".
	Text string
}

// MaxStopGracePeriod bounds stop_grace_period (seconds): a stop, a
// replacement and a server shutdown wait that long at most for a process.
const MaxStopGracePeriod = 3600

// The ranges of the integer run fields.
var (
	PortRange            = IntRange{1, 65535, "between 1 and 65535"}
	ReplicasRange        = IntRange{1, 1<<31 - 1, "at least 1"}
	RetryRange           = IntRange{0, 5, "between 0 and 5"}
	TimeoutRange         = IntRange{0, 1<<31 - 1, "a number of seconds, at least 0 (0 means no timeout)"}
	StopGracePeriodRange = IntRange{1, MaxStopGracePeriod, fmt.Sprintf("a number of seconds between 1 and %d", MaxStopGracePeriod)}
)

// inRange returns what is wrong with the integer field name, or "".
func inRange(name string, n int, r IntRange) string {
	if int64(n) < r.Min || int64(n) > r.Max {
		return fmt.Sprintf("%s must be %s, got %d", name, r.Text, n)
	}
	return ""
}

// oneOf returns what is wrong with the enumerated field name, or "".
func oneOf(name, s string, valid ...string) string {
	if slices.Contains(valid, s) {
		return ""
	}
	return fmt.Sprintf("%s must be one of %s, got %q", name, strings.Join(valid, ", "), s)
}

// legacyCPURE and legacyMemoryRE are what Slipway accepted as cpu and
// memory before they were parsed as quantities; stored configs may hold
// them (see ValidateOptions.Stored).
var (
	legacyCPURE    = regexp.MustCompile(`^[0-9]+(\.[0-9]+)?m?$`)
	legacyMemoryRE = regexp.MustCompile(`^[0-9]+(\.[0-9]+)?(Ki|Mi|Gi|Ti|K|M|G|T)?$`)
)

// validator collects problems.
type validator struct {
	opts     ValidateOptions
	problems []Problem
}

func (v *validator) add(path, format string, args ...any) {
	v.problems = append(v.problems, Problem{Path: path, Message: fmt.Sprintf(format, args...)})
}

// given reports whether the field at path was given; zero says whether its
// value is the zero value.
func (v *validator) given(path string, zero bool) bool {
	if v.opts.Given == nil {
		return !zero
	}
	return v.opts.Given(path)
}

// under returns Given for the fields under prefix, or nil.
func (v *validator) under(prefix string) func(string) bool {
	if v.opts.Given == nil {
		return nil
	}
	return func(path string) bool { return v.opts.Given(prefix + path) }
}

// text returns what is wrong with a text field (see CheckText), unless
// stored values are accepted.
func (v *validator) text(name, s, allowed string) string {
	if v.opts.Stored {
		return ""
	}
	return CheckText(name, s, allowed)
}

// nonEmptyText is text for a field that must hold more than spaces.
func (v *validator) nonEmptyText(name, s, allowed string) string {
	if m := v.text(name, s, allowed); m != "" {
		return m
	}
	if strings.TrimSpace(s) == "" {
		return name + " must not be empty"
	}
	return ""
}

// CheckCPU returns what is wrong with a cpu value, as ParseCPU says it,
// or ""; stored accepts the forms older Slipway versions stored too.
func CheckCPU(s string, stored bool) string { return checkQuantity(s, ParseCPU, legacyCPURE, stored) }

// CheckMemory returns what is wrong with a memory value, as ParseMemory
// says it, or ""; stored accepts the forms older Slipway versions stored
// too.
func CheckMemory(s string, stored bool) string {
	return checkQuantity(s, ParseMemory, legacyMemoryRE, stored)
}

func checkQuantity(s string, parse func(string) (int64, error), legacy *regexp.Regexp, stored bool) string {
	_, err := parse(s)
	if err == nil || (stored && legacy.MatchString(s)) {
		return ""
	}
	return err.Error()
}

// CheckPublish returns what is wrong with a publish value, or "".
func CheckPublish(s string) string {
	if s != "/" {
		return fmt.Sprintf("publish must be \"/\" (serve the component at the root of the tool's URL), got %q", s)
	}
	return ""
}

// ScheduleText are the control characters a schedule may hold.
const ScheduleText = "\t"

// build checks a component's build.
func (v *validator) build(b BuildSpec) {
	switch {
	case b.Source != nil:
		s := b.Source
		if !v.given("build.repository", s.Repository == "") {
			v.add("build.repository", "repository is required with ref: an http, https, git or file URL, or an absolute path")
		} else if m := v.text("repository", s.Repository, ""); m != "" {
			v.add("build.repository", "%s", m)
		} else if m := CheckRepository(s.Repository); m != "" {
			v.add("build.repository", "%s", m)
		}
		if !v.given("build.ref", s.Ref == "") {
			v.add("build.ref", "ref is required: a branch, a tag, or a full or short commit SHA")
		} else if m := CheckRef(s.Ref); m != "" {
			v.add("build.ref", "%s", m)
		}
	case v.given("build.reuse_from", b.ReuseFrom == ""):
		if m := v.text("reuse_from", b.ReuseFrom, ""); m != "" {
			v.add("build.reuse_from", "%s", m)
		} else if b.ReuseFrom == "" {
			v.add("build.reuse_from", "reuse_from must name another component of this config, whose build this one uses")
		}
	case v.given("build.image", b.Image == ""):
		if b.Image == "" || strings.ContainsFunc(b.Image, isSpaceOrControl) {
			v.add("build.image", "image must be an image reference such as \"registry.example.org/team/app:1.2\" or \"…@sha256:<digest>\", got %q", b.Image)
		}
	default:
		v.add("build", "build must have repository and ref (build from source), reuse_from (use another component's build) or image (a prebuilt image)")
	}
}

func isSpaceOrControl(r rune) bool {
	return unicode.IsSpace(r) || unicode.IsControl(r)
}

// ParseAbsoluteURL parses a URL that must have a scheme.
func ParseAbsoluteURL(s string) (*url.URL, error) {
	u, err := url.Parse(s)
	if err != nil {
		return nil, fmt.Errorf("parse url: %w", err)
	}
	if u.Scheme == "" {
		return nil, errors.New("parse url: no scheme")
	}
	return u, nil
}

// CheckRepository returns what is wrong with a build repository, or "".
// Messages show the URL with its user info redacted.
func CheckRepository(s string) string {
	if msg := checkRepositoryURL(s); msg != "" {
		return msg
	}
	if _, err := SplitURLCredential(s); err != nil {
		return "repository " + err.Error()
	}
	return ""
}

// checkRepositoryURL returns what is wrong with the form of a build
// repository, or "".
func checkRepositoryURL(s string) string {
	const want = "repository must be an http, https, git or file URL, or an absolute path"
	shown := RedactURL(s)
	if strings.HasPrefix(s, "/") {
		if strings.ContainsFunc(s, unicode.IsControl) {
			return fmt.Sprintf("%s, got %q: it contains control characters", want, shown)
		}
		return ""
	}
	u, err := ParseAbsoluteURL(s)
	switch {
	case err != nil:
		if !strings.Contains(s, "://") && strings.Contains(s, "@") && strings.Contains(s, ":") {
			return fmt.Sprintf("%s, got %q: SSH addresses are not supported, use the https URL of the repository", want, shown)
		}
		return fmt.Sprintf("%s, got %q", want, shown)
	case u.Scheme == "http" || u.Scheme == "https" || u.Scheme == "git":
		if u.Host == "" {
			return fmt.Sprintf("%s, got %q: the URL has no host", want, shown)
		}
	case u.Scheme == "file":
		if u.Host != "" && u.Host != "localhost" {
			return fmt.Sprintf("%s, got %q: a file URL must name a local path (file:///path)", want, shown)
		}
		if u.Path == "" || u.Path == "/" {
			return fmt.Sprintf("%s, got %q: the URL has no path", want, shown)
		}
	default:
		return fmt.Sprintf("%s, got %q: the scheme %q is not supported", want, shown, u.Scheme)
	}
	return ""
}

// CheckRef returns what is wrong with a build ref, or "".
func CheckRef(s string) string {
	const want = "ref must be a branch, a tag, or a full or short commit SHA"
	switch {
	case s == "":
		return want + `, got ""`
	case strings.HasPrefix(s, "-"):
		return fmt.Sprintf("%s, got %q: it must not start with \"-\"", want, s)
	case strings.ContainsFunc(s, isSpaceOrControl):
		return fmt.Sprintf("%s, got %q: it must not contain spaces or control characters", want, s)
	}
	return ""
}
