package cli

import (
	"fmt"
	"io"
	"strconv"
	"text/tabwriter"

	"github.com/spf13/cobra"

	"slipway.dev/slipway/internal/apiclient"

	"slipway.dev/slipway/internal/slipway"
)

// newReleasesCmd is `slipway releases`: a tool's release history.
func newReleasesCmd(e *env) *cobra.Command {
	cmd := &cobra.Command{
		Use:   "releases",
		Short: "What was live when: the tool's releases, kept when deployments are pruned",
		Args:  args(cobra.NoArgs),
	}
	cmd.AddCommand(newReleasesListCmd(e), newReleasesIsLiveCmd(e), newReleasesWhenCmd(e), newReleasesNotesCmd(e),
		newReleasesCutCmd(e), newReleasesFreezeCmd(e), newReleasesUpdateCmd(e), newReleasesCutsCmd(e), newReleasesShowCmd(e),
		newReleasesChangeRequestCmd(e))
	return cmd
}

func newReleasesListCmd(e *env) *cobra.Command {
	var q slipway.ReleaseQuery
	cmd := &cobra.Command{
		Use:   "list",
		Short: "List the component versions the tool's deployments made live, newest first",
		Long: "List the component versions the tool's deployments made live (or removed), newest first. Every one is\n" +
			"recorded when it goes live and kept when its deployment record is pruned.",
		Args: args(cobra.NoArgs),
		RunE: func(cmd *cobra.Command, _ []string) error {
			c, tool, err := e.target()
			if err != nil {
				return err
			}
			env, err := c.ReleaseList(cmd.Context(), tool, q)
			if err != nil {
				return err
			}
			if e.flags.json {
				return printEnvelope(e.stdout, env, true)
			}
			rs, err := env.Releases()
			if err != nil {
				return err
			}
			if len(rs) == 0 {
				fmt.Fprintf(e.stdout, "No releases found for tool: %s\n", tool)
				return nil
			}
			tw := tabwriter.NewWriter(e.stdout, 0, 0, 2, ' ', 0)
			fmt.Fprintln(tw, "#\tApplied\tEnvironment\tComponent\tOutcome\tCommit\tDeployment\tBy")
			for _, r := range rs {
				// e.stdout escapes what the server sent (escape.go).
				fmt.Fprintf(tw, "%d\t%s\t%s\t%s\t%s\t%s\t%s\t%s\n", r.Seq, created(r.AppliedAt), r.Environment, r.Component,
					r.Outcome, shortCommit(r.Commit, 12), releaseBy(r.DeployId), r.Actor)
			}
			return tw.Flush()
		},
	}
	f := cmd.Flags()
	f.StringVar(&q.Component, "component", "", "only this component's releases")
	f.StringVar(&q.Commit, "commit", "", "only the releases of this commit (its full SHA)")
	f.StringVar(&q.Environment, "env", "", "only this environment's releases")
	f.StringVar(&q.DeploymentID, "deployment", "", "only the releases this deployment made")
	f.IntVar(&q.Limit, "limit", 0, "at most this many (default 100, at most 1000)")
	return cmd
}

func newReleasesIsLiveCmd(e *env) *cobra.Command {
	var environment string
	cmd := &cobra.Command{
		Use:   "is-live COMMIT",
		Short: "Whether a commit is in what each component runs now, and since when",
		Long: "For each live component: whether COMMIT (its full SHA) is what it runs (exact), an ancestor of it\n" +
			"(included: merged into what runs), a cherry-pick of it (cherry-picked: a commit with the same\n" +
			"`git patch-id --stable` in the first-parent history of what runs since it forked from COMMIT, at most\n" +
			"the newest 10,000 commits), or not (absent), from the repository's own history, and since which release\n" +
			"it has been live without a break. A cherry-pick whose conflict resolution changed the patch is another\n" +
			"patch; a cherry-pick reverted since is absent, and both commits are named.\n" +
			"Exit status 0 when every component that builds from source has it, 3 when one does not.",
		Args: args(cobra.ExactArgs(1)),
		RunE: func(cmd *cobra.Command, argv []string) error {
			c, tool, err := e.target()
			if err != nil {
				return err
			}
			env, err := c.ReleaseIsLiveIn(cmd.Context(), tool, environment, argv[0])
			if err != nil {
				return err
			}
			lcs, err := env.LiveCommits()
			if err != nil {
				return err
			}
			absent := false
			for _, lc := range lcs {
				absent = absent || lc.State == "absent"
			}
			if e.flags.json {
				if err := printEnvelope(e.stdout, env, true); err != nil {
					return err
				}
			} else {
				if len(lcs) == 0 {
					fmt.Fprintf(e.stdout, "Nothing of tool %s is live.\n", tool)
					return &exitError{3}
				}
				tw := tabwriter.NewWriter(e.stdout, 0, 0, 2, ' ', 0)
				fmt.Fprintln(tw, "Environment\tComponent\tState\tLive commit\tSince\tDeployment\tCherry-pick")
				for _, lc := range lcs {
					since, dep := "", ""
					if lc.Since != nil {
						since = created(*lc.Since)
					}
					if lc.DeployId != nil {
						dep = releaseBy(*lc.DeployId)
					}
					fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\t%s\t%s\n", lc.Environment, lc.Component, lc.State, shortCommit(lc.LiveCommit, 12), since, dep,
						pickNote(lc.CherryPick))
				}
				if err := tw.Flush(); err != nil {
					return err
				}
			}
			if absent || len(lcs) == 0 {
				return &exitError{3}
			}
			return nil
		},
	}
	cmd.Flags().StringVar(&environment, "env", "", "only this environment's components (default every environment's)")
	return cmd
}

