package cli

import (
	"cmp"
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"net/http"
	"os"
	"slices"
	"strings"
	"time"

	"github.com/spf13/cobra"

	"slipway.dev/slipway/internal/apiclient"
	"slipway.dev/slipway/internal/slipway"
)

// The exit statuses of `slipway ask` besides 0 (answered), 1 (error) and
// 2 (usage).
const (
	exitExpired   = 3 // no answer by the deadline
	exitCancelled = 4 // the deployment ended or was cancelled first
)

// askFlags are the flags of `slipway ask`.
type askFlags struct {
	options []string
	fields  []string
	def     string
	timeout time.Duration
	key     string
}

func newAskCmd(e *env) *cobra.Command {
	var f askFlags
	cmd := &cobra.Command{
		Use:   "ask QUESTION --option VALUE… | --field KEY:TYPE…",
		Short: "Ask a human from inside a deployment's build or one-off step, and wait for the answer",
		Long: `Ask a question from inside a running build or one-off step of a deployment
(a Procfile command, .slipway/build) and wait for the answer, which people
give with ` + "`slipway questions answer`" + ` or in the web UI. The step's
processes get what it needs: $SLIPWAY_URL, $SLIPWAY_ASK_TOKEN (valid while
the step runs) and, when the API uses the server's own CA, $SLIPWAY_CA_FILE.

  slipway ask "Continue with sync?" --option yes --option no=n --default n --timeout 1h

--option LABEL[=VALUE] offers an answer (VALUE defaults to LABEL). Or ask
for values with --field KEY:TYPE[:OPT1|OPT2][=DEFAULT], TYPE being text,
select (with its options) or boolean; a field without a default is
required. --default VALUE is the option taken when nobody answers by the
deadline (--timeout, default 24h, never past the deployment's deadline).

The question goes to stderr; the answer's value to stdout (with fields, a
JSON object of key to value; with --json, the whole question). Asking again
with the same question (or --key) gets the same question and its answer,
so a step run again after a crash does not ask twice. The server may
restart meanwhile: ask retries until the deadline and a grace period.

Exit status: 0 answered, 3 no answer by the deadline, 4 the deployment
ended or was cancelled first, 1 other errors, 2 a usage mistake.`,
		Args: args(cobra.ExactArgs(1)),
		RunE: func(cmd *cobra.Command, a []string) error {
			req, err := f.request(a[0])
			if err != nil {
				return &usageError{err}
			}
			return e.ask(cmd.Context(), req)
		},
	}
	fl := cmd.Flags()
	fl.StringArrayVar(&f.options, "option", nil, "an answer to choose, LABEL or LABEL=VALUE (repeat it)")
	fl.StringArrayVar(&f.fields, "field", nil, "a value to fill in, KEY:TYPE[:OPT1|OPT2][=DEFAULT], TYPE text, select or boolean (repeat it)")
	fl.StringVar(&f.def, "default", "", "the option's VALUE taken when nobody answers by the deadline")
	fl.DurationVar(&f.timeout, "timeout", 0, "how long to wait for an answer, e.g. 30m (default 24h; never past the deployment's deadline)")
	fl.StringVar(&f.key, "key", "", "what makes this question the same as one asked before in this step (default: the question and its answers)")
	return cmd
}

// request returns what f asks, or what is wrong with the flags.
func (f *askFlags) request(prompt string) (apiclient.AskRequest, error) {
	req := apiclient.AskRequest{Question: prompt}
	switch {
	case strings.TrimSpace(prompt) == "":
		return req, errors.New("the question is empty")
	case len(f.options) == 0 && len(f.fields) == 0:
		return req, errors.New("give the answers to choose from (--option yes --option no) or the values to fill in (--field KEY:TYPE)")
	case len(f.options) > 0 && len(f.fields) > 0:
		return req, errors.New("give --option or --field, not both")
	case f.def != "" && len(f.fields) > 0:
		return req, errors.New("--default is the default option; a field's default goes after = in --field KEY:TYPE=DEFAULT")
	case f.timeout < 0:
		return req, errors.New("--timeout must not be negative")
	}
	var opts []apiclient.QuestionOption
	for _, o := range f.options {
		label, value, ok := strings.Cut(o, "=")
		if !ok {
			value = label
		}
		if value == "" || label == "" {
			return req, fmt.Errorf("--option %q: want LABEL or LABEL=VALUE", o)
		}
		if slices.ContainsFunc(opts, func(x apiclient.QuestionOption) bool { return x.Value == value }) {
			return req, fmt.Errorf("--option %q: the value %q is given twice", o, value)
		}
		opts = append(opts, apiclient.QuestionOption{Label: label, Value: value})
	}
	if len(opts) > 0 {
		req.Options = &opts
	}
	var fields []apiclient.QuestionField
	for _, s := range f.fields {
		fd, err := parseField(s)
		if err != nil {
			return req, err
		}
		fields = append(fields, fd)
	}
	if len(fields) > 0 {
		req.Fields = &fields
	}
	if f.def != "" {
		if !slices.ContainsFunc(opts, func(x apiclient.QuestionOption) bool { return x.Value == f.def }) {
			return req, fmt.Errorf("--default %q is not the value of an --option", f.def)
		}
		req.Default = &f.def
		req.OnTimeout = new(apiclient.AskOnTimeoutDefault)
	}
	if f.timeout > 0 {
		req.TimeoutSeconds = new(int(max(f.timeout.Round(time.Second), time.Second) / time.Second))
	}
	if f.key != "" {
		req.Key = &f.key
	}
	return req, nil
}

