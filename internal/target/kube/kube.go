package kube

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"strings"
	"time"

	"golang.org/x/sync/singleflight"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/rest"
	"k8s.io/client-go/tools/clientcmd"

	"slipway.dev/slipway/internal/slipway"
	"slipway.dev/slipway/internal/target"
)

// The labels and annotations the driver puts on what it makes.
const (
	FieldManager = "slipway"

	LabelManagedBy  = "app.kubernetes.io/managed-by"
	LabelTool       = "slipway.dev/tool"
	LabelComponent  = "slipway.dev/component"
	LabelType       = "slipway.dev/type"
	LabelRun        = "slipway.dev/run"
	AnnotSpecHash   = "slipway.dev/spec-hash"
	AnnotBuildKey   = "slipway.dev/build-key"
	AnnotRestart    = "slipway.dev/restart-token"
	AnnotRunID      = "slipway.dev/run-id"
	managedBy       = "slipway"
	envSecret       = "slipway-env" //nolint:gosec // G101: the Secret's name, not a credential
	containerName   = "main"
	maxK8sNameLen   = 63
	defaultStartup  = 5 * time.Minute
	defaultStopWait = 30 * time.Second
)

// Config configures a Driver.
type Config struct {
	// Client talks to the cluster (see [RESTConfig]).
	Client kubernetes.Interface
	// Namespace names an instance's namespace; default "tool-<instance>"
	// (shortened with a hash past 63 characters).
	Namespace func(instance string) string
	// IngressHost gives the host at which an instance's published
	// component is served; nil means published components get no Ingress.
	IngressHost func(instance string) string
	// IngressClass is the Ingress's ingressClassName; empty leaves it to
	// the cluster's default class.
	IngressClass string
	// URLScheme is the scheme of published URLs; default "https".
	URLScheme string
	// IngressNamespace is the namespace of the ingress controller, from
	// whose pods a tool namespace's NetworkPolicy admits traffic; empty
	// admits none from outside the namespace.
	IngressNamespace string
	// Quota bounds each tool namespace (a ResourceQuota and a
	// LimitRange); the zero value bounds nothing.
	Quota Quota
	// ServiceAccountToken mounts the token of the tool's ServiceAccount in
	// its pods, a credential that reads its own namespace only (see
	// tenancy.go); false (the default) mounts none.
	ServiceAccountToken bool
	// RunAsUser is the user (and group) ID every container runs as; 0
	// runs the image's user, which must be a numeric non-root one: the
	// namespaces enforce the restricted Pod Security Standard.
	RunAsUser int64
	// StartupTimeout is how long a rollout may take before the Deployment
	// controller reports it failed (progressDeadlineSeconds), and the
	// startup probe's budget; default 5 minutes.
	StartupTimeout time.Duration
	// StopGracePeriod is a container's time between SIGTERM and SIGKILL
	// when a component sets none; default 30 s.
	StopGracePeriod time.Duration
	// AskEnv returns the environment with which a scheduled run may ask
	// questions; a CronJob's runs have no ID before they start, so the
	// Kubernetes driver does not give them one: nil is the only value
	// supported now, and scheduled runs cannot ask (see ARCHITECTURE.md).
	Logger *slog.Logger
}

// The client's rate limit when the config sets none: client-go's own
// default (5 requests/s, bursts of 10) would make a deployment of a few
// hundred components wait minutes on the client; these are kubectl's
// order of magnitude.
const (
	defaultQPS   = 50
	defaultBurst = 100
)

// RESTConfig returns the client configuration of a kubeconfig file, or
// the in-cluster one when path is "", with a client rate limit of 50
// requests/s (bursts of 100).
func RESTConfig(path string) (*rest.Config, error) {
	var cfg *rest.Config
	var err error
	if path == "" {
		if cfg, err = rest.InClusterConfig(); err != nil {
			return nil, fmt.Errorf("in-cluster config (give a kubeconfig outside a cluster): %w", err)
		}
	} else if cfg, err = clientcmd.BuildConfigFromFlags("", path); err != nil {
		return nil, fmt.Errorf("kubeconfig %s: %w", path, err)
	}
	if cfg.QPS == 0 {
		cfg.QPS, cfg.Burst = defaultQPS, defaultBurst
	}
	return cfg, nil
}

// Driver runs components on Kubernetes. Its methods are safe for
// concurrent use; it keeps no state of its own beyond the cluster's.
type Driver struct {
	cfg    Config
	cs     kubernetes.Interface
	logger *slog.Logger
	ctx    context.Context // from New to Stop: ends watches
	cancel context.CancelFunc
	// prep shares one prepareNamespace among the concurrent Applies and
	// runs of a tool (a deployment's components) that need the same
	// namespace and Secret.
	prep singleflight.Group
}

// Interface guards: the workloads are reached through Ingress, so the
// driver is no [edge.Backends].
var (
	_ target.Driver    = (*Driver)(nil)
	_ target.Lifecycle = (*Driver)(nil)
)

