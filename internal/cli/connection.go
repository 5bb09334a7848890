package cli

import (
	"bytes"
	"cmp"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"regexp"
	"strings"

	"gopkg.in/yaml.v3"
)

// connectionFile is the CLI's config file: where to connect and as whom.
// Flags and SLIPWAY_* variables override each entry.
//
//	url: https://slipway.example.org:8700
//	tool: mytool
//	token: slw_t_…        # an API token; or a client certificate:
//	ca: ~/.slipway/ca.crt # the CA that signed the server's certificate
//	cert: ~/.slipway/mytool.crt
//	key: ~/.slipway/mytool.key
type connectionFile struct {
	URL   string `yaml:"url"`
	Tool  string `yaml:"tool"`
	Token string `yaml:"token"`
	CA    string `yaml:"ca"`
	Cert  string `yaml:"cert"`
	Key   string `yaml:"key"`
	// path is where it was read from ("" when there is none).
	path string
}

// configPath returns --config, SLIPWAY_CONFIG, or
// $XDG_CONFIG_HOME/slipway/config.yaml (~/.config/slipway/config.yaml);
// explicit is false for the default, which may be missing.
func (e *env) configPath() (path string, explicit bool) {
	if p := cmp.Or(e.flags.config, e.getenv("SLIPWAY_CONFIG")); p != "" {
		return p, true
	}
	if x := e.getenv("XDG_CONFIG_HOME"); x != "" {
		return filepath.Join(x, "slipway", "config.yaml"), false
	}
	if h := e.getenv("HOME"); h != "" {
		return filepath.Join(h, ".config", "slipway", "config.yaml"), false
	}
	return "", false
}

// configFile returns the config file's settings, read on first use; the
// zero value when there is no file at the default path. Unknown keys are
// an error naming the line.
func (e *env) configFile() (connectionFile, error) {
	if e.conf != nil {
		return *e.conf, nil
	}
	path, explicit := e.configPath()
	var cf connectionFile
	if path != "" {
		b, err := os.ReadFile(path)
		switch {
		case errors.Is(err, fs.ErrNotExist) && !explicit:
		case err != nil:
			return cf, fmt.Errorf("config file: %w", err)
		default:
			dec := yaml.NewDecoder(bytes.NewReader(b))
			dec.KnownFields(true)
			if err := dec.Decode(&cf); err != nil && !errors.Is(err, io.EOF) {
				return connectionFile{}, configFileError(path, err)
			}
			cf.path = path
			dir := filepath.Dir(path)
			for _, p := range []*string{&cf.CA, &cf.Cert, &cf.Key} {
				*p = e.expandPath(dir, *p)
			}
		}
	}
	e.conf = &cf
	return cf, nil
}

// expandPath makes a file path of the config file absolute: ~/ is the home
// directory, and relative paths are relative to the file's directory.
func (e *env) expandPath(dir, p string) string {
	switch {
	case p == "":
		return ""
	case len(p) > 1 && p[:2] == "~/":
		return filepath.Join(e.getenv("HOME"), p[2:])
	case filepath.IsAbs(p):
		return p
	}
	return filepath.Join(dir, p)
}

// tlsConfig returns the TLS settings for the server (nil for the
// defaults): the CA to trust (--ca, SLIPWAY_CA, the config file's, or that
// of local, the local server, when the CLI talks to it) and the client
// certificate (--cert/--key, SLIPWAY_CERT/SLIPWAY_KEY or the config
// file's). withCert reports whether a client certificate is configured.
func (e *env) tlsConfig(local *serverInfo) (cfg *tls.Config, withCert bool, err error) {
	cf, err := e.configFile()
	if err != nil {
		return nil, false, err
	}
	caFile := cmp.Or(e.flags.ca, e.getenv("SLIPWAY_CA"), cf.CA)
	if caFile == "" && local != nil {
		caFile = local.CA
	}
	certFile := cmp.Or(e.flags.cert, e.getenv("SLIPWAY_CERT"), cf.Cert)
	keyFile := cmp.Or(e.flags.key, e.getenv("SLIPWAY_KEY"), cf.Key)
	if caFile == "" && certFile == "" && keyFile == "" {
		return nil, false, nil
	}
	cfg = &tls.Config{MinVersion: tls.VersionTLS12}
	if caFile != "" {
		pem, err := os.ReadFile(caFile)
		if err != nil {
			return nil, false, fmt.Errorf("CA certificate: %w", err)
		}
		cfg.RootCAs = x509.NewCertPool()
		if !cfg.RootCAs.AppendCertsFromPEM(pem) {
			return nil, false, fmt.Errorf("CA certificate %s: no PEM certificate in it", caFile)
		}
	}
	if (certFile == "") != (keyFile == "") {
		return nil, false, errors.New("a client certificate needs both --cert and --key (or SLIPWAY_CERT and SLIPWAY_KEY, or cert: and key: in the config file)")
	}
	if certFile != "" {
		pair, err := tls.LoadX509KeyPair(certFile, keyFile)
		if err != nil {
			return nil, false, fmt.Errorf("client certificate: %w", err)
		}
		cfg.Certificates = []tls.Certificate{pair}
	}
	return cfg, certFile != "", nil
}

// unknownKey matches yaml.v3's message for a key that is not a field.
var unknownKey = regexp.MustCompile(`^line (\d+): field (\S+) not found in type`)

// configFileError turns a decoding error into one line per problem:
// "PATH:LINE: unknown key X (valid keys: …)".
func configFileError(path string, err error) error {
	var te *yaml.TypeError
	if !errors.As(err, &te) {
		return fmt.Errorf("config file %s: %w", path, err)
	}
	msgs := make([]string, 0, len(te.Errors))
	for _, m := range te.Errors {
		if g := unknownKey.FindStringSubmatch(m); g != nil {
			m = fmt.Sprintf("%s:%s: unknown key %q (valid keys: url, tool, token, ca, cert, key)", path, g[1], g[2])
		} else {
			m = path + ": " + m
		}
		msgs = append(msgs, "config file "+m)
	}
	return errors.New(strings.Join(msgs, "\n"))
}
