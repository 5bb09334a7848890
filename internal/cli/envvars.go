package cli

import (
	"bufio"
	"fmt"
	"io"
	"os"
	"strconv"
	"strings"
	"text/tabwriter"
	"unicode/utf8"

	"github.com/spf13/cobra"
	"golang.org/x/sys/unix"

	"slipway.dev/slipway/internal/apiclient"
)

// hiddenValue is what `envvars list` shows instead of a value (Toolforge's).
const hiddenValue = "****************"

// truncateLength is where `envvars list --truncate` cuts values
// (Toolforge's).
const truncateLength = 50

// newEnvVarsCmd is `envvars`: Toolforge's `toolforge envvars`, a tool's
// environment variables and secrets.
func newEnvVarsCmd(e *env) *cobra.Command {
	cmd := &cobra.Command{
		Use:   "envvars",
		Short: "Manage the tool's environment variables and secrets",
		Long: `Manage the tool's environment variables (Toolforge's envvars): every
process of the tool gets all of them. Values are secrets: the server keeps
them encrypted and gives them only to the tool's own credentials and the
admin; "list" masks them unless --show-values is given.

After a change, the next deployment restarts the continuous and scheduled
components that got another value ("environment variables changed: NAME");
one-off components are not run again for that.`,
	}
	cmd.AddCommand(newEnvVarsListCmd(e), newEnvVarsShowCmd(e), newEnvVarsCreateCmd(e), newEnvVarsDeleteCmd(e), newEnvVarsQuotaCmd(e))
	return cmd
}

func newEnvVarsListCmd(e *env) *cobra.Command {
	var showValues, truncate bool
	cmd := &cobra.Command{
		Use:   "list",
		Short: "List the tool's envvars (values masked)",
		Long: `List the tool's envvars. The values are masked unless --show-values is
given; --json prints the whole answer, values included.`,
		Args: args(cobra.NoArgs),
		RunE: func(cmd *cobra.Command, _ []string) error {
			c, tool, err := e.target()
			if err != nil {
				return err
			}
			env, err := c.EnvVarList(cmd.Context(), tool)
			if err != nil {
				return err
			}
			if e.flags.json {
				e.printMessages(messagesWarningsOnly(env.Messages), nil)
				return printJSON(e.stdout, env.Raw)
			}
			e.printMessages(env.Messages, nil)
			vs, err := env.EnvVars()
			if err != nil {
				return err
			}
			if len(vs) == 0 {
				fmt.Fprintf(e.stdout, "No envvars found for tool: %s\n", tool)
				return nil
			}
			rows := make([][2]string, len(vs))
			for i, v := range vs {
				value := hiddenValue
				if showValues {
					value = envVarText(v.Value)
					if truncate && utf8.RuneCountInString(value) >= truncateLength {
						value = string([]rune(value)[:truncateLength]) + "..."
					}
				}
				rows[i] = [2]string{v.Name, value}
			}
			return printEnvVarTable(e.stdout, rows...)
		},
	}
	cmd.Flags().BoolVar(&showValues, "show-values", false, "show the values instead of "+hiddenValue)
	cmd.Flags().BoolVar(&truncate, "truncate", false, "with --show-values, cut values at "+strconv.Itoa(truncateLength)+" characters")
	return cmd
}

func newEnvVarsShowCmd(e *env) *cobra.Command {
	var raw bool
	cmd := &cobra.Command{
		Use:   "show NAME",
		Short: "Show one envvar, with its value",
		Long: `Show one envvar with its value. Control characters in the value are
escaped (\n, \x1b); --raw writes the value as it is, and nothing else.`,
		Args: args(cobra.ExactArgs(1)),
		RunE: func(cmd *cobra.Command, a []string) error {
			c, tool, err := e.target()
			if err != nil {
				return err
			}
			env, err := c.EnvVarGet(cmd.Context(), tool, a[0])
			if err != nil {
				return err
			}
			if e.flags.json {
				e.printMessages(messagesWarningsOnly(env.Messages), nil)
				return printJSON(e.stdout, env.Raw)
			}
			v, err := env.EnvVar()
			if err != nil {
				return err
			}
			if raw {
				e.flags.raw = true // as it is: the global --raw too
				_, err := io.WriteString(e.stdout, v.Value)
				return err
			}
			e.printMessages(env.Messages, nil)
			return printEnvVarTable(e.stdout, [2]string{v.Name, envVarText(v.Value)})
		},
	}
	cmd.Flags().BoolVar(&raw, "raw", false, "write the value only, as it is")
	return cmd
}

