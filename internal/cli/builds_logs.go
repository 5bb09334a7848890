package cli

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"

	"github.com/spf13/cobra"
)

func newBuildsLogsCmd(e *env) *cobra.Command {
	var (
		follow bool
		lines  int
	)
	cmd := &cobra.Command{
		Use:   "logs ID",
		Short: "Print a build's log",
		Long: `Print a build's log. With -l N, only its last N lines. With -f, go on
printing what a running build logs until it ends. With --json, each line
is a JSON object {"line": "…"}, as Toolforge's builds-api streams them.`,
		Args: args(cobra.ExactArgs(1)),
		RunE: func(cmd *cobra.Command, a []string) error {
			if lines < 0 {
				return &usageError{fmt.Errorf("invalid --last %d: want a number of lines, at least 0", lines)}
			}
			c, tool, err := e.target()
			if err != nil {
				return err
			}
			var out interface {
				io.Writer
				Close() error
			} = &endLine{w: e.stdout}
			if e.flags.json {
				out = &jsonLines{w: e.stdout}
			}
			if err := c.BuildLogs(cmd.Context(), tool, a[0], follow, lines, out); err != nil {
				return err
			}
			return out.Close()
		},
	}
	cmd.Flags().BoolVarP(&follow, "follow", "f", false, "follow the log of a running build until it ends")
	cmd.Flags().IntVarP(&lines, "last", "l", 0, "start with the last N lines of the log (0: all)")
	return cmd
}

// jsonLines writes each line written to it as a JSON object {"line": …};
// Close writes a last line that had no newline.
type jsonLines struct {
	w   io.Writer
	buf []byte
}

// Write buffers p and writes its complete lines.
func (j *jsonLines) Write(p []byte) (int, error) {
	j.buf = append(j.buf, p...)
	for {
		i := bytes.IndexByte(j.buf, '\n')
		if i < 0 {
			return len(p), nil
		}
		if err := j.line(j.buf[:i]); err != nil {
			return 0, err
		}
		j.buf = j.buf[i+1:]
	}
}

// Close writes what is left.
func (j *jsonLines) Close() error {
	if len(j.buf) == 0 {
		return nil
	}
	err := j.line(j.buf)
	j.buf = nil
	return err
}

func (j *jsonLines) line(l []byte) error {
	enc := json.NewEncoder(j.w)
	enc.SetEscapeHTML(false)
	return enc.Encode(struct {
		Line string `json:"line"`
	}{string(l)})
}

// endLine passes writes through; Close ends an unfinished last line, so
// that what follows on the terminal starts on a line of its own.
type endLine struct {
	w    io.Writer
	last byte
}

// Write writes p.
func (e *endLine) Write(p []byte) (int, error) {
	if len(p) > 0 {
		e.last = p[len(p)-1]
	}
	return e.w.Write(p)
}

// Close writes a newline after a last line that has none.
func (e *endLine) Close() error {
	if e.last == 0 || e.last == '\n' {
		return nil
	}
	_, err := io.WriteString(e.w, "\n")
	return err
}
