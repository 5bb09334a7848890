package sandbox

import (
	"fmt"
	"io"
	"os"
	"path/filepath"

	"slipway.dev/slipway/internal/atomicfile"
)

// A process that may ask questions (`slipway ask`, from a deployment's
// build or one-off step) gets the slipway binary and the API's CA besides
// its environment. Both are public (the server's own program, a CA
// certificate), bound read-only one file each, so the process sees
// nothing else of where they lie on the host: the binary of `go run` sits
// in a temporary directory, the CA in the data directory.

// askEnv adds the ask files to a process's environment: the binary's
// directory first on PATH, the CA file.
func (s *Sandbox) askEnv(env map[string]string) {
	a := s.cfg.Ask
	if a.Binary != "" {
		dir := AskBinDir
		if !s.Enabled() {
			dir = filepath.Dir(a.Binary)
		}
		if p := env["PATH"]; p != "" {
			env["PATH"] = dir + string(filepath.ListSeparator) + p
		} else {
			env["PATH"] = dir
		}
	}
	if a.CA != "" {
		env[EnvCAFile] = AskCAFile
		if !s.Enabled() {
			env[EnvCAFile] = a.CA
		}
	}
}

// askMounts returns the read-only binds of the ask files.
func (s *Sandbox) askMounts() []Mount {
	var ms []Mount
	if s.cfg.Ask.Binary != "" {
		ms = append(ms, Mount{Source: s.cfg.Ask.Binary, Target: AskBinDir + "/slipway"})
	}
	if s.cfg.Ask.CA != "" {
		ms = append(ms, Mount{Source: s.cfg.Ask.CA, Target: AskCAFile})
	}
	return ms
}

// readableAskFiles returns the ask files as a tool's uid can use them: a
// file that uid could not read (or run) is copied into the sandbox's
// directory with the modes it needs. Without a uid per tool (not root)
// the processes are the server's uid and need no copy.
func (s *Sandbox) readableAskFiles(a AskFiles) (AskFiles, error) {
	var err error
	if a.Binary != "" {
		if a.Binary, err = s.readableCopy(a.Binary, filepath.Join("bin", "slipway"), 0o755); err != nil {
			return a, fmt.Errorf("the slipway binary for `slipway ask`: %w", err)
		}
	}
	if a.CA != "" {
		if a.CA, err = s.readableCopy(a.CA, "ca.crt", 0o644); err != nil {
			return a, fmt.Errorf("the API's CA for `slipway ask`: %w", err)
		}
	}
	return a, nil
}

// readableCopy returns src when others have the permissions of mode on
// it, else a copy of it at name in the sandbox's directory with mode.
func (s *Sandbox) readableCopy(src, name string, mode os.FileMode) (string, error) {
	fi, err := os.Stat(src)
	if err != nil {
		return "", err
	}
	if !fi.Mode().IsRegular() {
		return "", fmt.Errorf("%s is not a regular file", src)
	}
	others := mode & 0o007
	if !s.root || fi.Mode().Perm()&others == others {
		return src, nil
	}
	f, err := os.Open(src)
	if err != nil {
		return "", err
	}
	defer f.Close()
	b, err := io.ReadAll(f)
	if err != nil {
		return "", err
	}
	dst := filepath.Join(s.cfg.Dir, name)
	if err := os.MkdirAll(filepath.Dir(dst), 0o755); err != nil {
		return "", err
	}
	if err := atomicfile.Write(dst, b, mode); err != nil {
		return "", err
	}
	return dst, nil
}