func newEnvVarsCreateCmd(e *env) *cobra.Command {
	return &cobra.Command{
		Use:   "create NAME [VALUE]",
		Short: "Create an envvar, or overwrite it",
		Long: `Create the envvar NAME with VALUE, or overwrite it, and show it (the
only time "list" does not mask it). Without VALUE the value is read from
standard input, so that a secret stays out of the shell's history: typed
at a terminal (not echoed), or piped (one trailing newline is dropped):

  slipway envvars create API_KEY
  slipway envvars create API_KEY < key.txt

A name is an upper-case letter, then upper-case letters, digits or
underscores, 4 to 253 characters, not ending with an underscore. PORT,
HOME, TOOL_NAME, COMPONENT and SLIPWAY_* are set by Slipway, and
TOOL_DEPLOY_TOKEN comes from "slipway components deploy-token".`,
		Args: args(cobra.RangeArgs(1, 2)),
		RunE: func(cmd *cobra.Command, a []string) error {
			c, tool, err := e.target()
			if err != nil {
				return err
			}
			var value string
			if len(a) == 2 {
				value = a[1]
			} else if value, err = e.readEnvVarValue(a[0]); err != nil {
				return err
			}
			if !utf8.ValidString(value) {
				return fmt.Errorf("the value of %s is not valid UTF-8 text, which an envvar must be (JSON would change it): encode it, for example with base64", a[0])
			}
			env, err := c.EnvVarCreate(cmd.Context(), tool, a[0], value)
			if err != nil {
				return err
			}
			return e.printEnvVarAnswer(env, "")
		},
	}
}

// readEnvVarValue reads a value from stdin: a line typed at a terminal
// without echo, else all of it without one trailing newline.
func (e *env) readEnvVarValue(name string) (string, error) {
	if f, ok := e.stdin.(*os.File); ok && isTerminal(f) {
		fmt.Fprintf(e.stderr, "Enter the value of %s (not shown; Ctrl+C to cancel): ", name)
		line, err := readLineNoEcho(f)
		fmt.Fprintln(e.stderr)
		if err != nil {
			return "", fmt.Errorf("read the value of %s: %w", name, err)
		}
		return line, nil
	}
	b, err := io.ReadAll(e.stdin)
	if err != nil {
		return "", fmt.Errorf("read the value of %s from standard input: %w", name, err)
	}
	s := string(b)
	if t, ok := strings.CutSuffix(s, "\n"); ok {
		s = strings.TrimSuffix(t, "\r")
	}
	return s, nil
}

// readLineNoEcho reads one line from the terminal f with echo off, and
// turns echo back on.
func readLineNoEcho(f *os.File) (string, error) {
	fd := int(f.Fd())
	old, err := unix.IoctlGetTermios(fd, unix.TCGETS)
	if err != nil {
		return "", err
	}
	noEcho := *old
	noEcho.Lflag &^= unix.ECHO
	noEcho.Lflag |= unix.ICANON | unix.ISIG
	if err := unix.IoctlSetTermios(fd, unix.TCSETS, &noEcho); err != nil {
		return "", err
	}
	defer func() { _ = unix.IoctlSetTermios(fd, unix.TCSETS, old) }()
	line, err := bufio.NewReader(f).ReadString('\n')
	if err != nil && line == "" {
		return "", err
	}
	return strings.TrimSuffix(strings.TrimSuffix(line, "\n"), "\r"), nil
}

