package deploy

import (
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"slices"
	"strings"

	"slipway.dev/slipway/internal/slipway"
)

// jobFields lists the run fields a job may set, by the job types that
// allow them, as Toolforge's jobs API does.
var jobFields = []struct {
	name  string
	types []slipway.ComponentType
	set   func(r slipway.RunSpec) bool
}{
	{"port", []slipway.ComponentType{slipway.Continuous}, func(r slipway.RunSpec) bool { return r.Port != 0 }},
	{"port_protocol", []slipway.ComponentType{slipway.Continuous}, func(r slipway.RunSpec) bool { return r.PortProtocol != "" }},
	{"publish", []slipway.ComponentType{slipway.Continuous}, func(r slipway.RunSpec) bool { return r.Publish != "" }},
	{"replicas", []slipway.ComponentType{slipway.Continuous}, func(r slipway.RunSpec) bool { return r.Replicas != 0 }},
	{"health_check", []slipway.ComponentType{slipway.Continuous}, func(r slipway.RunSpec) bool {
		return r.HealthCheckScript != "" || r.HealthCheckHTTP != ""
	}},
	{"schedule", []slipway.ComponentType{slipway.Scheduled}, func(r slipway.RunSpec) bool { return r.Schedule != "" }},
	{"timeout", []slipway.ComponentType{slipway.Scheduled, slipway.OneOff}, func(r slipway.RunSpec) bool { return r.Timeout != 0 }},
	{"retry", []slipway.ComponentType{slipway.Scheduled, slipway.OneOff}, func(r slipway.RunSpec) bool { return r.Retry != 0 }},
}

// validateJobName returns an EInvalid error when name cannot be a job's.
func validateJobName(name string) error {
	if !slipway.ValidName(name) {
		return slipway.Errorf(slipway.EInvalid, "Job name %q must be 1-%d lowercase letters, digits or dashes, starting and ending with a letter or digit.", name, slipway.MaxNameLength)
	}
	return nil
}

// checkJob returns an EInvalid error listing what is wrong with a job
// definition, naming the jobs API's fields.
func checkJob(def slipway.Job) error {
	c := def.Component
	var problems []string
	if err := validateJobName(c.Name); err != nil {
		problems = append(problems, slipway.ErrorMessage(err))
	}
	if strings.TrimSpace(c.Run.Command) == "" {
		problems = append(problems, "cmd is required: the command line the job runs.")
	}
	if def.ImageName == "" {
		problems = append(problems, "imagename is required: the live component whose build the job runs.")
	}
	if !slices.Contains(slipway.ComponentTypes, c.Type) {
		problems = append(problems, fmt.Sprintf("job_type must be one of continuous, scheduled, one-off, got %q.", c.Type))
	} else {
		for _, f := range jobFields {
			if f.set(c.Run) && !slices.Contains(f.types, c.Type) {
				problems = append(problems, fmt.Sprintf("%s is not valid for a %s job (only for %s).", f.name, c.Type, typeList(f.types)))
			}
		}
	}
	if len(problems) == 0 {
		problems = runProblems(c)
	}
	if len(problems) > 0 {
		return &slipway.Error{Code: slipway.EInvalid, Message: strings.Join(problems, "\n")}
	}
	return nil
}

// jobWords turns the tool config words of the domain's messages into the
// jobs API's.
var jobWords = strings.NewReplacer(
	"command must", "cmd must",
	"health_check_http", "health_check of type http",
	"health_check_script", "health_check of type script",
	"a scheduled component", "a scheduled job",
	"the component", "the job",
)

// runProblems checks c's run fields with the domain's rules, which a tool
// config's components are held to too (quantities, ranges, the schedule,
// health check and publish rules), so that a job and a component accept
// the same values; the messages use the jobs API's field names.
func runProblems(c slipway.Component) []string {
	problems := c.Run.Validate(c.Type)
	out := make([]string, len(problems))
	for i, p := range problems {
		out[i] = jobWords.Replace(p.Message)
	}
	return out
}

// typeList names job types for a message: "scheduled or one-off jobs".
func typeList(ts []slipway.ComponentType) string {
	s := make([]string, len(ts))
	for i, t := range ts {
		s[i] = string(t)
	}
	return strings.Join(s, " or ") + " jobs"
}

// randomHex returns 8 random hex digits.
func randomHex() string {
	b := make([]byte, 4)
	_, _ = rand.Read(b) // crypto/rand.Read never fails
	return hex.EncodeToString(b)
}

// pluralize returns s, or s with an "s" unless n is 1.
func pluralize(n int, s string) string {
	if n == 1 {
		return s
	}
	return s + "s"
}
