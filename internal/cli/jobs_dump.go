package cli

import (
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"slices"

	"github.com/spf13/cobra"
	"gopkg.in/yaml.v3"

	"slipway.dev/slipway/internal/apiclient"
	"slipway.dev/slipway/internal/slipway"
)

// jobFileKeys are the keys of a job in a jobs file, in the order `dump`
// writes them, with the API field each one is. The file format is
// Toolforge's: command and image (the API's cmd and imagename), and
// continuous: true for a continuous job (a schedule makes a job scheduled,
// anything else is one-off).
var jobFileKeys = []struct{ file, api string }{
	{"name", "name"},
	{"command", "cmd"},
	{"image", "imagename"},
	{"continuous", "continuous"},
	{"schedule", "schedule"},
	{"port", "port"},
	{"port_protocol", "port_protocol"},
	{"publish", "publish"},
	{"replicas", "replicas"},
	{"health_check", "health_check"},
	{"timeout", "timeout"},
	{"retry", "retry"},
	{"filelog", "filelog"},
	{"filelog_stdout", "filelog_stdout"},
	{"filelog_stderr", "filelog_stderr"},
	{"emails", "emails"},
	{"mount", "mount"},
	{"cpu", "cpu"},
	{"memory", "memory"},
}

func newJobsDumpCmd(e *env) *cobra.Command {
	var file string
	cmd := &cobra.Command{
		Use:   "dump",
		Short: "Print the definitions of the tool's jobs as a jobs file (YAML)",
		Long: `Print the definitions of the tool's jobs as a jobs file: a YAML list with
what was set for each job (no defaults, no status), in Toolforge's format
(command, image, continuous: true). "slipway jobs load" reads it back; loading
an unchanged dump changes nothing.`,
		Args: args(cobra.NoArgs),
		RunE: func(cmd *cobra.Command, _ []string) error {
			c, tool, err := e.target()
			if err != nil {
				return err
			}
			env, err := c.JobList(cmd.Context(), tool, false)
			if err != nil {
				return err
			}
			defs, err := jobDefinitions(env)
			if err != nil {
				return err
			}
			out, err := encodeJobFile(defs, e.flags.json)
			if err != nil {
				return err
			}
			if file == "" {
				_, err := e.stdout.Write(out)
				return err
			}
			if err := os.WriteFile(file, out, 0o644); err != nil {
				return fmt.Errorf("write jobs file: %w", err)
			}
			if !e.flags.json {
				fmt.Fprintf(e.stdout, "Wrote %d job %s to %s.\n", len(defs), pluralWord(len(defs), "definition"), file)
			}
			return nil
		},
	}
	cmd.Flags().StringVarP(&file, "to-file", "f", "", "write to this file instead of stdout")
	return cmd
}

// jobDefinitions turns the jobs of a list answer (sent without unset
// fields) into jobs-file entries: the definition only, in file keys.
func jobDefinitions(env apiclient.Envelope) ([]*yaml.Node, error) {
	var v struct {
		Jobs []map[string]any `json:"jobs"`
	}
	if err := json.Unmarshal(env.Raw, &v); err != nil {
		return nil, fmt.Errorf("decode jobs: %w", err)
	}
	defs := make([]*yaml.Node, 0, len(v.Jobs))
	for _, j := range v.Jobs {
		if j["job_type"] == "continuous" {
			j["continuous"] = true
		}
		entry := &yaml.Node{Kind: yaml.MappingNode}
		for _, k := range jobFileKeys {
			val, ok := j[k.api]
			if !ok {
				continue
			}
			var n yaml.Node
			if err := n.Encode(val); err != nil {
				return nil, fmt.Errorf("encode job %v: %w", j["name"], err)
			}
			entry.Content = append(entry.Content, &yaml.Node{Kind: yaml.ScalarNode, Value: k.file}, &n)
		}
		defs = append(defs, entry)
	}
	return defs, nil
}

// encodeJobFile returns the entries as a YAML list, or as JSON.
func encodeJobFile(defs []*yaml.Node, asJSON bool) ([]byte, error) {
	list := &yaml.Node{Kind: yaml.SequenceNode, Content: defs}
	b, err := yaml.Marshal(list)
	if err != nil {
		return nil, fmt.Errorf("encode jobs file: %w", err)
	}
	if !asJSON {
		return b, nil
	}
	var v []map[string]any
	if err := yaml.Unmarshal(b, &v); err != nil {
		return nil, fmt.Errorf("encode jobs file: %w", err)
	}
	raw, err := json.MarshalIndent(orEmpty(v), "", "  ")
	if err != nil {
		return nil, fmt.Errorf("encode jobs file: %w", err)
	}
	return append(raw, '\n'), nil
}

