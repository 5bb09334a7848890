package cli

import (
	"bytes"
	"os"
	"regexp"
	"strings"
	"testing"

	"github.com/spf13/cobra"
	"github.com/spf13/pflag"

	"slipway.dev/slipway/internal/build/localbuild"
)

// runMain runs Main with no environment and returns its exit status,
// stdout and stderr.
func runMain(t *testing.T, args ...string) result {
	t.Helper()
	var stdout, stderr bytes.Buffer
	code := Main(t.Context(), args, func(string) string { return "" }, strings.NewReader(""), &stdout, &stderr)
	return result{code, stdout.String(), stderr.String()}
}

// TestUnknownCommand checks that a mistyped command fails with exit status
// 2, naming it and what it may mean, at every level of the tree and
// through `slipway help`.
func TestUnknownCommand(t *testing.T) {
	t.Parallel()
	tests := []struct {
		args []string
		want string
	}{
		{[]string{"componets"}, `Error: unknown command "componets" for "slipway"; did you mean "components"?` + "\nRun 'slipway --help' for usage.\n"},
		{[]string{"jobs", "lsit"}, `Error: unknown command "lsit" for "slipway jobs"; did you mean "list"?` + "\nRun 'slipway jobs --help' for usage.\n"},
		{[]string{"components", "deploymnet"}, `Error: unknown command "deploymnet" for "slipway components"; did you mean "deployment"?` + "\nRun 'slipway components --help' for usage.\n"},
		{[]string{"--tool", "x", "components", "deploymnet", "list", "--json"}, `Error: unknown command "deploymnet" for "slipway components"; did you mean "deployment"?` + "\nRun 'slipway components --help' for usage.\n"},
		{[]string{"components", "config", "shwo"}, `Error: unknown command "shwo" for "slipway components config"; did you mean "show"?` + "\nRun 'slipway components config --help' for usage.\n"},
		{[]string{"jobs", "lo"}, `Error: unknown command "lo" for "slipway jobs"; did you mean "load" or "logs"?` + "\nRun 'slipway jobs --help' for usage.\n"},
		{[]string{"frobnicate"}, `Error: unknown command "frobnicate" for "slipway"` + "\nRun 'slipway --help' for usage.\n"},
		{[]string{"help", "componets"}, `Error: unknown command "componets" for "slipway"; did you mean "components"?` + "\nRun 'slipway --help' for usage.\n"},
		{[]string{"help", "jobs", "lsit"}, `Error: unknown command "lsit" for "slipway jobs"; did you mean "list"?` + "\nRun 'slipway jobs --help' for usage.\n"},
	}
	for _, tt := range tests {
		res := runMain(t, tt.args...)
		if res.code != 2 || res.stdout != "" || res.stderr != tt.want {
			t.Errorf("slipway %s: exit %d, stdout %q, stderr %q; want 2 and %q", strings.Join(tt.args, " "), res.code, res.stdout, res.stderr, tt.want)
		}
	}

	// Every command that groups others, with each of them misspelt (a
	// letter doubled): rejected, naming it.
	var walk func(c *cobra.Command)
	walk = func(c *cobra.Command) {
		for _, sub := range c.Commands() {
			if !sub.IsAvailableCommand() {
				continue
			}
			path := strings.Fields(sub.CommandPath())[1:]
			typo := sub.Name()[:1] + sub.Name()
			res := runMain(t, append(path[:len(path)-1:len(path)-1], typo)...)
			want := `Error: unknown command "` + typo + `" for "` + c.CommandPath() + `"; did you mean `
			if res.code != 2 || !strings.HasPrefix(res.stderr, want) || !strings.Contains(res.stderr, `"`+sub.Name()+`"`) {
				t.Errorf("%s %s: exit %d, stderr %q; want 2 and %q… naming %q", c.CommandPath(), typo, res.code, res.stderr, want, sub.Name())
			}
			walk(sub)
		}
	}
	walk(newRootCmd(&env{getenv: func(string) string { return "" }}))

	// A group without a command still shows its help.
	for _, args := range [][]string{{}, {"jobs"}, {"components", "deployment"}} {
		res := runMain(t, args...)
		if res.code != 0 || !strings.Contains(res.stdout, "Available Commands:") || res.stderr != "" {
			t.Errorf("slipway %s: exit %d, stdout %q, stderr %q; want its help", strings.Join(args, " "), res.code, res.stdout, res.stderr)
		}
	}
}

