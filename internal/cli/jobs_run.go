package cli

import (
	"fmt"
	"time"

	"github.com/spf13/cobra"

	"slipway.dev/slipway/internal/apiclient"
)

// runPollInterval is how often `jobs run --wait` asks for the job's
// status.
const runPollInterval = 250 * time.Millisecond

func newJobsRunCmd(e *env) *cobra.Command {
	var (
		command, image string
		timeout, wait  int
	)
	cmd := &cobra.Command{
		Use:   "run NAME --command CMD --image COMPONENT",
		Short: "Run a command once, with the build of a live component",
		Long: `Run a command once (an ad-hoc one-off job) in the build of a live component
of the tool, named by --image. The job is not a component: deployments
neither run nor remove it, and it is listed until deleted. With --wait the
command waits until the job has finished (at most that many seconds, 600
without a value) and fails when the job failed.`,
		Args: args(cobra.ExactArgs(1)),
		RunE: func(cmd *cobra.Command, a []string) error {
			if command == "" || image == "" {
				return &usageError{fmt.Errorf("jobs run needs --command and --image")}
			}
			if timeout < 0 || wait < 0 {
				return &usageError{fmt.Errorf("--timeout and --wait are numbers of seconds, at least 0")}
			}
			c, tool, err := e.target()
			if err != nil {
				return err
			}
			env, err := c.JobRun(cmd.Context(), tool, a[0], command, image, timeout)
			if err != nil {
				return err
			}
			if wait == 0 {
				if e.flags.json {
					return printJSON(e.stdout, jsonField(env.Raw, "job"))
				}
				e.printMessages(env.Messages, nil)
				return nil
			}
			if !e.flags.json {
				e.printMessages(env.Messages, nil)
			}
			return e.waitJob(cmd, c, tool, a[0], time.Duration(wait)*time.Second)
		},
	}
	f := cmd.Flags()
	f.StringVar(&command, "command", "", "the command line to run (required)")
	f.StringVar(&image, "image", "", "the live component whose build to run it with (required)")
	f.IntVar(&timeout, "timeout", 0, "stop the job after this many seconds (0: the server's bound)")
	f.IntVar(&wait, "wait", 0, "wait until the job has finished, at most this many seconds")
	f.Lookup("wait").NoOptDefVal = "600"
	return cmd
}

// waitJob polls a job until it has finished, at most limit, and prints
// its outcome (the job with --json); a failed job ends the command with
// exit status 1.
func (e *env) waitJob(cmd *cobra.Command, c *apiclient.Client, tool, name string, limit time.Duration) error {
	deadline := time.Now().Add(limit)
	for {
		env, err := c.JobGet(cmd.Context(), tool, name, true)
		if err != nil {
			return err
		}
		j, err := env.Job()
		if err != nil {
			return err
		}
		short := ""
		if j.Status != nil {
			short = string(j.Status.Short)
		}
		if short == "succeeded" || short == "failed" {
			if e.flags.json {
				if err := printJSON(e.stdout, jsonField(env.Raw, "job")); err != nil {
					return err
				}
			} else {
				fmt.Fprintf(e.stdout, "Job %s %s: %s\n", name, short, deref(j.StatusLong))
			}
			if short == "failed" {
				return &exitError{1}
			}
			return nil
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("job %s has not finished after %s (it is %s); see slipway jobs show %s", name, limit, short, name)
		}
		select {
		case <-cmd.Context().Done():
			return cmd.Context().Err()
		case <-time.After(runPollInterval):
		}
	}
}