// parseField parses --field KEY:TYPE[:OPT1|OPT2][=DEFAULT].
func parseField(s string) (apiclient.QuestionField, error) {
	spec, def, hasDef := strings.Cut(s, "=")
	parts := strings.Split(spec, ":")
	bad := func(why string) (apiclient.QuestionField, error) {
		return apiclient.QuestionField{}, fmt.Errorf("--field %q: %s (want KEY:TYPE[:OPT1|OPT2][=DEFAULT], TYPE text, select or boolean)", s, why)
	}
	if len(parts) < 2 || len(parts) > 3 || parts[0] == "" {
		return bad("no key and type")
	}
	f := apiclient.QuestionField{Key: parts[0]}
	switch parts[1] {
	case "text", "select":
		f.Type = apiclient.QuestionFieldType(parts[1])
	case "boolean", "bool":
		f.Type = apiclient.QuestionFieldType("boolean")
	default:
		return bad("unknown type " + strconvQuote(parts[1]))
	}
	if len(parts) == 3 {
		if f.Type != "select" {
			return bad("only a select field has options")
		}
		opts := strings.Split(parts[2], "|")
		f.Options = &opts
	} else if f.Type == "select" {
		return bad("a select field needs its options")
	}
	if hasDef {
		f.Default = &def
	}
	if !hasDef && f.Type != "boolean" {
		f.Required = new(true)
	}
	return f, nil
}

func strconvQuote(s string) string { return fmt.Sprintf("%q", s) }

// ask asks req for the step of $SLIPWAY_ASK_TOKEN and waits for the answer
// (see newAskCmd).
func (e *env) ask(ctx context.Context, req apiclient.AskRequest) error {
	url, token := cmp.Or(e.flags.url, e.getenv(slipway.EnvAskURL)), e.getenv(slipway.EnvAskToken)
	if url == "" || token == "" {
		return errors.New("slipway ask runs inside a deployment's build or one-off step: $SLIPWAY_URL and $SLIPWAY_ASK_TOKEN are not set here")
	}
	scope, ok := slipway.ReadAskScope(token)
	if !ok {
		return errors.New("$SLIPWAY_ASK_TOKEN is not an ask token")
	}
	c, err := e.askClient(url, token)
	if err != nil {
		return err
	}
	timeout := slipway.DefaultQuestionTimeout
	if req.TimeoutSeconds != nil {
		timeout = time.Duration(*req.TimeoutSeconds) * time.Second
	}
	r := e.retrier(time.Now().Add(timeout))
	var env apiclient.Envelope
	for {
		env, err = c.QuestionAsk(ctx, scope.Tool, req)
		if err == nil {
			break
		}
		if err := r.again(ctx, err); err != nil {
			return err
		}
	}
	r.recovered()
	q, err := env.Question()
	if err != nil {
		return err
	}
	e.printAsked(q, env.Status == http.StatusCreated)
	r.giveUp = q.Deadline.Add(r.grace)
	wait := cmp.Or(e.hooks.pollWait, 50*time.Second)
	for !slipway.QuestionState(q.State).Final() {
		if time.Now().After(r.giveUp) {
			fmt.Fprintf(e.stderr, "Question %s is still open after its deadline (%s); giving up.\n", q.Id, q.Deadline.UTC().Format(time.RFC3339))
			return &exitError{exitExpired}
		}
		env, err = c.QuestionGet(ctx, scope.Tool, q.Id, wait)
		if err != nil {
			if code, gone := askGone(err); gone {
				fmt.Fprintf(e.stderr, "The question's step is over: %s\n", slipway.ErrorMessage(err))
				return &exitError{code}
			}
			if err := r.again(ctx, err); err != nil {
				return err
			}
			continue
		}
		r.recovered()
		if q, err = env.Question(); err != nil {
			return err
		}
	}
	return e.printAnswer(q, env)
}

