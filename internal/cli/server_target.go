package cli

import (
	"cmp"
	"fmt"
	"strings"

	"github.com/spf13/cobra"

	"slipway.dev/slipway/internal/build/kubebuild"
	"slipway.dev/slipway/internal/server"
	"slipway.dev/slipway/internal/slipway"
)

// targetFlags choose where components run, and configure the Kubernetes
// target.
type targetFlags struct {
	target, kubeconfig, namespace, ingressHost, ingressClass, ingressNamespace string
	registry, registrySecret, buildNamespace, builderImage                     string
}

func (f *targetFlags) register(cmd *cobra.Command) {
	fl := cmd.Flags()
	fl.StringVar(&f.target, "target", "", "where components run: local (processes on this host, sandboxed) or kubernetes (default $SLIPWAY_TARGET or local)")
	fl.StringVar(&f.kubeconfig, "kubeconfig", "", "with --target kubernetes: the kubeconfig file; none means the in-cluster config (default $SLIPWAY_KUBECONFIG, else $KUBECONFIG)")
	fl.StringVar(&f.namespace, "kube-namespace", "", "with --target kubernetes: each tool's namespace, {tool} replaced by the tool (tool--env for an environment) (default $SLIPWAY_KUBE_NAMESPACE or tool-{tool})")
	fl.StringVar(&f.ingressHost, "kube-ingress-host", "", "with --target kubernetes: the host of a tool's published component, e.g. {tool}.apps.example.org; none makes no Ingress (default $SLIPWAY_KUBE_INGRESS_HOST)")
	fl.StringVar(&f.ingressClass, "kube-ingress-class", "", "with --target kubernetes: the Ingresses' class (default $SLIPWAY_KUBE_INGRESS_CLASS or the cluster's default)")
	fl.StringVar(&f.ingressNamespace, "kube-ingress-namespace", "", "with --target kubernetes: the ingress controller's namespace, whose pods each tool's NetworkPolicy admits (default $SLIPWAY_KUBE_INGRESS_NAMESPACE; none admits no other namespace)")
	fl.StringVar(&f.registry, "kube-registry", "", "with --target kubernetes: build sources in the cluster and push the images to this registry, host[:port][/path]; none keeps source builds on this server, where the Kubernetes target cannot run them (default $SLIPWAY_KUBE_REGISTRY)")
	fl.StringVar(&f.registrySecret, "kube-registry-secret", "", "with --kube-registry: the docker config Secret in the build namespace holding the registry's push credential (default $SLIPWAY_KUBE_REGISTRY_SECRET; none pushes without one)")
	fl.StringVar(&f.buildNamespace, "kube-build-namespace", "", "with --kube-registry: the namespace builds run in, {tool} replaced by the tool (default $SLIPWAY_KUBE_BUILD_NAMESPACE or "+kubebuild.DefaultNamespace+")")
	fl.StringVar(&f.builderImage, "kube-builder-image", "", "with --kube-registry: the Cloud Native Buildpacks builder image whose /cnb/lifecycle/creator builds (default $SLIPWAY_KUBE_BUILDER_IMAGE or "+kubebuild.DefaultBuilderImage+")")
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

		Registry:               cmp.Or(f.registry, e.getenv("SLIPWAY_KUBE_REGISTRY")),
		RegistrySecret:         cmp.Or(f.registrySecret, e.getenv("SLIPWAY_KUBE_REGISTRY_SECRET")),
		BuildNamespaceTemplate: cmp.Or(f.buildNamespace, e.getenv("SLIPWAY_KUBE_BUILD_NAMESPACE")),
		BuilderImage:           cmp.Or(f.builderImage, e.getenv("SLIPWAY_KUBE_BUILDER_IMAGE")),
	}
	switch cfg.Target {
	case server.TargetLocal:
		for flag, v := range map[string]string{
			"kube-namespace": f.namespace, "kube-ingress-host": f.ingressHost, "kube-ingress-class": f.ingressClass, "kube-ingress-namespace": f.ingressNamespace, "kubeconfig": f.kubeconfig,
			"kube-registry": f.registry, "kube-registry-secret": f.registrySecret, "kube-build-namespace": f.buildNamespace, "kube-builder-image": f.builderImage,
		} {
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
	if k.Registry == "" {
		for flag, v := range map[string]string{"kube-registry-secret": f.registrySecret, "kube-build-namespace": f.buildNamespace, "kube-builder-image": f.builderImage} {
			if v != "" {
				return &usageError{fmt.Errorf("--%s needs --kube-registry", flag)}
			}
		}
	}
	if t := k.BuildNamespaceTemplate; t != "" && !slipway.ValidName(server.ExpandTemplate(t, "tool")) {
		return &usageError{fmt.Errorf("--kube-build-namespace: %q does not make a valid namespace name (lowercase letters, digits and dashes)", t)}
	}
	cfg.Kube = k
	return nil
}
