package cli

import (
	"bytes"
	"cmp"
	"encoding/json"
	"fmt"
	"io"
	"strconv"
	"text/tabwriter"
	"time"

	"github.com/spf13/cobra"

	"slipway.dev/slipway/internal/apiclient"
)

// newJobsCmd is `jobs`: Toolforge's `toolforge jobs` over what Slipway runs
// for a tool (one job per live component, and ad-hoc one-off jobs).
func newJobsCmd(e *env) *cobra.Command {
	cmd := &cobra.Command{
		Use:   "jobs",
		Short: "Inspect and manage what runs for a tool",
		Long: `Inspect and manage what runs for a tool, as Toolforge's "toolforge jobs":
one job per live component (continuous, scheduled or one-off), named after it,
and the ad-hoc one-off jobs started with "slipway jobs run".

What these commands change is not in the tool config, and the next
deployment puts the config back: a deleted or flushed job is started again,
and a job changed by "load" is reverted to its configured version.`,
	}
	cmd.AddCommand(newJobsListCmd(e), newJobsShowCmd(e), newJobsLogsCmd(e), newJobsRestartCmd(e),
		newJobsDeleteCmd(e), newJobsFlushCmd(e), newJobsDumpCmd(e), newJobsLoadCmd(e), newJobsRunCmd(e),
		newJobsQuotaCmd(e))
	return cmd
}

func newJobsListCmd(e *env) *cobra.Command {
	var output string
	cmd := &cobra.Command{
		Use:   "list",
		Short: "List the tool's jobs",
		Args:  args(cobra.NoArgs),
		RunE: func(cmd *cobra.Command, _ []string) error {
			if output != "" && output != "long" {
				return &usageError{fmt.Errorf("invalid --output %q: the only format is long", output)}
			}
			c, tool, err := e.target()
			if err != nil {
				return err
			}
			env, err := c.JobList(cmd.Context(), tool, true)
			if err != nil {
				return err
			}
			e.printMessages(messagesWarningsOnly(env.Messages), nil)
			if e.flags.json {
				return printJSON(e.stdout, jsonField(env.Raw, "jobs"))
			}
			jobs, err := env.Jobs()
			if err != nil {
				return err
			}
			if len(jobs) == 0 {
				fmt.Fprintf(e.stdout, "No jobs found for tool: %s\n", tool)
				return nil
			}
			return printJobTable(e.stdout, jobs, output == "long")
		},
	}
	cmd.Flags().StringVarP(&output, "output", "o", "", "output format: long (more columns)")
	return cmd
}

// printJobTable prints jobs as a table, with more columns when long.
func printJobTable(w io.Writer, jobs []apiclient.Job, long bool) error {
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	if long {
		fmt.Fprintln(tw, "Job name\tJob type\tImage\tCommand\tSchedule\tPort\tReplicas\tStatus")
	} else {
		fmt.Fprintln(tw, "Job name\tJob type\tStatus")
	}
	for _, j := range jobs {
		typ, status := jobTypeText(j), jobStatusText(j)
		if !long {
			fmt.Fprintf(tw, "%s\t%s\t%s\n", j.Name, typ, status)
			continue
		}
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\n", j.Name, typ, j.Imagename, shorten(j.Cmd, 40),
			cmp.Or(deref(j.Schedule), "-"), intOrDash(j.Port), intOrDash(j.Replicas), status)
	}
	return tw.Flush()
}

// jobTypeText is the job type, with the schedule of a scheduled job.
func jobTypeText(j apiclient.Job) string {
	typ := string(deref(j.JobType))
	if s := deref(j.Schedule); s != "" {
		typ += ": " + s
	}
	return typ
}

// jobStatusText is "Running" or "Running (drifted from the config)".
func jobStatusText(j apiclient.Job) string {
	s := cmp.Or(deref(j.StatusShort), "Unknown")
	if j.Status != nil && !j.Status.UpToDate {
		s += " (differs from the config)"
	}
	return s
}

func newJobsShowCmd(e *env) *cobra.Command {
	return &cobra.Command{
		Use:   "show NAME",
		Short: "Show one job",
		Args:  args(cobra.ExactArgs(1)),
		RunE: func(cmd *cobra.Command, a []string) error {
			c, tool, err := e.target()
			if err != nil {
				return err
			}
			env, err := c.JobGet(cmd.Context(), tool, a[0], true)
			if err != nil {
				return err
			}
			e.printMessages(messagesWarningsOnly(env.Messages), nil)
			if e.flags.json {
				return printJSON(e.stdout, jsonField(env.Raw, "job"))
			}
			j, err := env.Job()
			if err != nil {
				return err
			}
			printJob(e.stdout, j)
			return nil
		},
	}
}

