package apiclient

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strings"
	"time"

	"slipway.dev/slipway/internal/apiclient/oapiclient"
	"slipway.dev/slipway/internal/slipway"
)

// DefaultTimeout bounds each request except the event stream.
const DefaultTimeout = 60 * time.Second

// Client talks to one Slipway server. It is safe for concurrent use.
type Client struct {
	baseURL    string
	token      string
	userAgent  string
	timeout    time.Duration
	httpClient *http.Client
	trace      io.Writer
	raw        *oapiclient.Client
	// retryDelay is the first delay before reconnecting an event stream; it
	// doubles up to 5 s. Tests shorten it.
	retryDelay time.Duration
}

// Option configures a [Client].
type Option func(*Client)

// WithHTTPClient makes the client send its requests with hc (default: a
// client without an overall timeout; see [WithTimeout]).
func WithHTTPClient(hc *http.Client) Option { return func(c *Client) { c.httpClient = hc } }

// WithTimeout bounds each request except the event stream (default
// [DefaultTimeout]; 0 or less means no bound).
func WithTimeout(d time.Duration) Option { return func(c *Client) { c.timeout = d } }

// WithUserAgent sets the User-Agent header (default "slipway-cli").
func WithUserAgent(ua string) Option { return func(c *Client) { c.userAgent = ua } }

// WithTrace writes one line per request and response to w: method, path,
// status, duration and request id. Never the token or the query string.
func WithTrace(w io.Writer) Option { return func(c *Client) { c.trace = w } }

// New returns a client of the server at baseURL (e.g.
// "http://127.0.0.1:8080"; a trailing "/components" is accepted too) that
// authenticates with token, when not empty.
func New(baseURL, token string, opts ...Option) (*Client, error) {
	u, err := url.Parse(strings.TrimSpace(baseURL))
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		return nil, fmt.Errorf("invalid server URL %q: want http(s)://host[:port]", baseURL)
	}
	u.Path = strings.TrimSuffix(strings.TrimSuffix(u.Path, "/"), "/components")
	u.RawQuery, u.Fragment = "", ""
	c := &Client{
		baseURL:    u.String(),
		token:      token,
		userAgent:  "slipway-cli",
		timeout:    DefaultTimeout,
		httpClient: &http.Client{},
		retryDelay: 250 * time.Millisecond,
	}
	for _, o := range opts {
		o(c)
	}
	doer := &tracingDoer{c: c}
	editor := oapiclient.WithRequestEditorFn(func(_ context.Context, req *http.Request) error {
		if c.token != "" {
			req.Header.Set("Authorization", "Bearer "+c.token)
		}
		req.Header.Set("User-Agent", c.userAgent)
		req.Header.Set("Accept", "application/json")
		return nil
	})
	if c.raw, err = oapiclient.NewClient(c.baseURL, oapiclient.WithHTTPClient(doer), editor); err != nil {
		return nil, fmt.Errorf("new client: %w", err)
	}
	return c, nil
}

// BaseURL returns the server's URL as the client uses it.
func (c *Client) BaseURL() string { return c.baseURL }

// tracingDoer sends requests with the client's http.Client and traces them.
type tracingDoer struct{ c *Client }

func (d *tracingDoer) Do(req *http.Request) (*http.Response, error) {
	start := time.Now()
	if d.c.trace != nil {
		fmt.Fprintf(d.c.trace, "> %s %s\n", req.Method, req.URL.Path)
	}
	resp, err := d.c.httpClient.Do(req) //nolint:gosec // G704: the URL is the server the operator configured (--url, SLIPWAY_URL or the local server's address)
	if d.c.trace != nil {
		if err != nil {
			fmt.Fprintf(d.c.trace, "< error after %s: %v\n", time.Since(start).Round(time.Millisecond), err)
		} else {
			fmt.Fprintf(d.c.trace, "< %s (%s, request id %s)\n", resp.Status, time.Since(start).Round(time.Millisecond), resp.Header.Get("X-Request-Id"))
		}
	}
	return resp, err
}

// Messages are the envelope's messages for people.
type Messages struct {
	Info    []string `json:"info"`
	Warning []string `json:"warning"`
	Error   []string `json:"error"`
}

// Envelope is a successful response.
type Envelope struct {
	// Data is the envelope's data, as raw JSON.
	Data json.RawMessage
	// Messages are the envelope's messages.
	Messages Messages
	// Raw is the whole response body as received.
	Raw []byte
	// Status is the HTTP status code.
	Status int
	// RequestID is the server's X-Request-Id for the request.
	RequestID string
}

// ErrUnreachable matches (errors.Is) every error about the server not being
// reachable at all.
var ErrUnreachable = errors.New("server unreachable")