// askGone reports whether an error of the long poll means the question's
// step or deployment is over (the token is no longer accepted, the
// question is gone), with the exit status.
func askGone(err error) (int, bool) {
	var se *apiclient.StatusError
	if !errors.As(err, &se) {
		return 0, false
	}
	switch se.Status {
	case http.StatusUnauthorized, http.StatusNotFound:
		return exitCancelled, true
	case http.StatusForbidden:
		return 1, true
	}
	return 0, false
}

// askClient returns the client of `slipway ask`: the ask token, and the
// CA of $SLIPWAY_CA_FILE (or --ca, $SLIPWAY_CA) when there is one.
func (e *env) askClient(url, token string) (*apiclient.Client, error) {
	opts := []apiclient.Option{apiclient.WithUserAgent("slipway-ask")}
	if ca := cmp.Or(e.flags.ca, e.getenv("SLIPWAY_CA_FILE"), e.getenv("SLIPWAY_CA")); ca != "" {
		pem, err := os.ReadFile(ca)
		if err != nil {
			return nil, fmt.Errorf("CA certificate: %w", err)
		}
		pool := x509.NewCertPool()
		if !pool.AppendCertsFromPEM(pem) {
			return nil, fmt.Errorf("CA certificate %s: no PEM certificate in it", ca)
		}
		opts = append(opts, apiclient.WithHTTPClient(&http.Client{Transport: &http.Transport{
			Proxy: http.ProxyFromEnvironment, TLSClientConfig: &tls.Config{RootCAs: pool, MinVersion: tls.VersionTLS12},
		}}))
	}
	if e.flags.verbose {
		opts = append(opts, apiclient.WithTrace(e.stderr))
	}
	return apiclient.New(url, token, opts...)
}

// printAsked prints the question to stderr, with how to answer it.
func (e *env) printAsked(q apiclient.Question, created bool) {
	w := e.stderr
	if created {
		fmt.Fprintf(w, "Asked %s (%s of %s):\n", q.Id, q.Step, q.DeployId)
	} else {
		fmt.Fprintf(w, "Asked before, %s (%s of %s):\n", q.Id, q.Step, q.DeployId)
	}
	fmt.Fprint(w, indent(q.Question, "  "))
	if len(q.Options) > 0 {
		fmt.Fprintf(w, "Answers: %s\n", optionList(q.Options))
	}
	for _, f := range q.Fields {
		fmt.Fprintf(w, "Field: %s\n", fieldLine(f))
	}
	fmt.Fprintf(w, "Deadline: %s%s\n", q.Deadline.UTC().Format(time.RFC3339), deadlineNote(q))
	fmt.Fprintf(w, "Answer with: %s\n", answerCommand(q))
}

// printAnswer prints a settled question's outcome and returns the exit
// status: the value on stdout when answered.
func (e *env) printAnswer(q apiclient.Question, env apiclient.Envelope) error {
	switch slipway.QuestionState(q.State) {
	case slipway.QuestionAnswered, slipway.QuestionRejected:
		if q.AnsweredBy == "system:deadline" {
			fmt.Fprintf(e.stderr, "No answer by the deadline: took the default, %s.\n", q.Value)
		} else {
			fmt.Fprintf(e.stderr, "Answered %s by %s.\n", q.Value, q.AnsweredBy)
		}
		if e.flags.json {
			return printJSON(e.stdout, env.Data)
		}
		fmt.Fprintln(e.stdout, q.Value)
		return nil
	case slipway.QuestionExpired:
		fmt.Fprintf(e.stderr, "No answer by the deadline (%s): question %s expired.\n", q.Deadline.UTC().Format(time.RFC3339), q.Id)
		if e.flags.json {
			_ = printJSON(e.stdout, env.Data) // the status says what happened; a failed write changes nothing
		}
		return &exitError{exitExpired}
	default: // cancelled (printAnswer is never called while open)
		fmt.Fprintf(e.stderr, "Question %s was cancelled: %s\n", q.Id, cmp.Or(q.Comment, "its deployment ended"))
		if e.flags.json {
			_ = printJSON(e.stdout, env.Data) // as above
		}
		return &exitError{exitCancelled}
	}
}

// retrier paces the attempts to reach the server: backoff from retryMin
// doubling to retryMax, until giveUp; it says once per outage that the
// server cannot be reached, and when it can again.
type retrier struct {
	e               *env
	delay, min, max time.Duration
	grace           time.Duration
	giveUp          time.Time
	failing         bool
	since           time.Time
}

