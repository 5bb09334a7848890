package cli

import (
	"context"
	"errors"
	"fmt"
	"io"
	"strconv"
	"text/tabwriter"
	"time"

	"github.com/spf13/cobra"

	"slipway.dev/slipway/internal/apiclient"
)

// Named releases (cuts) of a tool, under `slipway releases`: `releases
// list` lists what deployments made live, `releases cuts` the releases
// people named.

// printDone prints an envelope's info messages as done steps with the
// time taken, or the envelope with --json.
func (e *env) printDone(env apiclient.Envelope, start time.Time) error {
	if e.flags.json {
		return printEnvelope(e.stdout, env, true)
	}
	for _, m := range env.Messages.Info {
		fmt.Fprintf(e.stdout, "✅ %s (%s)\n", m, time.Since(start).Round(100*time.Millisecond))
	}
	for _, m := range env.Messages.Warning {
		fmt.Fprintf(e.stderr, "Warning: %s\n", m)
	}
	return nil
}

func newReleasesCutCmd(e *env) *cobra.Command {
	var (
		r      apiclient.CutCreateRequest
		at     string
		frozen bool
		comp   string
	)
	cmd := &cobra.Command{
		Use:   "cut NAME --from BRANCH",
		Short: "Cut a named release (2026.12.1) from a branch, mutable or --frozen",
		Long: "Cut a named release of the tool from BRANCH of its components' repository, at --at (a commit on\n" +
			"the branch; default its tip). Mutable by default: it follows the branch. --frozen creates the branch\n" +
			"release/NAME in the repository (the server needs push rights) and from then on only an approved\n" +
			"change request changes it; a component building from ref release/NAME deploys it.",
		Args: args(cobra.ExactArgs(1)),
		RunE: func(cmd *cobra.Command, argv []string) error {
			c, tool, err := e.target()
			if err != nil {
				return err
			}
			r.Name = argv[0]
			if at != "" {
				r.At = new(at)
			}
			if frozen {
				r.Frozen = new(true)
			}
			if comp != "" {
				r.Component = new(comp)
			}
			start := time.Now()
			env, err := c.CutCreate(cmd.Context(), tool, r)
			if err != nil {
				return err
			}
			return e.printDone(env, start)
		},
	}
	f := cmd.Flags()
	f.StringVar(&r.Branch, "from", "", "the branch to cut from (required)")
	f.StringVar(&at, "at", "", "a commit on the branch (default: its tip)")
	f.BoolVar(&frozen, "frozen", false, "freeze it: create release/NAME; changes only by approved change requests")
	f.StringVar(&comp, "component", "", "the component whose repository is cut (when they build from several)")
	_ = cmd.MarkFlagRequired("from")
	return cmd
}

func newReleasesFreezeCmd(e *env) *cobra.Command {
	return cutMoveCmd(e, "freeze NAME",
		"Freeze a mutable named release: create release/NAME, then only change requests change it",
		"at", (*apiclient.Client).CutFreeze)
}

func newReleasesUpdateCmd(e *env) *cobra.Command {
	return cutMoveCmd(e, "update NAME",
		"Move a mutable named release to its branch's tip (or --to); a frozen one refuses",
		"to", (*apiclient.Client).CutUpdate)
}

// cutMoveCmd is a command that sets a named release at a commit of its
// branch (the flag flag; default its tip) through call, and prints it.
func cutMoveCmd(e *env, use, short, flag string,
	call func(*apiclient.Client, context.Context, string, string, string) (apiclient.Envelope, error),
) *cobra.Command {
	var commit string
	cmd := &cobra.Command{
		Use:   use,
		Short: short,
		Args:  args(cobra.ExactArgs(1)),
		RunE: func(cmd *cobra.Command, argv []string) error {
			c, tool, err := e.target()
			if err != nil {
				return err
			}
			start := time.Now()
			env, err := call(c, cmd.Context(), tool, argv[0], commit)
			if err != nil {
				return err
			}
			return e.printDone(env, start)
		},
	}
	cmd.Flags().StringVar(&commit, flag, "", "a commit on the branch (default: its tip)")
	return cmd
}

