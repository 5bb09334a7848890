package cli

import (
	"bytes"
	"crypto/tls"
	"crypto/x509"
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
)

// TestAdminCertIssue issues certificates into a temporary data directory,
// plain and --json, and compares the output (serials, dates and paths
// normalised) with golden files; the files it writes are a working
// certificate and key signed by the data directory's CA.
func TestAdminCertIssue(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	vars := map[string]string{"SLIPWAY_DATA": filepath.Join(dir, "data"), "HOME": dir}
	norm := strings.NewReplacer(dir, "$TMP")
	serial := regexp.MustCompile(`[0-9a-f]{20,}`)
	date := regexp.MustCompile(`\d{4}-\d\d-\d\d(T\d\d:\d\d:\d\dZ)?`)
	for _, tt := range []struct {
		name string
		args []string
	}{
		{"AdminCertIssue", []string{"admin", "cert", "issue", "--tool", "mytool", "--out", filepath.Join(dir, "out")}},
		{"AdminCertIssueJSON", []string{"--json", "admin", "cert", "issue", "--tool", "other", "--out", filepath.Join(dir, "out"), "--days", "30"}},
		{"AdminCertIssueExists", []string{"admin", "cert", "issue", "--tool", "mytool", "--out", filepath.Join(dir, "out")}},
		{"AdminCertIssueBadDays", []string{"admin", "cert", "issue", "--tool", "mytool", "--days", "0"}},
	} {
		var stdout, stderr bytes.Buffer
		code := Main(t.Context(), tt.args, func(k string) string { return vars[k] }, strings.NewReader(""), &stdout, &stderr)
		got := fmt.Sprintf("$ slipway %s\nexit %d\n-- stdout --\n%s-- stderr --\n%s", strings.Join(tt.args, " "), code, stdout.String(), stderr.String())
		got = date.ReplaceAllString(serial.ReplaceAllString(norm.Replace(got), "SERIAL"), "DATE")
		golden(t, tt.name, got)
	}

	pair, err := tls.LoadX509KeyPair(filepath.Join(dir, "out", "mytool.crt"), filepath.Join(dir, "out", "mytool.key"))
	if err != nil {
		t.Fatal(err)
	}
	caPEM, err := os.ReadFile(filepath.Join(dir, "out", "ca.crt"))
	if err != nil {
		t.Fatal(err)
	}
	roots := x509.NewCertPool()
	roots.AppendCertsFromPEM(caPEM)
	cert, err := x509.ParseCertificate(pair.Certificate[0])
	if err != nil {
		t.Fatal(err)
	}
	if _, err := cert.Verify(x509.VerifyOptions{Roots: roots, KeyUsages: []x509.ExtKeyUsage{x509.ExtKeyUsageClientAuth}}); err != nil {
		t.Errorf("issued certificate does not verify against ca.crt: %v", err)
	}
	if st, err := os.Stat(filepath.Join(dir, "out", "mytool.key")); err != nil || st.Mode().Perm() != 0o600 {
		t.Errorf("key file: %v, mode %v; want 0600", err, st.Mode().Perm())
	}
}
