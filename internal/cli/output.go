package cli

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"slices"
	"strings"
	"time"

	"gopkg.in/yaml.v3"

	"slipway.dev/slipway/internal/apiclient"
	"slipway.dev/slipway/internal/slipway"
)

// printJSON prints raw JSON indented, keeping key order.
func printJSON(w io.Writer, raw []byte) error {
	var buf bytes.Buffer
	if err := json.Indent(&buf, raw, "", "  "); err != nil {
		return fmt.Errorf("format JSON: %w", err)
	}
	buf.WriteByte('\n')
	_, err := w.Write(buf.Bytes())
	return err
}

// printEnvelope prints the full envelope (--json of the commands whose
// Toolforge counterpart prints it) or its data only.
func printEnvelope(w io.Writer, env apiclient.Envelope, full bool) error {
	if full {
		return printJSON(w, env.Raw)
	}
	if len(env.Data) == 0 {
		return printJSON(w, []byte("null"))
	}
	return printJSON(w, env.Data)
}

// printMessages prints the info messages to stdout and the warnings to
// stderr, except the warnings in skip (printed already).
func (e *env) printMessages(m apiclient.Messages, skip []string) {
	for _, s := range m.Info {
		fmt.Fprintln(e.stdout, s)
	}
	for _, s := range m.Warning {
		if !slices.Contains(skip, s) {
			fmt.Fprintf(e.stderr, "Warning: %s\n", s)
		}
	}
}

// yamlFromJSON renders JSON as block-style YAML, keeping key order.
func yamlFromJSON(raw []byte) (string, error) {
	var n yaml.Node
	if err := yaml.Unmarshal(raw, &n); err != nil {
		return "", fmt.Errorf("convert JSON to YAML: %w", err)
	}
	plain(&n)
	var buf bytes.Buffer
	enc := yaml.NewEncoder(&buf)
	enc.SetIndent(2)
	if err := enc.Encode(&n); err != nil {
		return "", fmt.Errorf("encode YAML: %w", err)
	}
	if err := enc.Close(); err != nil {
		return "", fmt.Errorf("encode YAML: %w", err)
	}
	return buf.String(), nil
}

// plain drops the JSON styles (quotes, flow) that the YAML decoder keeps;
// the encoder still quotes the strings that would otherwise read as another
// type.
func plain(n *yaml.Node) {
	n.Style = 0
	for _, c := range n.Content {
		plain(c)
	}
}

// indent prefixes every line of s with prefix.
func indent(s, prefix string) string {
	lines := strings.Split(strings.TrimRight(s, "\n"), "\n")
	for i, l := range lines {
		if l != "" {
			lines[i] = prefix + l
		}
	}
	return strings.Join(lines, "\n") + "\n"
}

// created formats a deployment's creation time.
func created(t time.Time) string {
	if t.IsZero() {
		return "unknown"
	}
	return t.UTC().Format("2006-01-02 15:04:05 MST")
}

// shorten cuts s to n runes, with an ellipsis.
func shorten(s string, n int) string {
	s = strings.Join(strings.Fields(s), " ")
	r := []rune(s)
	if len(r) <= n {
		return s
	}
	return string(r[:n-3]) + "..."
}

// buildLine is "comp(status): id:<id> <long>".
func buildLine(name string, b slipway.DeploymentBuild, maxLong int) string {
	long := b.BuildLongStatus
	if maxLong > 0 {
		long = shorten(long, maxLong)
	}
	return strings.TrimSpace(fmt.Sprintf("%s(%s): id:%s %s", name, b.BuildStatus, b.BuildID, long))
}

// runLine is "comp(status): <long>".
func runLine(name string, r slipway.DeploymentRun, maxLong int) string {
	long := r.RunLongStatus
	if maxLong > 0 {
		long = shorten(long, maxLong)
	}
	return strings.TrimSpace(fmt.Sprintf("%s(%s): %s", name, r.RunStatus, long))
}

// sortedKeys returns m's keys in order.
func sortedKeys[V any](m map[string]V) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	return keys
}

// printBuildsRuns prints the Builds: and Runs: sections.
func printBuildsRuns(w io.Writer, d slipway.Deployment) {
	fmt.Fprintln(w, "Builds:")
	for _, name := range sortedKeys(d.Builds) {
		fmt.Fprintf(w, "  %s\n", buildLine(name, d.Builds[name], 0))
	}
	fmt.Fprintln(w, "Runs:")
	for _, name := range sortedKeys(d.Runs) {
		fmt.Fprintf(w, "  %s\n", runLine(name, d.Runs[name], 0))
	}
}

// messagesWarningsOnly keeps only the warnings, for --json commands: the
// JSON on stdout has the rest.
func messagesWarningsOnly(m apiclient.Messages) apiclient.Messages {
	return apiclient.Messages{Warning: m.Warning}
}
