package cli

import (
	"fmt"
	"strings"

	"github.com/spf13/cobra"

	"slipway.dev/slipway/internal/server"
)

// newStacksHelpTopic is `slipway help stacks`: what the builder does with
// each kind of app, written from the builder's own table
// (localbuild.Stacks, through server.BuilderStacks), so that it says what
// the builder does.
func newStacksHelpTopic() *cobra.Command {
	return &cobra.Command{
		Use:     "stacks",
		Aliases: []string{"stack"},
		Short:   "How the builder builds an app: stacks, build commands, default processes, .slipway/build",
		Long:    stacksHelp(),
	}
}

// stacksHelp is the text of `slipway help stacks`.
func stacksHelp() string {
	var b strings.Builder
	stacks := server.BuilderStacks()
	names := make([]string, len(stacks))
	for i, s := range stacks {
		names[i] = s.Name
	}
	b.WriteString("Stacks: how the builder builds an app\n\n")
	wrap(&b, "", "A build checks the commit out, picks the app's stack ("+orList(names)+") by the files at the root of the "+
		"repository, the first match winning, and runs the stack's build commands in the tool's sandbox, in the app "+
		"directory. Then it runs the app's own build step, "+server.CustomBuildStep+", if there is one.")
	for _, s := range stacks {
		b.WriteString("\n")
		selected := "anything else (the fallback)"
		if len(s.Files) > 0 {
			selected = orList(s.Files)
		}
		fmt.Fprintf(&b, "%s: selected by %s\n", s.Name, selected)
		if len(s.Steps) == 0 {
			b.WriteString("  build: nothing\n")
		}
		for i, st := range s.Steps {
			if i == 0 || st.When != s.Steps[i-1].When {
				if st.When == "" {
					b.WriteString("  build:\n")
				} else {
					fmt.Fprintf(&b, "  build, when %s:\n", st.When)
				}
			}
			fmt.Fprintf(&b, "    %s\n", shellJoin(st.Command))
		}
		if len(s.Env) > 0 {
			fmt.Fprintf(&b, "  environment: %s\n", shellJoin(s.Env))
		}
		if len(s.Processes) == 0 {
			b.WriteString("  default processes: none (write a Procfile)\n")
		}
		for _, p := range s.Processes {
			if p.IfFile == "" {
				b.WriteString("  default process:\n")
			} else {
				fmt.Fprintf(&b, "  default process, when %s exists:\n", p.IfFile)
			}
			fmt.Fprintf(&b, "    %s: %s\n", p.Name, p.Command)
		}
		if s.Note != "" {
			wrap(&b, "  ", s.Note)
		}
	}
	b.WriteString("\nProcesses\n")
	wrap(&b, "  ", `A Procfile at the root of the app ("name: command" lines; blank lines and lines starting with # are `+
		`skipped) gives its process types, whatever the stack; without one, the stack's default processes are used. `+
		`A component's run.command names a process type or is run as a shell command, in the built app's directory `+
		`(read-only).`)
	fmt.Fprintf(&b, "\nCustom build step: %s\n", server.CustomBuildStep)
	wrap(&b, "  ", "When the app has an executable "+server.CustomBuildStep+", it runs after the stack's build, in the app "+
		"directory and the tool's sandbox, with the build's environment plus "+andList(server.CustomBuildStepEnv())+". It may "+
		"build anything and write a Procfile. One that is not executable is skipped, with a warning in the build log "+
		"(chmod +x it and commit).")
	return b.String()
}

// wrap writes text to b, indented, in lines of at most 80 characters.
func wrap(b *strings.Builder, indent, text string) {
	line := indent
	for w := range strings.FieldsSeq(text) {
		if len(line) > len(indent) && len(line)+1+len(w) > 80 {
			b.WriteString(line + "\n")
			line = indent
		}
		if len(line) > len(indent) {
			line += " "
		}
		line += w
	}
	b.WriteString(line + "\n")
}

// shellJoin joins words as a shell command line, quoting those that need
// it.
func shellJoin(words []string) string {
	out := make([]string, len(words))
	for i, w := range words {
		if strings.ContainsAny(w, " \t\n'\"\\$`*?[]{}()<>|&;#~") {
			k, v, ok := strings.Cut(w, "=")
			if ok && !strings.ContainsAny(k, " '\"") {
				w = k + "=" + shellQuote(v) // an assignment, as in env
			} else {
				w = shellQuote(w)
			}
		}
		out[i] = w
	}
	return strings.Join(out, " ")
}

func shellQuote(s string) string {
	return "'" + strings.ReplaceAll(s, "'", `'\''`) + "'"
}

// orList is "a, b or c".
func orList(s []string) string { return list(s, "or") }

// andList is "a, b and c".
func andList(s []string) string { return list(s, "and") }

func list(s []string, conj string) string {
	if len(s) < 2 {
		return strings.Join(s, "")
	}
	return strings.Join(s[:len(s)-1], ", ") + " " + conj + " " + s[len(s)-1]
}