// TestServerHelp checks `slipway server --help` and `slipway demo
// --help`: each flag shows what it takes (SIZE, DURATION…, never
// "string"), and only the global flags that apply to a server are listed.
func TestServerHelp(t *testing.T) {
	t.Parallel()
	res := runMain(t, "server", "--help")
	if res.code != 0 || res.stderr != "" {
		t.Fatalf("exit %d, stderr %q", res.code, res.stderr)
	}
	help := res.stdout
	for _, want := range []string{
		"Usage:\n  slipway server [flags]\n",
		"      --build-memory SIZE ",
		"      --build-cpu CPU ",
		"      --build-timeout DURATION ",
		"      --deployment-timeout DURATION ",
		"      --deploy-token-lifetime DURATION ",
		"      --max-memory SIZE ",
		"      --quota-cpu CPU ",
		"      --quota-replicas N ",
		"      --keep-deployments N ",
		"      --release-retention PERIOD ",
		"      --artifact-retention PERIOD ",
		"      --min-free-disk SIZE|PERCENT ",
		"      --listen ADDR ",
		"      --sandbox-limits MODE ",
		"      --queue BOOL ",
		"      --tls-cert FILE ",
		"      --unsandboxed  ", // --unsandboxed alone turns it on
		"      --tls  ",
		"      --data DIR ",
		"  -v, --verbose ",
		"(default $SLIPWAY_BUILD_MEMORY or 4Gi)",
		"(default $SLIPWAY_DEPLOYMENT_TIMEOUT or 1h)",
	} {
		if !strings.Contains(help, want) && !strings.Contains(strings.Join(strings.Fields(help), " "), want) {
			t.Errorf("server help lacks %q:\n%s", want, help)
		}
	}
	client := regexp.MustCompile(`--(url|tool|token|json|raw|config|ca|cert|key)[ =]`)
	for _, h := range []string{help, runMain(t, "demo", "--help").stdout} {
		if m := client.FindString(h); m != "" {
			t.Errorf("help lists the client's flag %s:\n%s", m, h)
		}
		if m := regexp.MustCompile(`--[a-z-]+ string`).FindString(h); m != "" {
			t.Errorf("help shows %q: want what the flag takes", m)
		}
	}
	demo := runMain(t, "demo", "--help").stdout
	if !strings.Contains(demo, "      --keep DIR ") || strings.Contains(demo, "--data ") {
		t.Errorf("demo help: want --keep DIR and no --data (the demo has its own):\n%s", demo)
	}

	// Every flag of both has a type of its own.
	root := newRootCmd(&env{getenv: func(string) string { return "" }})
	for _, name := range []string{"server", "demo"} {
		cmd, _, err := root.Find([]string{name})
		if err != nil {
			t.Fatal(err)
		}
		cmd.LocalFlags().VisitAll(func(f *pflag.Flag) {
			if f.Name != "help" && f.Value.Type() == "string" {
				t.Errorf("slipway %s --%s has no type in serverFlagTypes", name, f.Name)
			}
		})
	}

	// The other commands keep the global flags.
	if h := runMain(t, "components", "deployment", "list", "--help").stdout; !strings.Contains(h, "--url string") {
		t.Errorf("a client command's help lacks --url:\n%s", h)
	}
}

// TestHelpStacks checks that `slipway help stacks` describes every stack
// the builder detects, with its files, build commands and default
// processes as the builder has them, and the custom build step.
func TestHelpStacks(t *testing.T) {
	t.Parallel()
	res := runMain(t, "help", "stacks")
	if res.code != 0 || res.stderr != "" {
		t.Fatalf("exit %d, stderr %q", res.code, res.stderr)
	}
	if direct := runMain(t, "stacks"); direct.stdout != res.stdout {
		t.Errorf("slipway stacks and slipway help stacks differ:\n%s\n---\n%s", direct.stdout, res.stdout)
	}
	checkStacksText(t, "slipway help stacks", res.stdout)
	if strings.Contains(res.stdout, "Usage:") {
		t.Errorf("the topic has a usage:\n%s", res.stdout)
	}
	if h := runMain(t, "--help").stdout; !regexp.MustCompile(`Additional help topics:\n  slipway stacks +How the builder builds an app`).MatchString(h) {
		t.Errorf("slipway --help does not list the stacks topic:\n%s", h)
	}
}

// TestREADMEStacks checks that the README's section on stacks says what
// the builder does, as `slipway help stacks` does.
func TestREADMEStacks(t *testing.T) {
	t.Parallel()
	b, err := os.ReadFile("../../README.md")
	if err != nil {
		t.Fatal(err)
	}
	readme := string(b)
	start := strings.Index(readme, "\n## Stacks")
	if start < 0 {
		t.Fatal("README.md has no ## Stacks section")
	}
	section := readme[start+1:]
	if end := strings.Index(section[1:], "\n## "); end >= 0 {
		section = section[:end+1]
	}
	checkStacksText(t, "README.md's stacks section", section)
	if !strings.Contains(section, "slipway help stacks") {
		t.Error("README.md's stacks section does not point at slipway help stacks")
	}
}

// checkStacksText checks that text names each stack of localbuild.Stacks
// with its files, commands, environment and default processes, and the
// custom build step with its variables.
func checkStacksText(t *testing.T, what, text string) {
	t.Helper()
	stacks := localbuild.Stacks()
	if len(stacks) < 4 {
		t.Fatalf("localbuild.Stacks() = %d stacks", len(stacks))
	}
	for _, s := range stacks {
		want := []string{s.Name}
		want = append(want, s.Files...)
		for _, st := range s.Steps {
			want = append(want, shellJoin(st.Command))
			if st.When != "" {
				want = append(want, st.When)
			}
		}
		if len(s.Env) > 0 {
			want = append(want, shellJoin(s.Env))
		}
		for _, p := range s.Processes {
			want = append(want, p.Name+": "+p.Command)
			if p.IfFile != "" {
				want = append(want, p.IfFile)
			}
		}
		for _, w := range want {
			if !strings.Contains(text, w) {
				t.Errorf("%s lacks %q (stack %s):\n%s", what, w, s.Name, text)
			}
		}
	}
	for _, w := range append([]string{localbuild.CustomStep, "Procfile"}, localbuild.StepEnv...) {
		if !strings.Contains(text, w) {
			t.Errorf("%s lacks %q:\n%s", what, w, text)
		}
	}
}