func newJobsLoadCmd(e *env) *cobra.Command {
	var only string
	cmd := &cobra.Command{
		Use:   "load FILE",
		Short: "Create or update the jobs defined in a jobs file",
		Long: `Create or update the jobs defined in a jobs file (YAML, as written by "slipway
jobs dump"; command/cmd and image/imagename are both accepted), one at a time,
printing what happened to each: already up to date, updated, or created.

A job changed this way differs from the tool config, and the next deployment
reverts it to the config; a job that is not in the config is removed by it.`,
		Args: args(cobra.ExactArgs(1)),
		RunE: func(cmd *cobra.Command, a []string) error {
			entries, err := readJobFile(a[0], only)
			if err != nil {
				return err
			}
			c, tool, err := e.target()
			if err != nil {
				return err
			}
			results := make([]loadResult, 0, len(entries))
			failed := false
			for _, entry := range entries {
				res, err := loadJob(cmd, c, tool, entry)
				if err != nil {
					return err
				}
				failed = failed || res.Error != ""
				results = append(results, res)
				if !e.flags.json {
					e.printLoadResult(res)
				}
			}
			if e.flags.json {
				raw, err := json.Marshal(results)
				if err != nil {
					return fmt.Errorf("encode results: %w", err)
				}
				if err := printJSON(e.stdout, raw); err != nil {
					return err
				}
			}
			if failed {
				return &exitError{1}
			}
			return nil
		},
	}
	cmd.Flags().StringVar(&only, "job", "", "load only the job with this name")
	return cmd
}

// loadResult is what happened to one job of a load; --json prints a list
// of them.
type loadResult struct {
	Name       string             `json:"name"`
	JobChanged bool               `json:"job_changed"`
	Messages   apiclient.Messages `json:"messages"`
	// Error is the reason the job could not be loaded, or "".
	Error string `json:"error,omitempty"`
}

// loadJob sends one entry of a jobs file. A refusal of the entry (4xx)
// is its result; any other error ends the load.
func loadJob(cmd *cobra.Command, c *apiclient.Client, tool string, entry map[string]any) (loadResult, error) {
	name, _ := entry["name"].(string)
	res := loadResult{Name: name, Messages: apiclient.Messages{Info: []string{}, Warning: []string{}, Error: []string{}}}
	def, err := json.Marshal(entry)
	if err != nil {
		return res, fmt.Errorf("job %s: %w", name, err)
	}
	env, err := c.JobUpsert(cmd.Context(), tool, def)
	if app, ok := errors.AsType[*slipway.Error](err); ok {
		res.Messages, res.Error = env.Messages, app.Message
		return res, nil
	} else if err != nil {
		return res, err
	}
	res.Messages = env.Messages
	res.JobChanged, err = env.JobChanged()
	return res, err
}

// printLoadResult prints what happened to one job of a load.
func (e *env) printLoadResult(res loadResult) {
	if res.Error != "" {
		fmt.Fprintf(e.stderr, "Error: job %s: %s\n", res.Name, res.Error)
		return
	}
	e.printMessages(res.Messages, nil)
}

// readJobFile reads the entries of a jobs file (only the one named only,
// when not empty), with the file's keys turned into the API's.
func readJobFile(path, only string) ([]map[string]any, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("read jobs file: %w", err)
	}
	var doc any
	if err := yaml.Unmarshal(b, &doc); err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	list, ok := doc.([]any)
	if !ok {
		return nil, fmt.Errorf("%s: want a YAML list of jobs, each with name, command and image (as written by slipway jobs dump)", path)
	}
	entries := make([]map[string]any, len(list))
	for i, item := range list {
		if entries[i], ok = item.(map[string]any); !ok {
			return nil, fmt.Errorf("%s: job %d is not a mapping of fields (name, command, image, …)", path, i+1)
		}
	}
	var out []map[string]any
	for i, entry := range entries {
		name, ok := entry["name"].(string)
		if !ok || name == "" {
			return nil, fmt.Errorf("%s: job %d has no name", path, i+1)
		}
		if only != "" && name != only {
			continue
		}
		for file, api := range map[string]string{"command": "cmd", "image": "imagename"} {
			if v, ok := entry[file]; ok {
				if _, both := entry[api]; both {
					return nil, fmt.Errorf("%s: job %s has both %s and %s", path, name, file, api)
				}
				entry[api] = v
				delete(entry, file)
			}
		}
		out = append(out, entry)
	}
	if only != "" && len(out) == 0 {
		names := make([]string, 0, len(entries))
		for _, entry := range entries {
			if n, ok := entry["name"].(string); ok {
				names = append(names, n)
			}
		}
		slices.Sort(names)
		return nil, fmt.Errorf("%s has no job %s (it has: %v)", path, only, names)
	}
	return out, nil
}

// orEmpty returns s, or an empty slice for nil (JSON [] rather than null).
func orEmpty[T any](s []T) []T {
	if s == nil {
		return []T{}
	}
	return s
}

// pluralWord returns s, or s with an "s" unless n is 1.
func pluralWord(n int, s string) string {
	if n == 1 {
		return s
	}
	return s + "s"
}