func newReleasesCutsCmd(e *env) *cobra.Command {
	return &cobra.Command{
		Use:   "cuts",
		Short: "List the tool's named releases, newest first",
		Args:  args(cobra.NoArgs),
		RunE: func(cmd *cobra.Command, _ []string) error {
			c, tool, err := e.target()
			if err != nil {
				return err
			}
			env, err := c.CutList(cmd.Context(), tool)
			if err != nil {
				return err
			}
			if e.flags.json {
				return printEnvelope(e.stdout, env, true)
			}
			cs, err := env.Cuts()
			if err != nil {
				return err
			}
			if len(cs) == 0 {
				fmt.Fprintf(e.stdout, "No named releases for tool: %s\n", tool)
				return nil
			}
			tw := tabwriter.NewWriter(e.stdout, 0, 0, 2, ' ', 0)
			fmt.Fprintln(tw, "Name\tState\tBranch\tHead\tPicks\tRef\tCreated\tBy")
			for _, x := range cs {
				fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%d\t%s\t%s\t%s\n", x.Name, x.State, x.Branch, shortCommit(x.Head, 12), x.Picks, x.Ref, created(x.Created), x.CreatedBy)
			}
			return tw.Flush()
		},
	}
}

func newReleasesShowCmd(e *env) *cobra.Command {
	return &cobra.Command{
		Use:   "show NAME",
		Short: "Show a named release and its change requests",
		Args:  args(cobra.ExactArgs(1)),
		RunE: func(cmd *cobra.Command, argv []string) error {
			c, tool, err := e.target()
			if err != nil {
				return err
			}
			env, err := c.CutGet(cmd.Context(), tool, argv[0])
			if err != nil {
				return err
			}
			if e.flags.json {
				return printEnvelope(e.stdout, env, true)
			}
			x, err := env.Cut()
			if err != nil {
				return err
			}
			tw := tabwriter.NewWriter(e.stdout, 0, 0, 2, ' ', 0)
			fmt.Fprintf(tw, "Name:\t%s\nState:\t%s\nRepository:\t%s\nBranch:\t%s\nBase:\t%s\nHead:\t%s\nRef:\t%s\nPicks:\t%d\nCreated:\t%s by %s\n",
				x.Name, x.State, x.Repository, x.Branch, x.Base, x.Head, x.Ref, x.Picks, created(x.Created), x.CreatedBy)
			if x.Frozen != nil {
				fmt.Fprintf(tw, "Frozen:\t%s by %s\n", created(*x.Frozen), deref(x.FrozenBy))
			}
			if err := tw.Flush(); err != nil {
				return err
			}
			crEnv, err := c.ChangeRequestList(cmd.Context(), tool, argv[0])
			if err != nil {
				return err
			}
			crs, err := crEnv.ChangeRequests()
			if err != nil || len(crs) == 0 {
				return err
			}
			fmt.Fprintln(e.stdout, "\nChange requests:")
			return printChangeRequests(e.stdout, crs)
		},
	}
}

// printChangeRequests writes change requests as a table.
func printChangeRequests(w io.Writer, crs []apiclient.ChangeRequest) error {
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	fmt.Fprintln(tw, "#\tState\tCommit\tPick\tRequested by\tDecided by\tQuestion\tDetail")
	for _, cr := range crs {
		fmt.Fprintf(tw, "%d\t%s\t%s\t%s\t%s\t%s\t%s\t%s\n", cr.Seq, cr.State, shortCommit(cr.Commit, 12), shortCommit(cr.Pick, 12),
			cr.RequestedBy, cr.DecidedBy, cr.QuestionId, firstLineOf(cr.Detail))
	}
	return tw.Flush()
}

// firstLineOf returns s up to its first newline.
func firstLineOf(s string) string {
	for i, r := range s {
		if r == '\n' {
			return s[:i] + " …"
		}
	}
	return s
}