// UnreachableError is a failure to reach the server: no connection, or the
// connection failed before a response arrived.
type UnreachableError struct {
	URL string
	Err error
}

// Error implements the error interface.
func (e *UnreachableError) Error() string { return fmt.Sprintf("reach %s: %v", e.URL, e.Err) }

// Unwrap returns the cause.
func (e *UnreachableError) Unwrap() error { return e.Err }

// Is reports whether target is [ErrUnreachable].
func (e *UnreachableError) Is(target error) bool { return target == ErrUnreachable }

// ServerError is a 5xx response: a server-side problem.
type ServerError struct {
	Status int
	// Message is the server's messages.error[0], or the status text.
	Message string
	// RequestID is the server's X-Request-Id, to find the server's log line.
	RequestID string
}

// Error implements the error interface.
func (e *ServerError) Error() string {
	return fmt.Sprintf("server error %d: %s", e.Status, e.Message)
}

// StatusError is the cause attached to the [*slipway.Error] of a 4xx
// response.
type StatusError struct {
	Status    int
	RequestID string
}

// Error implements the error interface.
func (e *StatusError) Error() string {
	return fmt.Sprintf("HTTP %d %s", e.Status, http.StatusText(e.Status))
}

// codeForStatus maps a 4xx status to a slipway error code.
func codeForStatus(status int) string {
	switch status {
	case http.StatusNotFound:
		return slipway.ENotFound
	case http.StatusConflict:
		return slipway.EConflict
	case http.StatusUnauthorized:
		return slipway.EUnauthorized
	case http.StatusForbidden:
		return slipway.EForbidden
	case http.StatusTooManyRequests:
		return slipway.EUnavailable
	}
	return slipway.EInvalid
}

// ctx bounds a non-streaming request with the client's timeout.
func (c *Client) ctx(ctx context.Context) (context.Context, context.CancelFunc) {
	if c.timeout > 0 {
		return context.WithTimeout(ctx, c.timeout)
	}
	return context.WithCancel(ctx)
}

// send makes one call of the generated client within the request timeout
// and decodes the answer (see envelope); an error without a response is a
// transport error.
func (c *Client) send(ctx context.Context, call func(context.Context) (*http.Response, error)) (Envelope, error) {
	return c.sendWithin(ctx, c.timeout, call)
}