// retrier returns a retrier giving up a grace period after deadline.
func (e *env) retrier(deadline time.Time) *retrier {
	r := &retrier{
		e: e, min: cmp.Or(e.hooks.retryMin, time.Second), max: cmp.Or(e.hooks.retryMax, 30*time.Second),
		grace: cmp.Or(e.hooks.grace, 5*time.Minute),
	}
	r.delay, r.giveUp = r.min, deadline.Add(r.grace)
	return r
}

// again waits before the next attempt after err, or returns the error to
// end with: err itself when it is not worth retrying, or when it is too
// late.
func (r *retrier) again(ctx context.Context, err error) error {
	if !retryable(err) || ctx.Err() != nil {
		return err
	}
	now := time.Now()
	if !r.failing {
		r.failing, r.since = true, now
		fmt.Fprintf(r.e.stderr, "Cannot reach the Slipway server (%s); retrying until %s.\n", briefError(err), r.giveUp.UTC().Format(time.RFC3339))
	}
	if now.Add(r.delay).After(r.giveUp) {
		fmt.Fprintf(r.e.stderr, "Giving up: the server has not answered since %s.\n", r.since.UTC().Format(time.RFC3339))
		return &exitError{1}
	}
	t := time.NewTimer(r.delay)
	defer t.Stop()
	select {
	case <-ctx.Done():
		return ctx.Err()
	case <-t.C:
	}
	r.delay = min(r.delay*2, r.max)
	return nil
}

// recovered notes an attempt that reached the server.
func (r *retrier) recovered() {
	if r.failing {
		fmt.Fprintln(r.e.stderr, "Reached the server again.")
	}
	r.failing, r.delay = false, r.min
}

// retryable reports whether err is worth another attempt: the server
// could not be reached or answered with a 5xx or 429 (restarting,
// overloaded).
func retryable(err error) bool {
	if se, ok := errors.AsType[*apiclient.StatusError](err); ok {
		return se.Status == http.StatusTooManyRequests
	}
	// Not an answer of the server's (unreachable, cut short) or a 5xx.
	_, answered := errors.AsType[*slipway.Error](err)
	return !answered
}

// briefError is err in a few words.
func briefError(err error) string {
	if ue, ok := errors.AsType[*apiclient.UnreachableError](err); ok {
		return ue.Err.Error()
	}
	return slipway.ErrorMessage(err)
}

// optionList is "yes, no (n)": each option's label, and its value when
// it differs.
func optionList(opts []apiclient.QuestionOption) string {
	parts := make([]string, len(opts))
	for i, o := range opts {
		parts[i] = o.Label
		if o.Value != o.Label {
			parts[i] += " (" + o.Value + ")"
		}
	}
	return strings.Join(parts, ", ")
}

// fieldLine describes a field: "env (select: prod|staging, default
// staging)".
func fieldLine(f apiclient.QuestionField) string {
	var about []string
	about = append(about, string(f.Type))
	if f.Options != nil && len(*f.Options) > 0 {
		about[0] += ": " + strings.Join(*f.Options, "|")
	}
	if f.Default != nil && *f.Default != "" {
		about = append(about, "default "+*f.Default)
	}
	if f.Required != nil && *f.Required {
		about = append(about, "required")
	}
	name := f.Key
	if f.Label != nil && *f.Label != "" && *f.Label != f.Key {
		name += " \"" + *f.Label + "\""
	}
	return name + " (" + strings.Join(about, ", ") + ")"
}

// deadlineNote says what the deadline does.
func deadlineNote(q apiclient.Question) string {
	if q.OnDeadline == "default" && q.Default != "" {
		return ", then the default: " + q.Default
	}
	if q.Origin == "gate" {
		return ", then the gate fails"
	}
	return ""
}

// answerCommand is the command that answers q.
func answerCommand(q apiclient.Question) string {
	cmd := "slipway questions answer " + q.Id + " --tool " + q.Tool
	switch {
	case len(q.Options) > 0:
		return cmd + " --value " + shellWord(q.Options[0].Value)
	case len(q.Fields) > 0:
		for _, f := range q.Fields {
			cmd += " --field " + shellWord(f.Key+"=…")
		}
	}
	return cmd
}

// shellWord quotes s for a shell when it needs it.
func shellWord(s string) string {
	if s != "" && strings.Trim(s, "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789-_.,:/@+=") == "" {
		return s
	}
	return "'" + strings.ReplaceAll(s, "'", `'\''`) + "'"
}