func newEnvVarsDeleteCmd(e *env) *cobra.Command {
	var sure bool
	cmd := &cobra.Command{
		Use:   "delete NAME",
		Short: "Delete an envvar and show its last value",
		Args:  args(cobra.ExactArgs(1)),
		RunE: func(cmd *cobra.Command, a []string) error {
			c, tool, err := e.target()
			if err != nil {
				return err
			}
			if err := e.confirmOrAbort(sure, fmt.Sprintf("Are you sure you want to delete %s? (this can't be undone)", a[0])); err != nil {
				return err
			}
			env, err := c.EnvVarDelete(cmd.Context(), tool, a[0])
			if err != nil {
				return err
			}
			return e.printEnvVarAnswer(env, fmt.Sprintf("Deleted %s, here is its last value:", a[0]))
		},
	}
	cmd.Flags().BoolVar(&sure, "yes-im-sure", false, "do not ask for confirmation")
	return cmd
}

func newEnvVarsQuotaCmd(e *env) *cobra.Command {
	return &cobra.Command{
		Use:   "quota",
		Short: "Show how many envvars the tool may have and has",
		Args:  args(cobra.NoArgs),
		RunE: func(cmd *cobra.Command, _ []string) error {
			c, tool, err := e.target()
			if err != nil {
				return err
			}
			env, err := c.EnvVarQuota(cmd.Context(), tool)
			if err != nil {
				return err
			}
			if e.flags.json {
				e.printMessages(messagesWarningsOnly(env.Messages), nil)
				return printJSON(e.stdout, env.Raw)
			}
			e.printMessages(env.Messages, nil)
			q, err := env.EnvVarQuota()
			if err != nil {
				return err
			}
			tw := tabwriter.NewWriter(e.stdout, 0, 0, 2, ' ', 0)
			fmt.Fprintln(tw, "quota\tused\tavailable")
			fmt.Fprintf(tw, "%d\t%d\t%d\n", q.Quota, q.Used, q.Quota-q.Used)
			return tw.Flush()
		},
	}
}

// printEnvVarAnswer prints the answer of create or delete: with --json the
// whole answer (warnings on stderr), else title (when not empty), the
// envvar with its value, and the messages.
func (e *env) printEnvVarAnswer(env apiclient.Envelope, title string) error {
	if e.flags.json {
		e.printMessages(messagesWarningsOnly(env.Messages), nil)
		return printJSON(e.stdout, env.Raw)
	}
	v, err := env.EnvVar()
	if err != nil {
		return err
	}
	if title != "" {
		fmt.Fprintln(e.stdout, title)
	}
	if err := printEnvVarTable(e.stdout, [2]string{v.Name, envVarText(v.Value)}); err != nil {
		return err
	}
	e.printMessages(env.Messages, nil)
	return nil
}

// printEnvVarTable prints name/value rows under a header, as Toolforge's
// CLI does.
func printEnvVarTable(w io.Writer, rows ...[2]string) error {
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	fmt.Fprintln(tw, "name\tvalue")
	for _, r := range rows {
		fmt.Fprintf(tw, "%s\t%s\n", r[0], r[1])
	}
	return tw.Flush()
}

// envVarText is a value as a table shows it: control characters (a
// newline, an escape sequence) and invalid UTF-8 escaped as Go does, so
// that a value can neither break the table nor drive the terminal
// (show --raw writes it as it is).
func envVarText(s string) string {
	var b strings.Builder
	for i, r := range s {
		switch {
		case r == utf8.RuneError && !strings.HasPrefix(s[i:], "\uFFFD"):
			fmt.Fprintf(&b, `\x%02x`, s[i])
		case r < 0x20 || r == 0x7f || (r >= 0x80 && r < 0xa0):
			q := strconv.QuoteRune(r)
			b.WriteString(q[1 : len(q)-1])
		default:
			b.WriteRune(r)
		}
	}
	return b.String()
}
