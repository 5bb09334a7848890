package cli

import (
	"cmp"
	"fmt"
	"slices"
	"strconv"

	"github.com/spf13/cobra"

	"slipway.dev/slipway/internal/sandbox"
	"slipway.dev/slipway/internal/server"
	"slipway.dev/slipway/internal/slipway"
)

// sandboxFlags are the settings of the sandbox tools' builds and processes
// run in, and of their limits.
type sandboxFlags struct {
	unsandboxed string
	limits      string
	network     string
	uidBase     string
	roPaths     string
	buildMemory string
	buildCPU    string
}

func (f *sandboxFlags) register(cmd *cobra.Command) {
	fl := cmd.Flags()
	fl.StringVar(&f.unsandboxed, "unsandboxed", "", "run tools' builds and processes unconfined, as the server's user, able to read the data directory: only for a single-user workstation (default $SLIPWAY_UNSANDBOXED or false)")
	fl.Lookup("unsandboxed").NoOptDefVal = "true"
	fl.StringVar(&f.limits, "sandbox-limits", "", "how limits are enforced: auto, cgroup2, cgroup1, rlimit or none (default $SLIPWAY_SANDBOX_LIMITS or auto: the best this host offers)")
	fl.StringVar(&f.network, "sandbox-network", "", "whether tools may reach this host's ports: auto (block all but the servers' API and proxy when root and nftables allow), isolated (or refuse to start) or shared (default $SLIPWAY_SANDBOX_NETWORK or auto)")
	fl.StringVar(&f.uidBase, "sandbox-uid-base", "", "first uid given to a tool when the server runs as root (default $SLIPWAY_SANDBOX_UID_BASE or 1000000000)")
	fl.StringVar(&f.roPaths, "sandbox-ro-paths", "", "comma-separated host directories tools see read-only, e.g. a toolchain under /opt (default $SLIPWAY_SANDBOX_RO_PATHS; /usr and /etc always, and the go toolchain's GOROOT)")
	fl.StringVar(&f.buildMemory, "build-memory", "", "memory limit of each build command (default $SLIPWAY_BUILD_MEMORY or 4Gi)")
	fl.StringVar(&f.buildCPU, "build-cpu", "", "cpu limit of each build command (default $SLIPWAY_BUILD_CPU or none)")
}

// apply adds the flags, the environment's values or the defaults to cfg.
func (f *sandboxFlags) apply(e *env, cfg *server.Config) error {
	if v := cmp.Or(f.unsandboxed, e.getenv("SLIPWAY_UNSANDBOXED")); v != "" {
		off, err := strconv.ParseBool(v)
		if err != nil {
			return &usageError{fmt.Errorf("--unsandboxed: want true or false, got %q", v)}
		}
		cfg.Unsandboxed = off
	}
	if v := cmp.Or(f.limits, e.getenv("SLIPWAY_SANDBOX_LIMITS")); v != "" && v != "auto" {
		if !slices.Contains([]string{"cgroup2", "cgroup1", "rlimit", "none"}, v) {
			return &usageError{fmt.Errorf("--sandbox-limits: want auto, cgroup2, cgroup1, rlimit or none, got %q", v)}
		}
		cfg.SandboxLimits = v
	}
	if v := cmp.Or(f.network, e.getenv("SLIPWAY_SANDBOX_NETWORK")); v != "" && v != "auto" {
		if v != sandbox.NetworkIsolated && v != sandbox.NetworkShared {
			return &usageError{fmt.Errorf("--sandbox-network: want auto, isolated or shared, got %q", v)}
		}
		cfg.SandboxNetwork = v
	}
	if v := cmp.Or(f.uidBase, e.getenv("SLIPWAY_SANDBOX_UID_BASE")); v != "" {
		n, err := strconv.Atoi(v)
		if err != nil || n < 1000 {
			return &usageError{fmt.Errorf("--sandbox-uid-base: want a uid of at least 1000, got %q", v)}
		}
		cfg.SandboxUIDBase = n
	}
	cfg.SandboxReadOnlyPaths = splitList(cmp.Or(f.roPaths, e.getenv("SLIPWAY_SANDBOX_RO_PATHS")))
	for _, q := range []struct {
		flag, value string
		dst         *string
		parse       func(string) (int64, error)
	}{
		{"build-memory", f.buildMemory, &cfg.BuildMemory, slipway.ParseMemory},
		{"build-cpu", f.buildCPU, &cfg.BuildCPU, slipway.ParseCPU},
	} {
		v := cmp.Or(q.value, e.getenv(envName(q.flag)))
		if v == "" {
			continue
		}
		if n, err := q.parse(v); err != nil || n <= 0 {
			return &usageError{fmt.Errorf("--%s: want a positive quantity such as 512Mi, 2Gi, 0.5 or 500m, got %q", q.flag, v)}
		}
		*q.dst = v
	}
	return nil
}
