package cli

import (
	"fmt"

	"github.com/spf13/cobra"

	"slipway.dev/slipway/internal/apiclient"
)

func newBuildsStartCmd(e *env) *cobra.Command {
	var (
		ref, image   string
		latest, stay bool
	)
	cmd := &cobra.Command{
		Use:   "start URL",
		Short: "Build a repository's ref outside a deployment, and follow its log",
		Long: `Build the git repository at URL (its HEAD, or --ref) outside any
deployment, as Toolforge's ` + "`toolforge build start`" + ` does, then follow the
build's log until it ends; the exit status says whether it succeeded.
With --detach (or --json), print the new build and return at once.

The build is an ordinary build of the tool: listed, shown, followed,
cancelled and deleted like a deployment's builds. Its ID names this
attempt; its build key (the content) is what a deployment of the same
commit with the same settings reuses. A build of that key under way, or
already built, is answered instead of a new one.`,
		Args: args(cobra.ExactArgs(1)),
		RunE: func(cmd *cobra.Command, a []string) error {
			c, tool, err := e.target()
			if err != nil {
				return err
			}
			// Only the fields given, as Toolforge's CLI sends them.
			req := apiclient.BuildStartRequest{SourceUrl: a[0]}
			if ref != "" {
				req.Ref = &ref
			}
			if image != "" {
				req.ImageName = &image
			}
			if latest {
				req.UseLatestVersions = &latest
			}
			env, err := c.BuildStart(cmd.Context(), tool, req)
			if err != nil {
				return err
			}
			if e.flags.json {
				e.printMessages(messagesWarningsOnly(env.Messages), nil)
				return printEnvelope(e.stdout, env, true)
			}
			nb, err := env.NewBuild()
			if err != nil {
				return err
			}
			e.printMessages(env.Messages, nil)
			if stay {
				fmt.Fprintf(e.stdout, "Build ID: %s\n", nb.Name)
				fmt.Fprintf(e.stdout, "Follow it with: slipway builds logs -f %s\n", nb.Name)
				return nil
			}
			if err := c.BuildLogs(cmd.Context(), tool, nb.Name, true, 0, e.buildLogLine); err != nil {
				return err
			}
			return e.buildOutcome(cmd, c, tool, nb.Name)
		},
	}
	cmd.Flags().StringVar(&ref, "ref", "", "branch, tag or commit to build (default: the repository's HEAD)")
	cmd.Flags().StringVarP(&image, "image-name", "i", "", "what the build is for, as its image_name (default: tool-<tool>)")
	cmd.Flags().BoolVarP(&latest, "use-latest-versions", "L", false, "build with the latest builder versions (part of the build key)")
	cmd.Flags().BoolVarP(&stay, "detach", "D", false, "do not follow the build's log")
	return cmd
}

// buildOutcome prints how a followed build ended, and returns an error
// unless it succeeded: a script's exit status says so.
func (e *env) buildOutcome(cmd *cobra.Command, c *apiclient.Client, tool, id string) error {
	env, err := c.BuildGet(cmd.Context(), tool, id)
	if err != nil {
		return err
	}
	b, err := env.Build()
	if err != nil {
		return err
	}
	fmt.Fprintf(e.stdout, "Build %s: %s\n", b.BuildId, b.Status)
	if b.Status != "BUILD_SUCCESS" {
		return fmt.Errorf("build %s ended %s: %s", b.BuildId, b.Status, b.Message)
	}
	return nil
}