// New makes a Driver.
func New(cfg Config) (*Driver, error) {
	if cfg.Client == nil {
		return nil, errors.New("kube: no client")
	}
	if cfg.Namespace == nil {
		cfg.Namespace = func(instance string) string { return "tool-" + instance }
	}
	if cfg.URLScheme == "" {
		cfg.URLScheme = "https"
	}
	if cfg.StartupTimeout <= 0 {
		cfg.StartupTimeout = defaultStartup
	}
	if cfg.StopGracePeriod <= 0 {
		cfg.StopGracePeriod = defaultStopWait
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.New(slog.DiscardHandler)
	}
	ctx, cancel := context.WithCancel(context.Background())
	return &Driver{cfg: cfg, cs: cfg.Client, logger: cfg.Logger, ctx: ctx, cancel: cancel}, nil
}

// Start checks that the cluster answers.
func (d *Driver) Start(ctx context.Context) error {
	if _, err := d.cs.Discovery().ServerVersion(); err != nil {
		return fmt.Errorf("kube: reach the cluster: %w", err)
	}
	return nil
}

// Ping asks the API server's version: nil when the cluster answers the
// driver's credentials (the server's health check).
func (d *Driver) Ping(ctx context.Context) error {
	if err := d.cs.Discovery().RESTClient().Get().AbsPath("/version").Do(ctx).Error(); err != nil {
		return fmt.Errorf("kube: reach the cluster: %w", err)
	}
	return nil
}

// Stop ends the driver's watches and leaves every workload running: they
// live in the cluster, not in this server.
func (d *Driver) Stop(context.Context) error {
	d.cancel()
	return nil
}

// Restore applies each spec (restarting nothing that runs it already) and
// removes, from the namespaces of the specs' instances, the components
// labelled as Slipway's that no spec names any more.
func (d *Driver) Restore(ctx context.Context, specs []target.Spec) error {
	keep := map[string]map[string]bool{}
	var errs []error
	for _, spec := range specs {
		if keep[spec.Tool] == nil {
			keep[spec.Tool] = map[string]bool{}
		}
		keep[spec.Tool][spec.Component.Name] = true
		if spec.Component.Type == slipway.OneOff {
			continue
		}
		if _, err := d.Apply(ctx, spec); err != nil {
			errs = append(errs, fmt.Errorf("restore %s/%s: %w", spec.Tool, spec.Component.Name, err))
		}
	}
	for tool, names := range keep {
		list, err := d.List(ctx, tool)
		if err != nil {
			errs = append(errs, fmt.Errorf("restore %s: %w", tool, err))
			continue
		}
		for _, st := range list {
			if names[st.Component] || st.Type == slipway.OneOff {
				continue
			}
			d.logger.InfoContext(ctx, "pruning a component the store no longer has", "tool", tool, "component", st.Component)
			if err := d.Remove(ctx, tool, st.Component); err != nil {
				errs = append(errs, fmt.Errorf("prune %s/%s: %w", tool, st.Component, err))
			}
		}
	}
	return errors.Join(errs...)
}

// namespace returns the namespace of an instance.
func (d *Driver) namespace(instance string) string {
	return shorten(d.cfg.Namespace(instance), maxK8sNameLen)
}

// labels returns the labels of a component's objects.
func labels(tool, component string) map[string]string {
	return map[string]string{LabelManagedBy: managedBy, LabelTool: tool, LabelComponent: component}
}

// selector returns the label selector of a component's objects, or of all
// a tool's when component is "".
func selector(tool, component string) string {
	s := LabelManagedBy + "=" + managedBy + "," + LabelTool + "=" + tool
	if component != "" {
		s += "," + LabelComponent + "=" + component
	}
	return s
}

// shorten keeps s when it fits in n characters, else cuts it and ends it
// with a hash of the whole, so distinct long names stay distinct.
func shorten(s string, n int) string {
	if len(s) <= n {
		return s
	}
	sum := sha256.Sum256([]byte(s))
	h := hex.EncodeToString(sum[:5])
	return strings.TrimRight(s[:n-len(h)-1], "-") + "-" + h
}

// runName is the Job of a one-off run: the component and a hash of the
// run ID (which may hold any characters).
func runName(component, runID string) string {
	sum := sha256.Sum256([]byte(runID))
	return shorten(component, maxK8sNameLen-11) + "-" + hex.EncodeToString(sum[:5])
}

// ignoreNotFound returns nil for a NotFound error.
func ignoreNotFound(err error) error {
	if apierrors.IsNotFound(err) {
		return nil
	}
	return err
}

// Transient reports whether err from the cluster is worth retrying: a
// conflict, throttling, a timeout or a server error.
func Transient(err error) bool {
	var se apierrors.APIStatus
	if !errors.As(err, &se) {
		return false
	}
	switch code := int(se.Status().Code); {
	case code == http.StatusConflict, code == http.StatusTooManyRequests, code >= 500:
		return true
	}
	return apierrors.IsServerTimeout(err) || apierrors.IsTimeout(err)
}

// propagation deletes what an object owns before it is gone.
var propagation = func() *metav1.DeletionPropagation {
	p := metav1.DeletePropagationBackground
	return &p
}()
