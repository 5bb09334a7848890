package cli

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"strings"
	"time"

	"github.com/spf13/cobra"

	"slipway.dev/slipway/internal/apiclient"
)

// newBuildsCmd is `slipway builds`: the tool's builds, after Toolforge's
// `toolforge build` commands, over the builds API.
func newBuildsCmd(e *env) *cobra.Command {
	builds := &cobra.Command{
		Use:   "builds",
		Short: "Start, list, inspect, follow, cancel, delete and prune the tool's builds",
	}
	builds.AddCommand(newBuildsStartCmd(e), newBuildsListCmd(e), newBuildsShowCmd(e), newBuildsLogsCmd(e),
		newBuildsCancelCmd(e), newBuildsDeleteCmd(e), newBuildsQuotaCmd(e), newBuildsPruneCmd(e))
	return builds
}

// buildTime formats a build's RFC 3339 time as the other commands do, or
// "-" when it has none (a running build's end).
func buildTime(s string) string {
	t, err := time.Parse(time.RFC3339, s)
	if err != nil {
		return "-"
	}
	return created(t)
}

// shortCommit is the first n characters of a commit.
func shortCommit(c string, n int) string {
	if len(c) > n {
		return c[:n]
	}
	return c
}

// printBuild prints a build as `builds show` does.
func printBuild(w io.Writer, b apiclient.Build) {
	fmt.Fprintf(w, "Build ID: %s\n", b.BuildId)
	fmt.Fprintf(w, "Component: %s\n", b.Component)
	fmt.Fprintf(w, "Status: %s\n", b.Status)
	fmt.Fprintf(w, "Message: %s\n", b.Message)
	fmt.Fprintf(w, "Started: %s\n", buildTime(b.StartTime))
	fmt.Fprintf(w, "Ended: %s\n", buildTime(b.EndTime))
	fmt.Fprintf(w, "Source: %s\n", b.Parameters.SourceUrl)
	fmt.Fprintf(w, "Ref: %s\n", b.Parameters.Ref)
	fmt.Fprintf(w, "Commit: %s\n", b.Commit)
	if b.DestinationImage != "" {
		fmt.Fprintf(w, "Image: %s\n", b.DestinationImage)
	}
	if b.Error != "" {
		fmt.Fprintln(w, "Error:")
		fmt.Fprint(w, indent(strings.TrimSpace(b.Error), "  "))
	}
}

// printBuildJSON prints the answer's build as the server sent it (its
// own field order), for --json.
func printBuildJSON(w io.Writer, env apiclient.Envelope) error {
	var v struct {
		Build json.RawMessage `json:"build"`
	}
	if err := json.Unmarshal(env.Raw, &v); err != nil {
		return fmt.Errorf("decode build: %w", err)
	}
	if len(v.Build) == 0 {
		return errors.New("decode build: the answer has no build")
	}
	return printJSON(w, v.Build)
}

// printBuildAnswer prints the answer of a change to a build: with --json
// the build only (warnings on stderr), else the messages, title (when not
// empty) and the build.
func (e *env) printBuildAnswer(env apiclient.Envelope, title string) error {
	if e.flags.json {
		e.printMessages(messagesWarningsOnly(env.Messages), nil)
		return printBuildJSON(e.stdout, env)
	}
	b, err := env.Build()
	if err != nil {
		return err
	}
	e.printMessages(env.Messages, nil)
	if title != "" {
		fmt.Fprintln(e.stdout, title)
	}
	printBuild(e.stdout, b)
	return nil
}
