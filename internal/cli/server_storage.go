package cli

import (
	"cmp"
	"fmt"
	"strconv"

	"github.com/spf13/cobra"

	"slipway.dev/slipway/internal/diskspace"
	"slipway.dev/slipway/internal/logfile"
	"slipway.dev/slipway/internal/server"
)

// storageFlags are the server's bounds on disk use: log rotation and the
// free-space floor.
type storageFlags struct {
	logMaxSize, logMaxFiles           string
	buildLogMaxSize, buildLogMaxFiles string
	minFreeDisk                       string
}

func (f *storageFlags) register(cmd *cobra.Command) {
	fl := cmd.Flags()
	fl.StringVar(&f.logMaxSize, "log-max-size", "", "size at which a process's log is rotated, e.g. 10MiB (default $SLIPWAY_LOG_MAX_SIZE or 10MiB)")
	fl.StringVar(&f.logMaxFiles, "log-max-files", "", "files kept per process log, the current one included, at least 2 (default $SLIPWAY_LOG_MAX_FILES or 5)")
	fl.StringVar(&f.buildLogMaxSize, "build-log-max-size", "", "size at which a build's log is rotated (default $SLIPWAY_BUILD_LOG_MAX_SIZE or 10MiB)")
	fl.StringVar(&f.buildLogMaxFiles, "build-log-max-files", "", "files kept per build log, the current one included, at least 2 (default $SLIPWAY_BUILD_LOG_MAX_FILES or 2)")
	fl.StringVar(&f.minFreeDisk, "min-free-disk", "", "free space the data directory's filesystem keeps: under it builds are refused and healthz says DEGRADED; a size (1GiB), a percentage (5%) or 0 for none (default $SLIPWAY_MIN_FREE_DISK or 1GiB)")
}

// apply adds the flags, the environment's values or the defaults to cfg.
func (f *storageFlags) apply(e *env, cfg *server.Config) error {
	for _, s := range []struct {
		flag, value string
		dst         *int64
	}{
		{"log-max-size", f.logMaxSize, &cfg.LogMaxSize},
		{"build-log-max-size", f.buildLogMaxSize, &cfg.BuildLogMaxSize},
	} {
		v := cmp.Or(s.value, e.getenv(envName(s.flag)))
		if v == "" {
			continue
		}
		n, err := diskspace.ParseSize(v)
		if err == nil && n < logfile.MinMaxSize {
			err = fmt.Errorf("want at least %s, got %q", diskspace.FormatSize(logfile.MinMaxSize), v)
		}
		if err != nil {
			return &usageError{fmt.Errorf("--%s: %w", s.flag, err)}
		}
		*s.dst = n
	}
	for _, n := range []struct {
		flag, value string
		dst         *int
	}{
		{"log-max-files", f.logMaxFiles, &cfg.LogMaxFiles},
		{"build-log-max-files", f.buildLogMaxFiles, &cfg.BuildLogMaxFiles},
	} {
		v := cmp.Or(n.value, e.getenv(envName(n.flag)))
		if v == "" {
			continue
		}
		i, err := strconv.Atoi(v)
		if err != nil || i < 2 || i > 100 {
			return &usageError{fmt.Errorf("--%s: want a whole number from 2 (the current file and one rotated) to 100, got %q", n.flag, v)}
		}
		*n.dst = i
	}
	if v := cmp.Or(f.minFreeDisk, e.getenv("SLIPWAY_MIN_FREE_DISK")); v != "" {
		floor, err := diskspace.ParseFloor(v)
		if err != nil {
			return &usageError{fmt.Errorf("--min-free-disk: %w", err)}
		}
		cfg.MinFreeDisk = floor
	}
	return nil
}
