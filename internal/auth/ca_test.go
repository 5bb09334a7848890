package auth_test

import (
	"crypto/tls"
	"crypto/x509"
	"encoding/pem"
	"os"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"slipway.dev/slipway/internal/auth"
)

func TestLoadOrCreateCA_OnceAndConcurrently(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	cas := make([]*auth.CA, 8)
	var wg sync.WaitGroup
	for i := range cas {
		wg.Go(func() {
			ca, err := auth.LoadOrCreateCA(dir)
			if err != nil {
				t.Error(err)
				return
			}
			cas[i] = ca
		})
	}
	wg.Wait()
	for _, ca := range cas[1:] {
		if ca == nil || string(ca.CertPEM) != string(cas[0].CertPEM) {
			t.Fatal("concurrent creations ended with different CAs")
		}
	}
	st, err := os.Stat(filepath.Join(dir, "ca", "ca.key"))
	if err != nil {
		t.Fatal(err)
	}
	if st.Mode().Perm() != 0o600 {
		t.Errorf("ca.key mode %v, want 0600", st.Mode().Perm())
	}
	leftovers, _ := filepath.Glob(filepath.Join(dir, "ca.tmp-*"))
	if len(leftovers) != 0 {
		t.Errorf("temporary directories left: %v", leftovers)
	}
}

func TestCA_IssueClient(t *testing.T) {
	t.Parallel()
	ca, err := auth.LoadOrCreateCA(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	certPEM, keyPEM, err := ca.IssueClient("my-tool", 48*time.Hour)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := tls.X509KeyPair(certPEM, keyPEM); err != nil {
		t.Fatalf("certificate and key do not match: %v", err)
	}
	block, _ := pem.Decode(certPEM)
	cert, err := x509.ParseCertificate(block.Bytes)
	if err != nil {
		t.Fatal(err)
	}
	if cert.Subject.CommonName != "my-tool" {
		t.Errorf("CN %q, want my-tool", cert.Subject.CommonName)
	}
	if d := time.Until(cert.NotAfter); d < 47*time.Hour || d > 49*time.Hour {
		t.Errorf("valid for %s more, want about 48h", d)
	}
	opts := x509.VerifyOptions{Roots: ca.Pool(), KeyUsages: []x509.ExtKeyUsage{x509.ExtKeyUsageClientAuth}}
	if _, err := cert.Verify(opts); err != nil {
		t.Errorf("a client certificate does not verify as one: %v", err)
	}
	opts.KeyUsages = []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth}
	if _, err := cert.Verify(opts); err == nil {
		t.Error("a client certificate verifies as a server certificate")
	}
	if _, _, err := ca.IssueClient("Bad Name", 0); err == nil {
		t.Error("a certificate was issued for an invalid tool name")
	}
}

func TestCA_IssueServer(t *testing.T) {
	t.Parallel()
	ca, err := auth.LoadOrCreateCA(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	pair, err := ca.IssueServer([]string{"slipway.example.org", "10.1.2.3"})
	if err != nil {
		t.Fatal(err)
	}
	cert, err := x509.ParseCertificate(pair.Certificate[0])
	if err != nil {
		t.Fatal(err)
	}
	for _, host := range []string{"localhost", "127.0.0.1", "::1", "slipway.example.org", "10.1.2.3"} {
		if _, err := cert.Verify(x509.VerifyOptions{Roots: ca.Pool(), DNSName: host}); err != nil {
			t.Errorf("server certificate for %s: %v", host, err)
		}
	}
	if _, err := cert.Verify(x509.VerifyOptions{Roots: ca.Pool(), DNSName: "other.example.org"}); err == nil {
		t.Error("the server certificate verifies for a host it was not issued for")
	}
}
