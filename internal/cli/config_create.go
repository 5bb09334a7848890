package cli

import (
	"errors"
	"fmt"
	"io"
	"os"

	"github.com/spf13/cobra"

	"slipway.dev/slipway/internal/toolconfig"
)

func newConfigCreateCmd(e *env) *cobra.Command {
	return &cobra.Command{
		Use:   "create [FILE|-]",
		Short: "Set the tool's config from a YAML or JSON file, or stdin",
		Long: `Set the tool's config from FILE, or from stdin when FILE is - or absent.

The config is checked locally first: problems are printed with their line and
column and nothing is sent. Unknown fields are dropped with a warning.`,
		Args: args(cobra.MaximumNArgs(1)),
		RunE: func(cmd *cobra.Command, a []string) error {
			c, tool, err := e.target()
			if err != nil {
				return err
			}
			res, err := e.readConfig(a)
			if err != nil {
				return err
			}
			env, err := c.ConfigCreate(cmd.Context(), tool, res.Config.Raw)
			if err != nil {
				return err
			}
			if e.flags.json {
				e.printMessages(messagesWarningsOnly(env.Messages), res.Warnings)
				return printEnvelope(e.stdout, env, true)
			}
			e.printMessages(env.Messages, res.Warnings)
			return nil
		},
	}
}

// readConfig reads the config named by the command's arguments (a file, or
// stdin for "-" or none), parses it locally and prints its warnings. On
// problems it prints one line each and returns an exitError.
func (e *env) readConfig(a []string) (toolconfig.Result, error) {
	name := "-"
	if len(a) > 0 {
		name = a[0]
	}
	var data []byte
	var err error
	if name == "-" {
		if isTerminal(e.stdin) {
			return toolconfig.Result{}, errors.New("no config given and nothing on stdin: pass a FILE, or pipe the config in")
		}
		name = "<stdin>"
		data, err = io.ReadAll(e.stdin)
	} else {
		data, err = os.ReadFile(name)
	}
	if err != nil {
		return toolconfig.Result{}, fmt.Errorf("read config: %w", err)
	}
	res, err := toolconfig.Parse(data)
	if err != nil {
		var pe *toolconfig.ParseError
		if !errors.As(err, &pe) || len(pe.Problems) == 0 {
			return toolconfig.Result{}, err
		}
		for _, p := range pe.Problems {
			fmt.Fprintf(e.stderr, "Error: %s\n", problemLine(name, p))
		}
		return toolconfig.Result{}, &exitError{1}
	}
	for _, w := range res.Warnings {
		fmt.Fprintf(e.stderr, "Warning: %s\n", w)
	}
	return res, nil
}

// problemLine is "FILE:LINE:COL: PATH: MESSAGE", leaving out what is unknown.
func problemLine(file string, p toolconfig.Problem) string {
	s := file
	switch {
	case p.Line > 0 && p.Column > 0:
		s += fmt.Sprintf(":%d:%d", p.Line, p.Column)
	case p.Line > 0:
		s += fmt.Sprintf(":%d", p.Line) // the YAML parser gives no column
	}
	if p.Path != "" {
		s += ": " + p.Path
	}
	return s + ": " + p.Message
}
