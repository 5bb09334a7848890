package cli

import (
	"bufio"
	"fmt"
	"strings"

	"github.com/spf13/cobra"
)

func newConfigDeleteCmd(e *env) *cobra.Command {
	var sure bool
	cmd := &cobra.Command{
		Use:   "delete",
		Short: "Delete the tool's config (its components keep running)",
		Args:  args(cobra.NoArgs),
		RunE: func(cmd *cobra.Command, _ []string) error {
			c, tool, err := e.target()
			if err != nil {
				return err
			}
			if _, err := c.ConfigGet(cmd.Context(), tool); err != nil {
				return err
			}
			if err := e.confirmOrAbort(sure, fmt.Sprintf("Are you sure you want to delete the tool config of %s? This cannot be undone.", tool)); err != nil {
				return err
			}
			env, err := c.ConfigDelete(cmd.Context(), tool)
			if err != nil {
				return err
			}
			if e.flags.json {
				return printEnvelope(e.stdout, env, false)
			}
			y, err := yamlFromJSON(env.Data)
			if err != nil {
				return err
			}
			fmt.Fprint(e.stdout, y)
			return nil
		},
	}
	cmd.Flags().BoolVar(&sure, "yes-im-sure", false, "do not ask for confirmation")
	return cmd
}

// confirmOrAbort asks question unless sure; a "no" prints Toolforge's
// "Aborting at user's request." and ends the command with exit status 1.
func (e *env) confirmOrAbort(sure bool, question string) error {
	if sure || e.confirm(question) {
		return nil
	}
	fmt.Fprintln(e.stderr, "Aborting at user's request.")
	return &exitError{1}
}

// confirm asks question on stderr and reads the answer from stdin: only y
// or yes (any case) is a yes; end of input is a no.
func (e *env) confirm(question string) bool {
	fmt.Fprintf(e.stderr, "%s [y/N] ", question)
	line, _ := bufio.NewReader(e.stdin).ReadString('\n')
	switch strings.ToLower(strings.TrimSpace(line)) {
	case "y", "yes":
		return true
	}
	return false
}
