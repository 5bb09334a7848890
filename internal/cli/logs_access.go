package cli

import (
	"encoding/json"
	"fmt"
	"strconv"
	"time"

	"github.com/spf13/cobra"

	"slipway.dev/slipway/internal/apiclient"
)

func newLogsCmd(e *env) *cobra.Command {
	cmd := &cobra.Command{
		Use:   "logs",
		Short: "Read a tool's logs kept by the server (access)",
	}
	cmd.AddCommand(newLogsAccessCmd(e))
	return cmd
}

func newLogsAccessCmd(e *env) *cobra.Command {
	var (
		follow bool
		lines  int
	)
	cmd := &cobra.Command{
		Use:   "access",
		Short: "Print the requests the proxy sent to the tool's published component (with --json, a JSON object a line)",
		Long: `Print the tool's access log: a line per request the server's proxy
answered for its published component, its environments included:

  TIME CLIENT "METHOD URI PROTO" STATUS BYTES DURATION INSTANCE "USER-AGENT"

Status 499 means the client left before the answer. The log is rotated by
size like the process logs and starts empty when the server starts. With
--json, each line as the API sends it (AccessLogLine).`,
		Args: args(cobra.NoArgs),
		RunE: func(cmd *cobra.Command, _ []string) error {
			if lines < 0 {
				return &usageError{fmt.Errorf("invalid --last %d: want a number of lines, at least 0", lines)}
			}
			c, tool, err := e.target()
			if err != nil {
				return err
			}
			enc := json.NewEncoder(e.stdout)
			enc.SetEscapeHTML(false)
			return c.AccessLogs(cmd.Context(), tool, follow, lines, func(l apiclient.AccessLogLine) error {
				if e.flags.json {
					return enc.Encode(l)
				}
				ua := ""
				if l.UserAgent != nil {
					ua = *l.UserAgent
				}
				took := time.Duration(float64(l.DurationMs) * float64(time.Millisecond)).Round(10 * time.Microsecond)
				_, err := fmt.Fprintf(e.stdout, "%s %s %s %d %d %s %s %s\n",
					l.Time.UTC().Format(time.RFC3339), l.Remote, strconv.Quote(l.Method+" "+l.Uri+" "+l.Proto),
					l.Status, l.Bytes, took, l.Instance, strconv.Quote(ua))
				return err
			})
		},
	}
	cmd.Flags().BoolVarP(&follow, "follow", "f", false, "keep printing the requests as they come (until interrupted)")
	cmd.Flags().IntVarP(&lines, "last", "l", 0, "start with the last N lines (0: all)")
	return cmd
}
