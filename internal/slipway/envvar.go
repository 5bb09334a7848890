package slipway

import (
	"fmt"
	"regexp"
	"strings"
)

// EnvVar is one of a tool's environment variables (Toolforge's envvars):
// every process of the tool gets it. Values are secrets: they are stored
// encrypted and returned only to the tool's own credentials and the admin.
type EnvVar struct {
	Name  string
	Value string
}

// EnvVarQuota is how many envvars a tool may have and how many it has.
type EnvVarQuota struct {
	Quota int
	Used  int
}

// Limits of envvars.
const (
	// DeployTokenEnvVar holds the tool's deploy token, written by Slipway
	// when the token is created or refreshed and deleted with it, as
	// Toolforge's components API does.
	DeployTokenEnvVar = "TOOL_DEPLOY_TOKEN" //nolint:gosec // G101: the name of a variable, not a credential
	// DefaultEnvVarQuota is how many envvars a tool may have unless the
	// server says otherwise.
	DefaultEnvVarQuota = 100
	// MaxEnvVarNameLength is the longest name (a Kubernetes Secret key's
	// limit, where Toolforge keeps them).
	MaxEnvVarNameLength = 253
	// MaxEnvVarValueBytes is the largest value.
	MaxEnvVarValueBytes = 32 << 10
	// MaxEnvVarTotalBytes bounds the names and values of a tool's envvars
	// together, so that all of them always fit in one process's
	// environment (Linux refuses an exec whose arguments and environment
	// pass a quarter of the stack limit, 2 MiB by default).
	MaxEnvVarTotalBytes = 512 << 10
)

// envVarNameRE is the name rule of Toolforge's live envvars-api schema.
var envVarNameRE = regexp.MustCompile(`^[A-Z][A-Z_0-9]{2,}[A-Z0-9]$`)

// envVarNameRule says the name rule in words, for error messages.
const envVarNameRule = "a name is 4 to 253 characters: an upper-case letter, then upper-case letters, digits or underscores, and it does not end with an underscore (^[A-Z][A-Z_0-9]{2,}[A-Z0-9]$)"

// ValidateEnvVarName returns an EInvalid [Error] naming the rule when name
// is not a valid envvar name.
func ValidateEnvVarName(name string) error {
	if len(name) > MaxEnvVarNameLength || !envVarNameRE.MatchString(name) {
		return Errorf(EInvalid, "Invalid envvar name %q: %s.", Clip(name, 60), envVarNameRule)
	}
	return nil
}

// Clip cuts s to at most n bytes for a message, marking a cut with "…"
// (a character the cut would split is left out).
func Clip(s string, n int) string {
	if len(s) > n {
		return strings.ToValidUTF8(s[:n], "") + "…"
	}
	return s
}

// reservedEnvVars are the names Slipway sets for every process, with what
// they hold: an envvar may not override them.
var reservedEnvVars = map[string]string{
	"PORT":          "the port the component listens on",
	"HOME":          "the tool's home directory",
	"TOOL_DATA_DIR": "the tool's home directory, as on Toolforge",
	"TOOL_NAME":     "the tool's name",
	"COMPONENT":     "the component's name",
}

// ReservedEnvVar returns why a tool may not create or overwrite the envvar
// name, or "" when it may: the names Slipway sets for every process, every
// SLIPWAY_ name, and TOOL_DEPLOY_TOKEN, which Slipway writes from the
// deploy token (a tool may delete it, as on Toolforge).
func ReservedEnvVar(name string) string {
	switch {
	case name == DeployTokenEnvVar:
		return "Slipway writes it from the tool's deploy token; create or refresh the token instead (slipway components deploy-token create|refresh)"
	case strings.HasPrefix(name, "SLIPWAY_"):
		return "names starting with SLIPWAY_ are reserved for Slipway, which sets some of them for every process"
	}
	if what, ok := reservedEnvVars[name]; ok {
		return fmt.Sprintf("Slipway sets it for every process (%s), and an envvar may not override it", what)
	}
	return ""
}

// ValidateEnvVar returns an EInvalid [Error] when a tool may not set the
// envvar name to value: a bad or reserved name, a value over
// [MaxEnvVarValueBytes], or a NUL byte (no environment variable can hold
// one).
func ValidateEnvVar(name, value string) error {
	if err := ValidateEnvVarName(name); err != nil {
		return err
	}
	if why := ReservedEnvVar(name); why != "" {
		return Errorf(EInvalid, "Cannot set envvar %s: %s.", name, why)
	}
	if len(value) > MaxEnvVarValueBytes {
		return Errorf(EInvalid, "The value of envvar %s is %d bytes; the limit is %d bytes.", name, len(value), MaxEnvVarValueBytes)
	}
	if i := strings.IndexByte(value, 0); i >= 0 {
		return Errorf(EInvalid, "The value of envvar %s has a NUL byte at byte %d, which no environment variable can hold.", name, i)
	}
	return nil
}

// ToolEnv is the environment every process of a tool gets from its
// envvars: the values by name, and each one's fingerprint (an HMAC under
// the server's key, never the value itself), so that what a running
// component got can be recorded ([LiveRun].EnvFingerprints) and compared
// with what it would get now, without keeping the secret.
type ToolEnv struct {
	Values       map[string]string
	Fingerprints map[string]string
	// FromConfig names the variables whose values the tool's config gives
	// (an environment's env:): not secret. The others are envvars, which are.
	FromConfig map[string]bool
}

// Split returns the variables the config gives, which are not secret, and
// the envvars, which are (nil maps when there are none).
func (env ToolEnv) Split() (plain, secret map[string]string) {
	for k, v := range env.Values {
		m := &secret
		if env.FromConfig[k] {
			m = &plain
		}
		if *m == nil {
			*m = map[string]string{}
		}
		(*m)[k] = v
	}
	return plain, secret
}
