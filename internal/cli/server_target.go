package cli

import (
	"cmp"
	"fmt"
	"strings"

	"github.com/spf13/cobra"

	"slipway.dev/slipway/internal/server"
	"slipway.dev/slipway/internal/slipway"
)

// targetFlags choose where components run, and configure the Kubernetes
// target.
type targetFlags struct {
	target, kubeconfig, namespace, ingressHost, ingressClass, ingressNamespace string
}

func (f *targetFlags) register(cmd *cobra.Command) {
	fl := cmd.Flags()
	fl.StringVar(&f.target, "target", "", "where components run: local (processes on this host, sandboxed) or kubernetes (default $SLIPWAY_TARGET or local)")
	fl.StringVar(&f.kubeconfig, "kubeconfig", "", "with --target kubernetes: the kubeconfig file; none means the in-cluster config (default $SLIPWAY_KUBECONFIG, else $KUBECONFIG)")
	fl.StringVar(&f.namespace, "kube-namespace", "", "with --target kubernetes: each tool's namespace, {tool} replaced by the tool (tool--env for an environment) (default $SLIPWAY_KUBE_NAMESPACE or tool-{tool})")
	fl.StringVar(&f.ingressHost, "kube-ingress-host", "", "with --target kubernetes: the host of a tool's published component, e.g. {tool}.apps.example.org; none makes no Ingress (default $SLIPWAY_KUBE_INGRESS_HOST)")
	fl.StringVar(&f.ingressClass, "kube-ingress-class", "", "with --target kubernetes: the Ingresses' class (default $SLIPWAY_KUBE_INGRESS_CLASS or the cluster's default)")
	fl.StringVar(&f.ingressNamespace, "kube-ingress-namespace", "", "with --target kubernetes: the ingress controller's namespace, whose pods each tool's NetworkPolicy admits (default $SLIPWAY_KUBE_INGRESS_NAMESPACE; none admits no other namespace)")
}

// apply adds the flags or the environment's values to cfg, checking that
// the templates make valid names.
func (f *targetFlags) apply(e *env, cfg *server.Config) error {
	cfg.Target = cmp.Or(f.target, e.getenv("SLIPWAY_TARGET"), server.TargetLocal)
	k := server.KubeTarget{
		Kubeconfig:          cmp.Or(f.kubeconfig, e.getenv("SLIPWAY_KUBECONFIG"), e.getenv("KUBECONFIG")),
		NamespaceTemplate:   cmp.Or(f.namespace, e.getenv("SLIPWAY_KUBE_NAMESPACE")),
		IngressHostTemplate: cmp.Or(f.ingressHost, e.getenv("SLIPWAY_KUBE_INGRESS_HOST")),
		IngressClass:        cmp.Or(f.ingressClass, e.getenv("SLIPWAY_KUBE_INGRESS_CLASS")),
		IngressNamespace:    cmp.Or(f.ingressNamespace, e.getenv("SLIPWAY_KUBE_INGRESS_NAMESPACE")),
	}
	switch cfg.Target {
	case server.TargetLocal:
		for flag, v := range map[string]string{"kube-namespace": f.namespace, "kube-ingress-host": f.ingressHost, "kube-ingress-class": f.ingressClass, "kube-ingress-namespace": f.ingressNamespace, "kubeconfig": f.kubeconfig} {
			if v != "" {
				return &usageError{fmt.Errorf("--%s needs --target kubernetes", flag)}
			}
		}
		return nil
	case server.TargetKubernetes:
	default:
		return &usageError{fmt.Errorf("--target: want local or kubernetes, got %q", cfg.Target)}
	}
	if t := k.NamespaceTemplate; t != "" {
		if !strings.Contains(t, "{tool}") {
			return &usageError{fmt.Errorf("--kube-namespace: %q has no {tool}: every tool would share one namespace", t)}
		}
		if !slipway.ValidName(server.ExpandTemplate(t, "tool--staging")) {
			return &usageError{fmt.Errorf("--kube-namespace: %q does not make a valid namespace name (lowercase letters, digits and dashes)", t)}
		}
	}
	if t := k.IngressHostTemplate; t != "" {
		if !strings.Contains(t, "{tool}") {
			return &usageError{fmt.Errorf("--kube-ingress-host: %q has no {tool}: every tool would be served at one host", t)}
		}
		for label := range strings.SplitSeq(server.ExpandTemplate(t, "tool--staging"), ".") {
			if label == "" || len(label) > 63 || strings.Trim(strings.ToLower(label), "abcdefghijklmnopqrstuvwxyz0123456789-") != "" {
				return &usageError{fmt.Errorf("--kube-ingress-host: %q does not make a valid host name", t)}
			}
		}
	}
	cfg.Kube = k
	return nil
}
