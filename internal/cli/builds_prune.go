package cli

import (
	"fmt"
	"text/tabwriter"

	"github.com/spf13/cobra"

	"slipway.dev/slipway/internal/slipway"
)

func newBuildsPruneCmd(e *env) *cobra.Command {
	var (
		sure, dryRun bool
		olderThan    string
	)
	cmd := &cobra.Command{
		Use:   "prune",
		Short: "Remove the artifacts nothing needs, and list them",
		Long: `Remove the tool's successful builds (artifact, record and log) that no live
component runs, no unfinished deployment needs and no release the server
keeps references (every release, when it keeps them forever; else those in
its --release-retention window and what each component ran when the window
began), once they ended --older-than ago, and list each with its size.
The server does the same every hour with its --artifact-retention. With
--dry-run, only list what would be removed.`,
		Args: args(cobra.NoArgs),
		RunE: func(cmd *cobra.Command, _ []string) error {
			c, tool, err := e.target()
			if err != nil {
				return err
			}
			if olderThan != "" {
				if _, err := slipway.ParseRetention(olderThan); err != nil {
					return &usageError{fmt.Errorf("--older-than: %w", err)}
				}
			}
			if !dryRun {
				if err := e.confirmOrAbort(sure, fmt.Sprintf("Remove the artifacts of tool %s that nothing needs (see --dry-run)? This cannot be undone.", tool)); err != nil {
					return err
				}
			}
			env, err := c.BuildPrune(cmd.Context(), tool, dryRun, olderThan)
			if err != nil {
				return err
			}
			if e.flags.json {
				e.printMessages(messagesWarningsOnly(env.Messages), nil)
				return printJSON(e.stdout, jsonField(env.Raw, "prune"))
			}
			p, err := env.BuildPrune()
			if err != nil {
				return err
			}
			e.printMessages(env.Messages, nil)
			if len(p.Removed) == 0 {
				return nil
			}
			tw := tabwriter.NewWriter(e.stdout, 0, 0, 2, ' ', 0)
			fmt.Fprintln(tw, "Build ID\tComponent\tCommit\tSize\tEnded")
			for _, b := range p.Removed {
				// e.stdout escapes what the server sent (escape.go).
				fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\n", b.BuildId, b.Component, shortCommit(b.Commit, 12),
					slipway.FormatSize(b.SizeBytes), created(b.EndTime))
			}
			return tw.Flush()
		},
	}
	f := cmd.Flags()
	f.BoolVar(&dryRun, "dry-run", false, "only list what would be removed")
	f.StringVar(&olderThan, "older-than", "", "spare builds that ended less than this long ago: 0 (any age), days such as 7d, or a duration such as 48h (default the server's --artifact-retention, or 7d)")
	f.BoolVar(&sure, "yes-im-sure", false, "do not ask for confirmation")
	return cmd
}
