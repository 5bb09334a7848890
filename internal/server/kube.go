package server

import (
	"fmt"

	"k8s.io/client-go/kubernetes"

	"slipway.dev/slipway/internal/target/kube"
)

// openKube makes the Kubernetes target driver from the server's config.
func (s *Server) openKube() (runtimeTarget, error) {
	kc := s.cfg.Kube
	rc, err := kube.RESTConfig(kc.Kubeconfig)
	if err != nil {
		return nil, fmt.Errorf("server: kubernetes target: %w", err)
	}
	rc.UserAgent = "slipway"
	if kc.WrapTransport != nil {
		rc.Wrap(kc.WrapTransport)
	}
	cs, err := kubernetes.NewForConfig(rc)
	if err != nil {
		return nil, fmt.Errorf("server: kubernetes target: %w", err)
	}
	nsTpl := kc.NamespaceTemplate
	if nsTpl == "" {
		nsTpl = "tool-{tool}"
	}
	cfg := kube.Config{
		Client:          cs,
		Namespace:       func(instance string) string { return ExpandTemplate(nsTpl, instance) },
		IngressClass:    kc.IngressClass,
		StartupTimeout:  s.cfg.HealthTimeout,
		StopGracePeriod: s.cfg.StopTimeout,
		Logger:          s.logger,
	}
	if kc.IngressHostTemplate != "" {
		cfg.IngressHost = func(instance string) string { return ExpandTemplate(kc.IngressHostTemplate, instance) }
	}
	d, err := kube.New(cfg)
	if err != nil {
		return nil, fmt.Errorf("server: kubernetes target: %w", err)
	}
	return d, nil
}
