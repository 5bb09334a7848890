package cli

import (
	"errors"
	"reflect"
	"strings"
	"testing"

	"slipway.dev/slipway/internal/server"
)

// TestTargetFlags checks that the target defaults to local, that the
// Kubernetes settings come from the flags over the environment, and that
// a bad target or template is a usage error that says what is valid.
func TestTargetFlags(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name    string
		flags   targetFlags
		env     map[string]string
		want    server.Config
		wantErr string
	}{
		{name: "Default", want: server.Config{Target: server.TargetLocal}},
		{
			name:  "Kubernetes",
			flags: targetFlags{target: "kubernetes", ingressHost: "{tool}.apps.example.org", ingressNamespace: "ingress-nginx"},
			env:   map[string]string{"KUBECONFIG": "/etc/kube.conf", "SLIPWAY_KUBE_NAMESPACE": "apps-{tool}", "SLIPWAY_KUBE_INGRESS_CLASS": "nginx"},
			want: server.Config{Target: server.TargetKubernetes, Kube: server.KubeTarget{
				Kubeconfig: "/etc/kube.conf", NamespaceTemplate: "apps-{tool}", IngressHostTemplate: "{tool}.apps.example.org", IngressClass: "nginx",
				IngressNamespace: "ingress-nginx",
			}},
		},
		{name: "EnvTarget", env: map[string]string{"SLIPWAY_TARGET": "kubernetes", "SLIPWAY_KUBECONFIG": "/k", "KUBECONFIG": "/other"}, want: server.Config{Target: server.TargetKubernetes, Kube: server.KubeTarget{Kubeconfig: "/k"}}},
		{
			name:  "KubernetesBuilder",
			flags: targetFlags{target: "kubernetes", registry: "registry.example:5000/slipway", registrySecret: "push", buildNamespace: "builds-{tool}"},
			env:   map[string]string{"SLIPWAY_KUBE_BUILDER_IMAGE": "registry.example/builder:1"},
			want: server.Config{Target: server.TargetKubernetes, Kube: server.KubeTarget{
				Registry: "registry.example:5000/slipway", RegistrySecret: "push", BuildNamespaceTemplate: "builds-{tool}", BuilderImage: "registry.example/builder:1",
			}},
		},
		{name: "BuilderFlagWithoutRegistry", flags: targetFlags{target: "kubernetes", registrySecret: "push"}, wantErr: "--kube-registry-secret needs --kube-registry"},
		{name: "RegistryOnLocal", flags: targetFlags{registry: "registry.example"}, wantErr: "--kube-registry needs --target kubernetes"},
		{name: "BadBuildNamespace", flags: targetFlags{target: "kubernetes", registry: "r.example", buildNamespace: "Builds"}, wantErr: "--kube-build-namespace"},
		{name: "UnknownTarget", flags: targetFlags{target: "docker"}, wantErr: `--target: want local or kubernetes, got "docker"`},
		{name: "KubeFlagOnLocal", flags: targetFlags{namespace: "x-{tool}"}, wantErr: "--kube-namespace needs --target kubernetes"},
		{name: "NamespaceWithoutTool", flags: targetFlags{target: "kubernetes", namespace: "shared"}, wantErr: `--kube-namespace: "shared" has no {tool}`},
		{name: "BadNamespace", flags: targetFlags{target: "kubernetes", namespace: "Tools_{tool}"}, wantErr: "does not make a valid namespace name"},
		{name: "HostWithoutTool", flags: targetFlags{target: "kubernetes", ingressHost: "apps.example.org"}, wantErr: "has no {tool}"},
		{name: "BadHost", flags: targetFlags{target: "kubernetes", ingressHost: "{tool}..example.org"}, wantErr: "does not make a valid host name"},
		{name: "BadHostChars", flags: targetFlags{target: "kubernetes", ingressHost: "{tool}.exa mple.org"}, wantErr: "does not make a valid host name"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			e := &env{getenv: func(k string) string { return tt.env[k] }}
			var cfg server.Config
			err := tt.flags.apply(e, &cfg)
			if tt.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
					t.Fatalf("apply = %v, want an error containing %q", err, tt.wantErr)
				}
				if _, ok := errors.AsType[*usageError](err); !ok {
					t.Errorf("error %T is not a usage error", err)
				}
				return
			}
			got, want := cfg.Kube, tt.want.Kube
			got.WrapTransport, want.WrapTransport = nil, nil // no flag sets it
			if err != nil || cfg.Target != tt.want.Target || !reflect.DeepEqual(got, want) {
				t.Errorf("apply = %+v, %+v, %v; want %+v, %+v", cfg.Target, cfg.Kube, err, tt.want.Target, tt.want.Kube)
			}
		})
	}
}