func newReleasesChangeRequestCmd(e *env) *cobra.Command {
	cmd := &cobra.Command{
		Use:     "change-request",
		Aliases: []string{"cr"},
		Short:   "Ask to cherry-pick a commit into a frozen named release; list and apply the requests",
		Long: "A change request asks to cherry-pick one commit into a frozen named release. It opens a question\n" +
			"(answer it with `slipway questions answer ID approve|refuse`; the requester may not); an approval\n" +
			"is applied at once: the server cherry-picks the commit onto release/NAME and pushes it.",
		Args: args(cobra.NoArgs),
	}
	var commit, reason string
	create := &cobra.Command{
		Use:   "create NAME --commit SHA",
		Short: "Ask to cherry-pick --commit into the frozen release NAME",
		Args:  args(cobra.ExactArgs(1)),
		RunE: func(cmd *cobra.Command, argv []string) error {
			c, tool, err := e.target()
			if err != nil {
				return err
			}
			start := time.Now()
			env, err := c.ChangeRequestCreate(cmd.Context(), tool, argv[0], commit, reason)
			if err != nil {
				return err
			}
			return e.printDone(env, start)
		},
	}
	create.Flags().StringVar(&commit, "commit", "", "the commit to cherry-pick (required)")
	create.Flags().StringVar(&reason, "reason", "", "why (shown to who answers)")
	_ = create.MarkFlagRequired("commit")
	list := &cobra.Command{
		Use:   "list NAME",
		Short: "List a named release's change requests, newest first",
		Args:  args(cobra.ExactArgs(1)),
		RunE: func(cmd *cobra.Command, argv []string) error {
			c, tool, err := e.target()
			if err != nil {
				return err
			}
			env, err := c.ChangeRequestList(cmd.Context(), tool, argv[0])
			if err != nil {
				return err
			}
			if e.flags.json {
				return printEnvelope(e.stdout, env, true)
			}
			crs, err := env.ChangeRequests()
			if err != nil {
				return err
			}
			if len(crs) == 0 {
				fmt.Fprintf(e.stdout, "No change requests for release %s\n", argv[0])
				return nil
			}
			return printChangeRequests(e.stdout, crs)
		},
	}
	apply := &cobra.Command{
		Use:   "apply NAME SEQ",
		Short: "Apply an approved change request again (after a failed push)",
		Args:  args(cobra.ExactArgs(2)),
		RunE: func(cmd *cobra.Command, argv []string) error {
			seq, err := strconv.ParseInt(argv[1], 10, 64)
			if err != nil || seq <= 0 {
				return &usageError{fmt.Errorf("SEQ: %q is not a change request number", argv[1])}
			}
			c, tool, err := e.target()
			if err != nil {
				return err
			}
			env, err := c.ChangeRequestApply(cmd.Context(), tool, argv[0], seq)
			if err != nil {
				return err
			}
			if e.flags.json {
				return printEnvelope(e.stdout, env, true)
			}
			cr, err := env.ChangeRequest()
			if err != nil {
				return err
			}
			if cr.State != "applied" {
				return errors.New("change request " + argv[1] + " is " + string(cr.State) + ": " + cr.Detail)
			}
			fmt.Fprintf(e.stdout, "✅ Change request %d applied: %s picked as %s\n", cr.Seq, shortCommit(cr.Commit, 12), shortCommit(cr.Pick, 12))
			return nil
		},
	}
	cmd.AddCommand(create, list, apply)
	return cmd
}

// cutNotes prints the notes between two named releases.
func (e *env) cutNotes(cmd *cobra.Command, from, to string) error {
	c, tool, err := e.target()
	if err != nil {
		return err
	}
	if e.flags.json {
		env, err := c.CutNotes(cmd.Context(), tool, from, to)
		if err != nil {
			return err
		}
		return printEnvelope(e.stdout, env, true)
	}
	md, err := c.CutNotesMarkdown(cmd.Context(), tool, from, to)
	if err != nil {
		return err
	}
	_, err = io.WriteString(e.stdout, md)
	return err
}