func newReleasesWhenCmd(e *env) *cobra.Command {
	return &cobra.Command{
		Use:   "when COMMIT",
		Short: "When a commit reached each component: the first release that included it, and who started it",
		Long: "For each component with releases: the first release whose code included COMMIT (its full SHA), itself\n" +
			"(exact), code that merged it (merged) or a cherry-pick of it (cherry-picked, found as is-live finds\n" +
			"one), with the deployment, the time and who started it.\n" +
			"Exit status 0 when every component got it, 3 when one never did.",
		Args: args(cobra.ExactArgs(1)),
		RunE: func(cmd *cobra.Command, argv []string) error {
			c, tool, err := e.target()
			if err != nil {
				return err
			}
			env, err := c.ReleaseWhen(cmd.Context(), tool, argv[0])
			if err != nil {
				return err
			}
			frs, err := env.FirstReleases()
			if err != nil {
				return err
			}
			never := len(frs) == 0
			for _, fr := range frs {
				never = never || fr.Release == nil
			}
			if e.flags.json {
				if err := printEnvelope(e.stdout, env, true); err != nil {
					return err
				}
			} else {
				tw := tabwriter.NewWriter(e.stdout, 0, 0, 2, ' ', 0)
				fmt.Fprintln(tw, "Environment\tComponent\tFirst included\tHow\tDeployment\tBy")
				for _, fr := range frs {
					if fr.Release == nil {
						fmt.Fprintf(tw, "%s\t%s\tnever\t\t\t\n", fr.Environment, fr.Component)
						continue
					}
					how := "merged"
					switch {
					case fr.Exact:
						how = "exact"
					case fr.How != nil && *fr.How == "cherry-picked" && fr.CherryPick != nil:
						how = "cherry-picked as " + shortCommit(*fr.CherryPick, 12)
					}
					r := fr.Release
					fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\t%s\n", fr.Environment, fr.Component, created(r.AppliedAt), how, releaseBy(r.DeployId), r.Actor)
				}
				if err := tw.Flush(); err != nil {
					return err
				}
			}
			if never {
				return &exitError{3}
			}
			return nil
		},
	}
}

func newReleasesNotesCmd(e *env) *cobra.Command {
	var q slipway.NotesQuery
	cmd := &cobra.Command{
		Use:   "notes [FROM] [TO]",
		Short: "What changed between two releases, per component, as Markdown",
		Long: "The changes between two releases, per component, as Markdown: the first-parent commits of each\n" +
			"component's repository (on a merge workflow, the merges), grouped by a Changelog: trailer, else the\n" +
			"subject's Conventional Commits type (feat, fix, perf, …; type!: or a BREAKING CHANGE: footer is\n" +
			"breaking), with links to the forge for GitHub, GitLab, Gitea/Forgejo and Wikimedia's Gerrit.\n" +
			"FROM and TO are release numbers (the # of `releases list`): each component's newest release at or\n" +
			"before them is compared. Without TO, each component's current release; without FROM, each\n" +
			"component's release before it. A rollback, or a branch rewritten by a force push, is said so, with\n" +
			"the commits the newer release no longer has.\n" +
			"With two names of named releases (`releases cuts`), the commits between them, cherry-picks named.",
		Args: args(cobra.MaximumNArgs(2)),
		RunE: func(cmd *cobra.Command, argv []string) error {
			if len(argv) == 2 && (!isNumber(argv[0]) || !isNumber(argv[1])) {
				return e.cutNotes(cmd, argv[0], argv[1])
			}
			for i, dst := range []*int64{&q.From, &q.To} {
				if i >= len(argv) {
					break
				}
				n, err := strconv.ParseInt(argv[i], 10, 64)
				if err != nil || n <= 0 {
					return &usageError{fmt.Errorf("%s: %q is not a release number (the # of `slipway releases list`)", []string{"FROM", "TO"}[i], argv[i])}
				}
				*dst = n
			}
			c, tool, err := e.target()
			if err != nil {
				return err
			}
			if e.flags.json {
				env, err := c.ReleaseNotes(cmd.Context(), tool, q)
				if err != nil {
					return err
				}
				return printEnvelope(e.stdout, env, true)
			}
			md, err := c.ReleaseNotesMarkdown(cmd.Context(), tool, q)
			if err != nil {
				return err
			}
			_, err = io.WriteString(e.stdout, md)
			return err
		},
	}
	f := cmd.Flags()
	f.StringVar(&q.Environment, "env", "", "the environment (default: the releases', else production)")
	f.StringVar(&q.Component, "component", "", "only this component")
	return cmd
}

// isNumber reports whether s is a release number (not a named release's
// name, which is never all digits).
func isNumber(s string) bool {
	_, err := strconv.ParseInt(s, 10, 64)
	return err == nil
}

// pickNote describes an is-live answer's cherry-pick search: the pick
// found, its revert, or a search cut short.
func pickNote(p *apiclient.CherryPick) string {
	if p == nil {
		return ""
	}
	var note string
	switch {
	case p.Commit != nil && p.RevertedBy != nil:
		note = "as " + shortCommit(*p.Commit, 12) + ", reverted by " + shortCommit(*p.RevertedBy, 12)
	case p.Commit != nil:
		note = "as " + shortCommit(*p.Commit, 12)
	}
	if p.Partial && p.Commit == nil {
		note = "none in the newest 10,000 commits since the fork (searched no further)"
	}
	return note
}

// releaseBy is what made a release, for the tables: its deployment, or
// "jobs API" for a change made through the jobs API (no deployment).
func releaseBy(deployID string) string {
	if deployID == "" {
		return "jobs API"
	}
	return deployID
}
