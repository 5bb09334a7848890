package server

import (
	"context"
	"fmt"

	"k8s.io/apimachinery/pkg/api/resource"
	"k8s.io/client-go/kubernetes"

	"slipway.dev/slipway/internal/build/kubebuild"
	"slipway.dev/slipway/internal/sandbox"
	"slipway.dev/slipway/internal/slipway"
	"slipway.dev/slipway/internal/target/kube"
)

// The Kubernetes client's rate limit: requests a second, and burst.
const (
	kubeQPS   = 100
	kubeBurst = 200
)

// kubeClient returns the server's Kubernetes client, made once: the target
// driver and the builder share it (and its rate limit).
func (s *Server) kubeClient() (kubernetes.Interface, error) {
	if s.kubeCS != nil {
		return s.kubeCS, nil
	}
	kc := s.cfg.Kube
	rc, err := kube.RESTConfig(kc.Kubeconfig)
	if err != nil {
		return nil, err
	}
	rc.UserAgent = "slipway"
	// client-go's default, 5 requests a second (burst 10), would bound
	// the whole server at about one deployment step in two seconds: a
	// step makes ten or so requests (namespace, Secret, workload,
	// Service, watches). The API server protects itself (priority and
	// fairness); this only keeps a runaway loop polite.
	rc.QPS, rc.Burst = kubeQPS, kubeBurst
	if kc.WrapTransport != nil {
		rc.Wrap(kc.WrapTransport)
	}
	cs, err := kubernetes.NewForConfig(rc)
	if err != nil {
		return nil, err
	}
	s.kubeCS = cs
	return cs, nil
}

// openKubeBuilder makes the Kubernetes builder from the server's config:
// builds in the build namespace, pushed to the registry, within the build
// timeout, each container limited as local builds are (build: the
// parsed --build-memory and --build-cpu).
func (s *Server) openKubeBuilder(build sandbox.Limits, creds func(ctx context.Context, tool, repository string) (slipway.Credential, error)) (*kubebuild.Builder, error) {
	kc := s.cfg.Kube
	cs, err := s.kubeClient()
	if err != nil {
		return nil, fmt.Errorf("server: kubernetes builder: %w", err)
	}
	cfg := kubebuild.Config{
		Client: cs, Registry: kc.Registry, RegistrySecret: kc.RegistrySecret, BuilderImage: kc.BuilderImage,
		Timeout: s.cfg.BuildTimeout, Credentials: creds, Logger: s.logger, NodeSelector: kc.BuildNodeSelector,
	}
	if t := kc.BuildNamespaceTemplate; t != "" {
		cfg.Namespace = func(tool string) string { return ExpandTemplate(t, tool) }
	}
	if build.MemoryBytes > 0 {
		cfg.Memory = *resource.NewQuantity(build.MemoryBytes, resource.BinarySI)
	}
	if build.MilliCPU > 0 {
		cfg.CPU = *resource.NewMilliQuantity(build.MilliCPU, resource.DecimalSI)
	}
	b, err := kubebuild.New(cfg)
	if err != nil {
		return nil, fmt.Errorf("server: kubernetes builder: %w", err)
	}
	s.logger.Info("source builds run in the cluster", "registry", kc.Registry, "builder", cfg.BuilderImage)
	return b, nil
}

// openKube makes the Kubernetes target driver from the server's config.
func (s *Server) openKube() (runtimeTarget, error) {
	kc := s.cfg.Kube
	cs, err := s.kubeClient()
	if err != nil {
		return nil, fmt.Errorf("server: kubernetes target: %w", err)
	}
	nsTpl := kc.NamespaceTemplate
	if nsTpl == "" {
		nsTpl = "tool-{tool}"
	}
	cfg := kube.Config{
		Client:           cs,
		Namespace:        func(instance string) string { return ExpandTemplate(nsTpl, instance) },
		IngressClass:     kc.IngressClass,
		IngressNamespace: kc.IngressNamespace,
		Quota:            kubeQuota(s.cfg.Limits),
		StartupTimeout:   s.cfg.HealthTimeout,
		StopGracePeriod:  s.cfg.StopTimeout,
		Logger:           s.logger,
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

// kubeQuota maps the server's per-tool limits onto a tool namespace's
// ResourceQuota and LimitRange. The server checks a deployment's
// continuous replicas against l.Quota; the namespace's quota bounds all
// its pods, runs too, as Toolforge's does, so it is the cluster's
// backstop: l.Quota's memory and cpu plus one replica at l.Max (the new
// pod a rolling update starts before it stops an old one), and as many
// pods as the tool may have at once (its replicas, one run of each
// scheduled component, its concurrent one-off runs, and that new pod). A
// container that sets no resources gets l.Default, as on localexec; l.Max
// bounds one.
func kubeQuota(l slipway.Limits) kube.Quota {
	cpu := func(m int64) resource.Quantity { return *resource.NewMilliQuantity(m, resource.DecimalSI) }
	mem := func(b int64) resource.Quantity { return *resource.NewQuantity(b, resource.BinarySI) }
	q := l.Quota
	return kube.Quota{
		CPU:           cpu(q.MilliCPU + l.Max.MilliCPU),
		Memory:        mem(q.MemoryBytes + l.Max.MemoryBytes),
		Pods:          q.Replicas + q.Scheduled + q.ConcurrentOneOffs + 1,
		DefaultCPU:    cpu(l.Default.MilliCPU),
		DefaultMemory: mem(l.Default.MemoryBytes),
		MaxCPU:        cpu(l.Max.MilliCPU),
		MaxMemory:     mem(l.Max.MemoryBytes),
	}
}
