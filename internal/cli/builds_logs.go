package cli

import (
	"encoding/json"
	"fmt"

	"github.com/spf13/cobra"
)

func newBuildsLogsCmd(e *env) *cobra.Command {
	var (
		follow bool
		lines  int
	)
	cmd := &cobra.Command{
		Use:   "logs [ID]",
		Short: "Print a build's log (default: the newest build's)",
		Long: `Print a build's log; without ID, the newest build's. With -l N, only its
last N lines. With -f, go on printing what a running build logs until it
ends. With --json, each line is a JSON object {"line": "…"}, as
Toolforge's builds-api streams them.`,
		Args: args(cobra.MaximumNArgs(1)),
		RunE: func(cmd *cobra.Command, a []string) error {
			if lines < 0 {
				return &usageError{fmt.Errorf("invalid --last %d: want a number of lines, at least 0", lines)}
			}
			c, tool, err := e.target()
			if err != nil {
				return err
			}
			id := ""
			if len(a) == 1 {
				id = a[0]
			} else {
				// As Toolforge's CLI: the newest build.
				env, err := c.BuildGet(cmd.Context(), tool, "")
				if err != nil {
					return err
				}
				b, err := env.Build()
				if err != nil {
					return err
				}
				id = b.BuildId
			}
			return c.BuildLogs(cmd.Context(), tool, id, follow, lines, e.buildLogLine)
		},
	}
	cmd.Flags().BoolVarP(&follow, "follow", "f", false, "follow the log of a running build until it ends")
	cmd.Flags().IntVarP(&lines, "last", "l", 0, "start with the last N lines of the log (0: all)")
	return cmd
}

// buildLogLine prints a line of a build's log: as it is, or with --json as
// the JSON object {"line": …} the builds API sent.
func (e *env) buildLogLine(line string) error {
	if !e.flags.json {
		_, err := fmt.Fprintln(e.stdout, line)
		return err
	}
	enc := json.NewEncoder(e.stdout)
	enc.SetEscapeHTML(false)
	if err := enc.Encode(struct {
		Line string `json:"line"`
	}{line}); err != nil {
		return fmt.Errorf("print a log line: %w", err)
	}
	return nil
}