// printJob prints a job as `jobs show` does: one "Field: value" line per
// field that is set.
func printJob(w io.Writer, j apiclient.Job) {
	tw := tabwriter.NewWriter(w, 0, 0, 1, ' ', 0)
	line := func(k, v string) {
		if v != "" {
			fmt.Fprintf(tw, "%s:\t%s\n", k, v)
		}
	}
	line("Job name", j.Name)
	line("Command", j.Cmd)
	line("Job type", string(deref(j.JobType)))
	line("Image", j.Imagename+" ("+deref(j.Build)+")")
	line("Schedule", deref(j.Schedule))
	line("Schedule (actual)", deref(j.ScheduleActual))
	line("Port", intText(j.Port))
	line("Port protocol", string(deref(j.PortProtocol)))
	line("Publish", deref(j.Publish))
	line("Replicas", intText(j.Replicas))
	if hc := j.HealthCheck; hc != nil {
		line("Health check", string(hc.Type)+": "+cmp.Or(deref(hc.Path), deref(hc.Script)))
	}
	line("Timeout", intText(j.Timeout))
	if deref(j.JobType) != "continuous" {
		// The API sends retry 0 with a continuous job too, for Toolforge's
		// CLI; such a job is never retried, it is restarted.
		line("Retry", intText(j.Retry))
	}
	line("Emails", string(deref(j.Emails)))
	line("Mount", string(deref(j.Mount)))
	if j.Filelog != nil {
		line("File log", strconv.FormatBool(*j.Filelog))
	}
	line("Output log", deref(j.FilelogStdout))
	line("Error log", deref(j.FilelogStderr))
	line("CPU", deref(j.Cpu))
	line("Memory", deref(j.Memory))
	line("Status", jobStatusText(j))
	line("Hints", deref(j.StatusLong))
	if s := j.Status; s != nil {
		line("Duration", deref(s.Duration))
		line("Previous run", timeText(s.PreviousSchedule))
		line("Next run", timeText(s.NextSchedule))
		// What runs now: after a new version failed, the old one's commit.
		line("Commit", deref(s.Commit))
		line("Running since", timeText(s.Since))
		if s.Healthy != nil {
			line("Healthy", map[bool]string{true: "yes", false: "no"}[*s.Healthy])
		}
		line("URL", deref(s.Url))
	}
	_ = tw.Flush() // w is the command's stdout; a failed write shows there
}

func newJobsLogsCmd(e *env) *cobra.Command {
	var (
		follow bool
		lines  int
	)
	cmd := &cobra.Command{
		Use:   "logs NAME",
		Short: "Print a job's logs (with --json, the server's {\"pod\", \"container\", \"datetime\", \"message\"} object a line)",
		Long: `Print a job's logs: each line as the job wrote it, prefixed with its
replica ("[web-1] ") for a continuous job. With --json, each line as the
jobs API sends it (Toolforge's shape): {"pod", "container", "datetime",
"message"}, datetime being when the server read the line.`,
		Args: args(cobra.ExactArgs(1)),
		RunE: func(cmd *cobra.Command, a []string) error {
			if lines < 0 {
				return &usageError{fmt.Errorf("invalid --last %d: want a number of lines, at least 0", lines)}
			}
			c, tool, err := e.target()
			if err != nil {
				return err
			}
			enc := json.NewEncoder(e.stdout)
			enc.SetEscapeHTML(false)
			return c.JobLogs(cmd.Context(), tool, a[0], follow, lines, func(l apiclient.JobLogLine) error {
				if e.flags.json {
					return enc.Encode(l)
				}
				// A scheduled or one-off job's lines name the job itself:
				// one log, nothing to tell apart.
				if l.Pod != l.Container {
					_, err := fmt.Fprintf(e.stdout, "[%s] %s\n", l.Pod, l.Message)
					return err
				}
				_, err := fmt.Fprintln(e.stdout, l.Message)
				return err
			})
		},
	}
	cmd.Flags().BoolVarP(&follow, "follow", "f", false, "keep printing what the job writes (until interrupted)")
	cmd.Flags().IntVarP(&lines, "last", "l", 0, "start with the last N lines of each log (0: all)")
	return cmd
}

func newJobsRestartCmd(e *env) *cobra.Command {
	return &cobra.Command{
		Use:   "restart NAME",
		Short: "Restart a job (a new process, the same spec and build)",
		Args:  args(cobra.ExactArgs(1)),
		RunE: func(cmd *cobra.Command, a []string) error {
			c, tool, err := e.target()
			if err != nil {
				return err
			}
			env, err := c.JobRestart(cmd.Context(), tool, a[0])
			return e.printJobAnswer(env, err)
		},
	}
}

