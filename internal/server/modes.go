package server

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"

	"slipway.dev/slipway/internal/slipway"
	"slipway.dev/slipway/internal/toolconfig"
)

// File modes of the data directory. The directory itself is 0700: nobody
// but the server's user reaches anything in it (tools run as users of their
// own, see internal/sandbox). What is secret in it is 0600 besides, so that
// a copy of the directory made with its modes (a backup, a tarball) does
// not open it: the admin token, the secret key, the database with its
// write-ahead log and shared-memory file (configs, sealed credentials and
// tokens, hashes), the CA's key, the lock file. server.json stays 0644: it
// holds the API's URL, the proxy's, the pid and the path of the CA
// certificate, nothing secret.
const (
	dataDirMode = 0o700
	secretMode  = 0o600
)

// secretFiles are the data directory's secret files, by path inside it.
var secretFiles = []string{
	AdminTokenFile, SecretKeyFile, LockFile,
	DBFile, DBFile + "-wal", DBFile + "-shm", DBFile + "-journal",
	filepath.Join("ca", "ca.key"),
}

// privateDirs are directories inside the data directory that hold secrets
// of their own: 0700 as well.
var privateDirs = []string{"ca", "git"}

// secureDataDir creates the data directory 0700, or tightens an existing
// one (made by an older version, or by hand) to 0700 with its secret files
// 0600. It creates the database file 0600 before SQLite opens it: SQLite
// gives its -wal and -shm files the database's mode.
func secureDataDir(dir string) error {
	if err := os.MkdirAll(dir, dataDirMode); err != nil {
		return fmt.Errorf("server: %w", err)
	}
	if err := os.Chmod(dir, dataDirMode); err != nil {
		return fmt.Errorf("server: data directory: %w", err)
	}
	for _, d := range privateDirs {
		if err := chmodIfExists(filepath.Join(dir, d), dataDirMode); err != nil {
			return err
		}
	}
	for _, f := range secretFiles {
		if err := chmodIfExists(filepath.Join(dir, f), secretMode); err != nil {
			return err
		}
	}
	f, err := os.OpenFile(filepath.Join(dir, DBFile), os.O_RDWR|os.O_CREATE, secretMode)
	if err != nil {
		return fmt.Errorf("server: create database file: %w", err)
	}
	return f.Close()
}

// secureDBFiles tightens the database's companion files once SQLite made
// them (an existing -wal keeps the mode it was created with).
func secureDBFiles(dir string) error {
	for _, suffix := range []string{"-wal", "-shm"} {
		if err := chmodIfExists(filepath.Join(dir, DBFile+suffix), secretMode); err != nil {
			return err
		}
	}
	return nil
}

func chmodIfExists(path string, mode fs.FileMode) error {
	fi, err := os.Lstat(path)
	switch {
	case errors.Is(err, fs.ErrNotExist):
		return nil
	case err != nil:
		return fmt.Errorf("server: %w", err)
	case fi.Mode()&fs.ModeSymlink != 0:
		return nil // the operator's own arrangement (a mounted secret, say): left alone
	case fi.Mode().Perm() == mode:
		return nil
	}
	if err := os.Chmod(path, mode); err != nil {
		return fmt.Errorf("server: tighten %s to %o: %w", path, mode, err)
	}
	return nil
}

// warnClearCredentials logs, for each tool whose current config still has
// a credential in a URL (stored before credentials were sealed apart), that
// it should be posted again. Such rows keep working (git gets the
// credential through its helper, never in argv) and answers redact them,
// but the database holds them in the clear until then.
func (s *Server) warnClearCredentials(ctx context.Context) {
	tools, err := s.db.ToolList(ctx)
	if err != nil {
		return
	}
	for _, tool := range tools {
		sc, err := s.db.ConfigGetLatest(ctx, tool)
		if err != nil {
			continue
		}
		res, err := toolconfig.ParseStored(sc.Raw)
		if err != nil {
			continue
		}
		for _, u := range toolconfig.URLs(res.Config) {
			if sp, err := slipway.SplitURLCredential(u); err == nil && sp.HasCredential {
				s.logger.WarnContext(ctx, "a stored config holds a credential in the clear, from before credentials were sealed apart: post the config again (config create) to seal it",
					"tool", tool, "url", sp.Redacted)
				break
			}
		}
	}
}
