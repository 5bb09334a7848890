package kubetest

import (
	"bytes"
	"context"
	"crypto/tls"
	"crypto/x509"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strings"
)

// HTTPClient returns a client for the apiserver: it trusts the cluster's
// CA and sends the administrator's bearer token with every request. It
// has no timeout, for watches: bound requests with their context.
func (c *Cluster) HTTPClient() *http.Client { return c.client }

// TLSConfig returns a TLS configuration that trusts the cluster's CA, for
// a client of one's own.
func (c *Cluster) TLSConfig() *tls.Config { return tlsConfig(c.CAData) }

func tlsConfig(caPEM []byte) *tls.Config {
	pool := x509.NewCertPool()
	pool.AppendCertsFromPEM(caPEM)
	return &tls.Config{RootCAs: pool, MinVersion: tls.VersionTLS12}
}

func newHTTPClient(caPEM []byte, token string) *http.Client {
	tr := http.DefaultTransport.(*http.Transport).Clone()
	tr.TLSClientConfig = tlsConfig(caPEM)
	return &http.Client{Transport: bearer{token: token, next: tr}}
}

// bearer adds an Authorization header to each request.
type bearer struct {
	token string
	next  http.RoundTripper
}

func (b bearer) RoundTrip(r *http.Request) (*http.Response, error) {
	r = r.Clone(r.Context())
	r.Header.Set("Authorization", "Bearer "+b.token)
	return b.next.RoundTrip(r)
}

// StatusError is an apiserver's answer other than 2xx: its HTTP code and
// the reason and message of its Status body.
type StatusError struct {
	Code    int
	Reason  string // metav1.StatusReason: NotFound, AlreadyExists, Conflict, Forbidden…
	Message string
}

func (e *StatusError) Error() string {
	return fmt.Sprintf("%d %s: %s", e.Code, e.Reason, e.Message)
}

// IsNotFound tells whether err is an apiserver's 404.
func IsNotFound(err error) bool {
	var se *StatusError
	return errors.As(err, &se) && se.Code == http.StatusNotFound
}

// Do sends a request to the apiserver: method to path (such as
// /apis/apps/v1/namespaces/NS/deployments, with a query when needed), in
// as its JSON body when not nil (a merge patch for PATCH), and decodes a
// 2xx answer's JSON into out when not nil. Another answer is a
// [*StatusError].
func (c *Cluster) Do(ctx context.Context, method, path string, in, out any) error {
	var body io.Reader
	if in != nil {
		b, err := json.Marshal(in)
		if err != nil {
			return fmt.Errorf("%s %s: %w", method, path, err)
		}
		body = bytes.NewReader(b)
	}
	req, err := http.NewRequestWithContext(ctx, method, c.Host+path, body)
	if err != nil {
		return fmt.Errorf("%s %s: %w", method, path, err)
	}
	req.Header.Set("Accept", "application/json")
	if in != nil {
		ct := "application/json"
		if method == http.MethodPatch {
			ct = "application/merge-patch+json"
		}
		req.Header.Set("Content-Type", ct)
	}
	resp, err := c.client.Do(req)
	if err != nil {
		return fmt.Errorf("%s %s: %w", method, path, err)
	}
	defer func() { _ = resp.Body.Close() }()
	if err := statusErr(resp); err != nil {
		return fmt.Errorf("%s %s: %w", method, path, err)
	}
	if out == nil {
		_, _ = io.Copy(io.Discard, resp.Body)
		return nil
	}
	if err := json.NewDecoder(resp.Body).Decode(out); err != nil {
		return fmt.Errorf("%s %s: decode: %w", method, path, err)
	}
	return nil
}

// Event is one event of a watch: ADDED, MODIFIED, DELETED or BOOKMARK,
// and the object.
type Event struct {
	Type   string          `json:"type"`
	Object json.RawMessage `json:"object"`
}

// Watch watches path, a collection (such as
// /apis/batch/v1/namespaces/NS/jobs, with a fieldSelector or
// labelSelector when wanted), and calls fn with each event until fn
// returns true or an error, or ctx ends. It starts from no resource
// version, so the objects that exist come first as ADDED events: a
// condition already true is seen at once, and none is missed between a
// read and the watch. A watch the apiserver closes is opened again, the
// same way.
func (c *Cluster) Watch(ctx context.Context, path string, fn func(Event) (done bool, err error)) error {
	sep := "?"
	if strings.Contains(path, "?") {
		sep = "&"
	}
	u := c.Host + path + sep + "watch=1"
	for {
		done, err := c.watchOnce(ctx, u, fn)
		if done || err != nil {
			return err
		}
		if err := ctx.Err(); err != nil {
			return fmt.Errorf("watch %s: %w", path, err)
		}
	}
}

// watchOnce reads one watch stream; done tells that fn was satisfied.
func (c *Cluster) watchOnce(ctx context.Context, u string, fn func(Event) (bool, error)) (done bool, err error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, u, nil)
	if err != nil {
		return false, err
	}
	req.Header.Set("Accept", "application/json")
	resp, err := c.client.Do(req)
	if err != nil {
		return false, fmt.Errorf("watch: %w", err)
	}
	defer func() { _ = resp.Body.Close() }()
	if err := statusErr(resp); err != nil {
		return false, fmt.Errorf("watch: %w", err)
	}
	dec := json.NewDecoder(resp.Body)
	for {
		var ev Event
		if err := dec.Decode(&ev); err != nil {
			if ctx.Err() != nil {
				return false, fmt.Errorf("watch: %w", ctx.Err())
			}
			return false, nil // the stream ended: watch again
		}
		if ev.Type == "ERROR" {
			var st status
			_ = json.Unmarshal(ev.Object, &st)
			if st.Code == http.StatusGone { // too old a version; from none, it is the current state again
				return false, nil
			}
			return false, fmt.Errorf("watch: %w", &StatusError{Code: st.Code, Reason: st.Reason, Message: st.Message})
		}
		done, err := fn(ev)
		if done || err != nil {
			return done, err
		}
	}
}

// status is the part of a metav1.Status that errors tell.
type status struct {
	Code    int    `json:"code"`
	Reason  string `json:"reason"`
	Message string `json:"message"`
}

// statusErr returns a [*StatusError] for an answer other than 2xx.
func statusErr(resp *http.Response) error {
	if resp.StatusCode/100 == 2 {
		return nil
	}
	b, _ := io.ReadAll(io.LimitReader(resp.Body, 64<<10))
	var st status
	if json.Unmarshal(b, &st) != nil || st.Message == "" {
		st.Message = strings.TrimSpace(string(b))
	}
	return &StatusError{Code: resp.StatusCode, Reason: st.Reason, Message: st.Message}
}

// get GETs u and fails on an answer other than 2xx.
func get(ctx context.Context, client *http.Client, u string) error {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, u, nil)
	if err != nil {
		return err
	}
	resp, err := client.Do(req)
	if err != nil {
		return err
	}
	defer func() { _ = resp.Body.Close() }()
	return statusErr(resp)
}