func newJobsDeleteCmd(e *env) *cobra.Command {
	return &cobra.Command{
		Use:   "delete NAME",
		Short: "Stop a job and forget it until the next deployment",
		Args:  args(cobra.ExactArgs(1)),
		RunE: func(cmd *cobra.Command, a []string) error {
			c, tool, err := e.target()
			if err != nil {
				return err
			}
			env, err := c.JobDelete(cmd.Context(), tool, a[0])
			return e.printJobAnswer(env, err)
		},
	}
}

func newJobsFlushCmd(e *env) *cobra.Command {
	var sure bool
	cmd := &cobra.Command{
		Use:   "flush",
		Short: "Stop every job of the tool and forget them until the next deployment",
		Args:  args(cobra.NoArgs),
		RunE: func(cmd *cobra.Command, _ []string) error {
			c, tool, err := e.target()
			if err != nil {
				return err
			}
			if err := e.confirmOrAbort(sure, fmt.Sprintf("Are you sure you want to delete all jobs of %s? Their processes stop until the next deployment.", tool)); err != nil {
				return err
			}
			env, err := c.JobFlush(cmd.Context(), tool)
			return e.printJobAnswer(env, err)
		},
	}
	cmd.Flags().BoolVar(&sure, "yes-im-sure", false, "do not ask for confirmation")
	return cmd
}

// printJobAnswer prints the answer of a command that only says what it
// did: its info messages, or with --json the whole answer.
func (e *env) printJobAnswer(env apiclient.Envelope, err error) error {
	if err != nil {
		return err
	}
	if e.flags.json {
		e.printMessages(messagesWarningsOnly(env.Messages), nil)
		return printJSON(e.stdout, bytes.TrimSpace(env.Raw))
	}
	e.printMessages(env.Messages, nil)
	return nil
}

// jsonField returns the value of key in the JSON object raw, or null.
func jsonField(raw []byte, key string) []byte {
	var m map[string]json.RawMessage
	if err := json.Unmarshal(raw, &m); err != nil || m[key] == nil {
		return []byte("null")
	}
	return m[key]
}

// deref returns *p, or the zero value for nil.
func deref[T any](p *T) T {
	if p == nil {
		var zero T
		return zero
	}
	return *p
}

// intText is the number, or "" for nil.
func intText(p *int) string {
	if p == nil {
		return ""
	}
	return strconv.Itoa(*p)
}

// intOrDash is the number, or "-" for nil.
func intOrDash(p *int) string {
	return cmp.Or(intText(p), "-")
}

// timeText formats a time of a job's status, or "" for nil.
func timeText(t *time.Time) string {
	if t == nil {
		return ""
	}
	return t.UTC().Format("2006-01-02 15:04:05 MST")
}

func newJobsQuotaCmd(e *env) *cobra.Command {
	return &cobra.Command{
		Use:   "quota",
		Short: "Show the tool's quotas and what it uses of them",
		Long: `Show the tool's quotas (server settings) and what it uses of them now:
running jobs (replicas of continuous jobs, one-off runs, their memory and
cpu), the limits of one job, and the jobs of each type. With --json, prints
the categories as the jobs API sends them.`,
		Args: args(cobra.NoArgs),
		RunE: func(cmd *cobra.Command, _ []string) error {
			c, tool, err := e.target()
			if err != nil {
				return err
			}
			env, err := c.JobQuota(cmd.Context(), tool)
			if err != nil {
				return err
			}
			return e.printQuota(env)
		},
	}
}

// printQuota prints a quota answer (jobs' or builds'): the categories as
// sent with --json, else a table of each category's items.
func (e *env) printQuota(env apiclient.Envelope) error {
	if e.flags.json {
		return printJSON(e.stdout, jsonField(env.Raw, "quota"))
	}
	cats, err := env.Quota()
	if err != nil {
		return err
	}
	tw := tabwriter.NewWriter(e.stdout, 0, 0, 2, ' ', 0)
	for i, c := range cats {
		if i > 0 {
			fmt.Fprintln(tw)
		}
		fmt.Fprintf(tw, "%s\tUsed\tLimit\n", c.Name)
		for _, it := range c.Items {
			fmt.Fprintf(tw, "  %s\t%s\t%s\n", it.Name, cmp.Or(deref(it.Used), "-"), it.Limit)
		}
	}
	return tw.Flush()
}