// sendWithin is send with its own bound (0 or less: none).
func (c *Client) sendWithin(ctx context.Context, timeout time.Duration, call func(context.Context) (*http.Response, error)) (Envelope, error) {
	var cancel context.CancelFunc
	if timeout > 0 {
		ctx, cancel = context.WithTimeout(ctx, timeout)
	} else {
		ctx, cancel = context.WithCancel(ctx)
	}
	defer cancel()
	resp, err := call(ctx)
	if err != nil {
		return Envelope{}, c.transportError(ctx, err)
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	if err != nil {
		return Envelope{}, c.transportError(ctx, err)
	}
	return c.envelope(resp, body)
}

// transportError classifies an error of sending a request.
func (c *Client) transportError(ctx context.Context, err error) error {
	if ctx.Err() != nil {
		return fmt.Errorf("request to %s: %w", c.baseURL, ctx.Err())
	}
	if ue, ok := errors.AsType[*url.Error](err); ok {
		return &UnreachableError{URL: c.baseURL, Err: ue.Err}
	}
	return fmt.Errorf("read response from %s: %w", c.baseURL, err)
}

// envelope decodes a response body, mapping error statuses to errors.
func (c *Client) envelope(resp *http.Response, body []byte) (Envelope, error) {
	env := Envelope{Raw: body, Status: resp.StatusCode, RequestID: resp.Header.Get("X-Request-Id")}
	var decoded struct {
		Data     json.RawMessage `json:"data"`
		Messages Messages        `json:"messages"`
	}
	decodeErr := json.Unmarshal(body, &decoded)
	if decodeErr == nil {
		env.Data, env.Messages = decoded.Data, decoded.Messages
	}
	msg := http.StatusText(resp.StatusCode)
	if len(env.Messages.Error) > 0 {
		msg = env.Messages.Error[0]
	}
	switch {
	case resp.StatusCode >= 500:
		return env, &ServerError{Status: resp.StatusCode, Message: msg, RequestID: env.RequestID}
	case resp.StatusCode >= 400:
		return env, &slipway.Error{
			Code:    codeForStatus(resp.StatusCode),
			Message: msg,
			Err:     &StatusError{Status: resp.StatusCode, RequestID: env.RequestID},
		}
	case decodeErr != nil:
		return env, &ServerError{Status: resp.StatusCode, Message: "The response is not a JSON envelope: " + decodeErr.Error(), RequestID: env.RequestID}
	}
	return env, nil
}

// ConfigCreate sets the tool's config; body is the config as JSON.
func (c *Client) ConfigCreate(ctx context.Context, tool string, body []byte) (Envelope, error) {
	return c.send(ctx, func(ctx context.Context) (*http.Response, error) {
		return c.raw.CreateToolConfigWithBody(ctx, tool, "application/json", bytes.NewReader(body))
	})
}

// ConfigCreateFile sets the tool's config from a config file as written,
// YAML or JSON (JSON is YAML), so that the problems the server finds carry
// the file's own lines and columns.
func (c *Client) ConfigCreateFile(ctx context.Context, tool string, file []byte) (Envelope, error) {
	return c.send(ctx, func(ctx context.Context) (*http.Response, error) {
		return c.raw.CreateToolConfigWithBody(ctx, tool, "application/yaml", bytes.NewReader(file))
	})
}

// ConfigGet returns the tool's config.
func (c *Client) ConfigGet(ctx context.Context, tool string) (Envelope, error) {
	return c.send(ctx, func(ctx context.Context) (*http.Response, error) { return c.raw.GetToolConfig(ctx, tool) })
}

// ConfigGenerate returns a config generated from what is live for the tool
// (nothing is stored); the warnings say it is an example, and whether it is
// Toolforge's sample because nothing is live.
func (c *Client) ConfigGenerate(ctx context.Context, tool string) (Envelope, error) {
	return c.send(ctx, func(ctx context.Context) (*http.Response, error) { return c.raw.GenerateToolConfig(ctx, tool) })
}

// ConfigDelete deletes the tool's config; the data is the deleted config.
func (c *Client) ConfigDelete(ctx context.Context, tool string) (Envelope, error) {
	return c.send(ctx, func(ctx context.Context) (*http.Response, error) { return c.raw.DeleteToolConfig(ctx, tool) })
}

// DeploymentCreate deploys the tool's config; the data is the new deployment.
func (c *Client) DeploymentCreate(ctx context.Context, tool string, forceBuild, forceRun bool, description string) (Envelope, error) {
	return c.deploymentCreate(ctx, tool, "", false, forceBuild, forceRun, description, nil)
}

// DeploymentCreateIn is [Client.DeploymentCreate] to environment env ("":
// the tool's entry environment).
func (c *Client) DeploymentCreateIn(ctx context.Context, tool, env string, forceBuild, forceRun bool, description string) (Envelope, error) {
	return c.deploymentCreate(ctx, tool, env, false, forceBuild, forceRun, description, nil)
}

// DeploymentPlanIn is [Client.DeploymentPlan] of environment env.
func (c *Client) DeploymentPlanIn(ctx context.Context, tool, env string, forceBuild, forceRun bool, description string) (Envelope, error) {
	return c.deploymentCreate(ctx, tool, env, true, forceBuild, forceRun, description, nil)
}

// DeploymentPlan asks what deploying the tool's stored config would do
// (POST with dry_run=true); the data is the plan: a deployment that is not
// stored, with an empty deploy_id and a reason for each step. Nothing on
// the server changes.
func (c *Client) DeploymentPlan(ctx context.Context, tool string, forceBuild, forceRun bool, description string) (Envelope, error) {
	return c.deploymentCreate(ctx, tool, "", true, forceBuild, forceRun, description, nil)
}

// DeploymentPlanConfig is [Client.DeploymentPlan] for config (a tool config
// as JSON) instead of the stored config, which it does not change.
func (c *Client) DeploymentPlanConfig(ctx context.Context, tool string, config []byte, forceBuild, forceRun bool, description string) (Envelope, error) {
	return c.DeploymentPlanConfigIn(ctx, tool, "", config, forceBuild, forceRun, description)
}

// DeploymentPlanConfigIn is [Client.DeploymentPlanConfig] of environment
// env ("": the config's first).
func (c *Client) DeploymentPlanConfigIn(ctx context.Context, tool, env string, config []byte, forceBuild, forceRun bool, description string) (Envelope, error) {
	if len(bytes.TrimSpace(config)) == 0 {
		return Envelope{}, errors.New("plan a config: the config is empty")
	}
	return c.deploymentCreate(ctx, tool, env, true, forceBuild, forceRun, description, config)
}

// deploymentCreate sends POST …/deployment; config, when not nil, is sent
// as the body's tool_config.
func (c *Client) deploymentCreate(ctx context.Context, tool, env string, dryRun, forceBuild, forceRun bool, description string, config []byte) (Envelope, error) {
	ctx, cancel := c.ctx(ctx)
	defer cancel()
	params := &oapiclient.CreateDeploymentParams{}
	if env != "" {
		params.Environment = &env
	}
	yes := "true"
	if forceBuild {
		params.ForceBuild = &yes
	}
	if forceRun {
		params.ForceRun = &yes
	}
	if dryRun {
		params.DryRun = &yes
	}
	var req oapiclient.DeploymentCreateRequest
	if description != "" {
		req.Description = &description
	}
	if config != nil {
		raw := json.RawMessage(config)
		req.ToolConfig = &raw
	}
	var body io.Reader
	if req.Description != nil || req.ToolConfig != nil {
		b, err := json.Marshal(req)
		if err != nil {
			return Envelope{}, fmt.Errorf("encode request: %w", err)
		}
		body = bytes.NewReader(b)
	}
	return c.send(ctx, func(ctx context.Context) (*http.Response, error) {
		return c.raw.CreateDeploymentWithBody(ctx, tool, params, "application/json", body)
	})
}

// DeploymentList returns the tool's deployments, oldest first.
func (c *Client) DeploymentList(ctx context.Context, tool string) (Envelope, error) {
	return c.send(ctx, func(ctx context.Context) (*http.Response, error) { return c.raw.ListDeployments(ctx, tool) })
}

// DeploymentGet returns one deployment; id may be "latest".
func (c *Client) DeploymentGet(ctx context.Context, tool, id string) (Envelope, error) {
	if id == "" || id == slipway.DeploymentIDLatest {
		return c.send(ctx, func(ctx context.Context) (*http.Response, error) { return c.raw.GetLatestDeployment(ctx, tool) })
	}
	return c.send(ctx, func(ctx context.Context) (*http.Response, error) { return c.raw.GetDeployment(ctx, tool, id) })
}

// DeploymentCancel cancels a pending or running deployment (id may be
// "latest"; "" means latest); the data is the deployment, cancelling or
// already cancelled. A deployment that is already final is an EConflict
// error, a missing one ENotFound.
func (c *Client) DeploymentCancel(ctx context.Context, tool, id string) (Envelope, error) {
	if id == "" || id == slipway.DeploymentIDLatest {
		return c.send(ctx, func(ctx context.Context) (*http.Response, error) { return c.raw.CancelLatestDeployment(ctx, tool) })
	}
	return c.send(ctx, func(ctx context.Context) (*http.Response, error) { return c.raw.CancelDeployment(ctx, tool, id) })
}

// DeploymentRollback deploys again the config and builds of an earlier
// successful deployment: to, or "" for the one before the latest
// successful one; or, with release above 0, the live state right after
// that release. The data is the new deployment.
func (c *Client) DeploymentRollback(ctx context.Context, tool, to string, release int64, description string) (Envelope, error) {
	return c.DeploymentRollbackIn(ctx, tool, "", to, release, description)
}

// DeploymentRollbackIn is [Client.DeploymentRollback] in environment env
// (used when neither to nor release is given; "": production).
func (c *Client) DeploymentRollbackIn(ctx context.Context, tool, env, to string, release int64, description string) (Envelope, error) {
	var req oapiclient.DeploymentRollbackRequest
	if env != "" {
		req.Environment = &env
	}
	if to != "" {
		req.DeployId = &to
	}
	if release != 0 {
		req.Release = &release
	}
	if description != "" {
		req.Description = &description
	}
	return c.send(ctx, func(ctx context.Context) (*http.Response, error) { return c.raw.RollbackDeployment(ctx, tool, req) })
}

// DeploymentDelete deletes a deployment's record (id must be an ID, not
// "latest").
func (c *Client) DeploymentDelete(ctx context.Context, tool, id string) (Envelope, error) {
	return c.send(ctx, func(ctx context.Context) (*http.Response, error) { return c.raw.DeleteDeployment(ctx, tool, id) })
}

// Health is the server's health.
type Health struct {
	// Status is "OK", "DEGRADED" (200: the server works but refuses some
	// work, such as builds under the free-space floor) or "ERROR".
	Status string `json:"status"`
	// Checks maps each check's name to "ok" or its error.
	Checks map[string]string `json:"checks"`
}

// Health returns the server's health. A server that answers with its checks
// is not an error, even when a check failed (503, Status "ERROR").
func (c *Client) Health(ctx context.Context) (Health, error) {
	env, envErr := c.send(ctx, func(ctx context.Context) (*http.Response, error) { return c.raw.GetHealth(ctx) })
	if env.Status == 0 {
		return Health{}, envErr // not answered
	}
	var h Health
	if len(env.Data) > 0 && json.Unmarshal(env.Data, &h) == nil && h.Status != "" {
		return h, nil
	}
	if envErr != nil {
		return Health{}, envErr
	}
	return Health{}, &ServerError{Status: env.Status, Message: "The health response has no status.", RequestID: env.RequestID}
}
