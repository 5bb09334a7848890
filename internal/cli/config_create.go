package cli

import (
	"errors"
	"fmt"
	"io"
	"net/http"
	"os"
	"regexp"

	"github.com/spf13/cobra"

	"slipway.dev/slipway/internal/apiclient"
	"slipway.dev/slipway/internal/toolconfig"
)

func newConfigCreateCmd(e *env) *cobra.Command {
	return &cobra.Command{
		Use:   "create [FILE|-]",
		Short: "Set the tool's config from a YAML or JSON file, or stdin",
		Long: `Set the tool's config from FILE, or from stdin when FILE is - or absent.

The config is checked locally first: problems are printed with their line and
column and nothing is sent. Unknown fields are dropped with a warning that
gives their line and column and the field they may be a misspelling of. The
server checks it against its limits (the memory and cpu of a component, the
tool's quotas); what is over them is printed with its line and column too,
and nothing is stored.`,
		Args: args(cobra.MaximumNArgs(1)),
		RunE: func(cmd *cobra.Command, a []string) error {
			c, tool, err := e.target()
			if err != nil {
				return err
			}
			f, err := e.readConfig(a)
			if err != nil {
				return err
			}
			res := f.res
			env, err := c.ConfigCreateFile(cmd.Context(), tool, f.data)
			if err != nil {
				return e.serverProblems(f, env, err)
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

// configFile is a config file read and parsed locally.
type configFile struct {
	name string // the file's name, or <stdin>
	data []byte // as read: what is sent, so that the server's problems have the file's positions
	res  toolconfig.Result
}

// readConfig reads the config named by the command's arguments (a file, or
// stdin for "-" or none), parses it locally and prints its warnings. On
// problems it prints one line each and returns an exitError.
func (e *env) readConfig(a []string) (configFile, error) {
	name := "-"
	if len(a) > 0 {
		name = a[0]
	}
	var data []byte
	var err error
	if name == "-" {
		if isTerminal(e.stdin) {
			return configFile{}, errors.New("no config given and nothing on stdin: pass a FILE, or pipe the config in")
		}
		name = "<stdin>"
		data, err = io.ReadAll(e.stdin)
	} else {
		data, err = os.ReadFile(name)
	}
	if err != nil {
		return configFile{}, fmt.Errorf("read config: %w", err)
	}
	res, err := toolconfig.Parse(data)
	if err != nil {
		var pe *toolconfig.ParseError
		if !errors.As(err, &pe) || len(pe.Problems) == 0 {
			return configFile{}, err
		}
		for _, p := range pe.Problems {
			fmt.Fprintf(e.stderr, "Error: %s\n", problemLine(name, p))
		}
		return configFile{}, &exitError{1}
	}
	for _, u := range res.Unknown {
		fmt.Fprintf(e.stderr, "Warning: %s\n", unknownLine(name, u))
	}
	return configFile{name: name, data: data, res: res}, nil
}

// unknownLine is "FILE:LINE:COL: MESSAGE" for an unknown field of a config
// file: the field, where it is, and what may have been meant.
func unknownLine(file string, u toolconfig.UnknownField) string {
	if u.Line > 0 {
		return fmt.Sprintf("%s:%d:%d: %s", file, u.Line, u.Column, u.Message())
	}
	return file + ": " + u.Message()
}

// serverProblemRE matches a problem the server found in a config
// (toolconfig.Problem.String): its path, maybe a position, its message.
var serverProblemRE = regexp.MustCompile(`^((?:components|source_url|config_version)[a-z0-9_.\[\]-]*)(?: \(line \d+, column \d+\))?: (.*)$`)

// serverProblems prints, for a config the server refused with 422, each
// of its problems as the local ones are printed (FILE:LINE:COL: PATH:
// MESSAGE, the position that of the field in the local file: the server's
// are in what it received, which for a plan is JSON), and returns an
// exitError; any other error is returned as it is.
func (e *env) serverProblems(f configFile, env apiclient.Envelope, err error) error {
	if env.Status != http.StatusUnprocessableEntity || len(env.Messages.Error) == 0 {
		return err
	}
	for _, msg := range env.Messages.Error {
		if m := serverProblemRE.FindStringSubmatch(msg); m != nil {
			p := toolconfig.LocateProblems([]toolconfig.Problem{{Path: m[1], Message: m[2]}}, f.data)[0]
			msg = problemLine(f.name, p)
		}
		fmt.Fprintf(e.stderr, "Error: %s\n", msg)
	}
	return &exitError{1}
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
