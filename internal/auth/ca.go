package auth

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"errors"
	"fmt"
	"io/fs"
	"math/big"
	"net"
	"os"
	"path/filepath"
	"slices"
	"time"

	"slipway.dev/slipway/internal/slipway"
)

// Client certificates, Toolforge style: a certificate whose subject CN is a
// tool's name acts for that tool, as the tool's API token does. The server
// keeps its own certificate authority in <data>/ca; `slipway admin cert
// issue --tool X` signs a client certificate with it, and a server started
// with TLS asks for client certificates signed by it (or by the CAs given
// with --client-ca).
//
// There is no revocation list: a client certificate is valid until it
// expires (ClientCertLifetime by default). To revoke every certificate at
// once, stop the server, move <data>/ca away and issue new ones.

// ClientCertLifetime is how long an issued client certificate is valid by
// default.
const ClientCertLifetime = 365 * 24 * time.Hour

// ClientCertOrganization is the subject O of the client certificates the CA
// issues; the tool is the CN.
const ClientCertOrganization = "slipway tool"

const (
	caDirName  = "ca"
	caCertFile = "ca.crt"
	caKeyFile  = "ca.key"
)

// CA is the server's certificate authority.
type CA struct {
	cert *x509.Certificate
	key  *ecdsa.PrivateKey
	// CertPEM is the CA certificate, for clients to trust the server's
	// certificate and for the server to verify client certificates.
	CertPEM []byte
	// CertPath is where CertPEM is stored.
	CertPath string
}

// LoadOrCreateCA returns the certificate authority in dataDir/ca, creating
// it on first use. Creation is atomic: a server and a CLI that create it at
// the same moment end up with the same one.
func LoadOrCreateCA(dataDir string) (*CA, error) {
	dir := filepath.Join(dataDir, caDirName)
	ca, err := loadCA(dir)
	if !errors.Is(err, fs.ErrNotExist) {
		return ca, err
	}
	if err := createCA(dataDir, dir); err != nil {
		return nil, err
	}
	return loadCA(dir)
}

// createCA makes a new CA in a temporary directory and renames it to dir;
// when dir appeared meanwhile, the other one wins and this one is dropped.
func createCA(dataDir, dir string) error {
	tmp, err := os.MkdirTemp(dataDir, caDirName+".tmp-")
	if err != nil {
		return fmt.Errorf("create CA: %w", err)
	}
	defer os.RemoveAll(tmp) // gone after a successful rename
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return fmt.Errorf("create CA: %w", err)
	}
	now := time.Now()
	tmpl := &x509.Certificate{
		SerialNumber:          newSerial(),
		Subject:               pkix.Name{CommonName: "Slipway CA", Organization: []string{"slipway"}},
		NotBefore:             now.Add(-time.Hour),
		NotAfter:              now.Add(20 * 365 * 24 * time.Hour),
		IsCA:                  true,
		BasicConstraintsValid: true,
		MaxPathLenZero:        true,
		KeyUsage:              x509.KeyUsageCertSign | x509.KeyUsageCRLSign | x509.KeyUsageDigitalSignature,
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		return fmt.Errorf("create CA: %w", err)
	}
	keyPEM, err := encodeKey(key)
	if err != nil {
		return fmt.Errorf("create CA: %w", err)
	}
	if err := os.WriteFile(filepath.Join(tmp, caKeyFile), keyPEM, 0o600); err != nil {
		return fmt.Errorf("create CA: %w", err)
	}
	if err := os.WriteFile(filepath.Join(tmp, caCertFile), pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}), 0o644); err != nil {
		return fmt.Errorf("create CA: %w", err)
	}
	if err := os.Rename(tmp, dir); err != nil {
		if _, statErr := os.Stat(filepath.Join(dir, caCertFile)); statErr == nil {
			return nil // created by someone else meanwhile
		}
		return fmt.Errorf("create CA: %w", err)
	}
	return nil
}

// loadCA reads the CA in dir; an error wrapping fs.ErrNotExist when there
// is none.
func loadCA(dir string) (*CA, error) {
	certPath := filepath.Join(dir, caCertFile)
	certPEM, err := os.ReadFile(certPath)
	if err != nil {
		return nil, fmt.Errorf("load CA: %w", err)
	}
	keyPEM, err := os.ReadFile(filepath.Join(dir, caKeyFile))
	if err != nil {
		return nil, fmt.Errorf("load CA: %w", err)
	}
	pair, err := tls.X509KeyPair(certPEM, keyPEM)
	if err != nil {
		return nil, fmt.Errorf("load CA from %s: %w", dir, err)
	}
	key, ok := pair.PrivateKey.(*ecdsa.PrivateKey)
	if !ok {
		return nil, fmt.Errorf("load CA from %s: the key is a %T, want ECDSA", dir, pair.PrivateKey)
	}
	cert, err := x509.ParseCertificate(pair.Certificate[0])
	if err != nil {
		return nil, fmt.Errorf("load CA from %s: %w", dir, err)
	}
	return &CA{cert: cert, key: key, CertPEM: certPEM, CertPath: certPath}, nil
}

// Pool returns a pool that holds the CA certificate.
func (ca *CA) Pool() *x509.CertPool {
	p := x509.NewCertPool()
	p.AddCert(ca.cert)
	return p
}

// IssueClient signs a client certificate for tool, valid for lifetime
// (ClientCertLifetime when 0), and returns it and its private key as PEM.
func (ca *CA) IssueClient(tool string, lifetime time.Duration) (certPEM, keyPEM []byte, err error) {
	if err := slipway.ValidateToolName(tool); err != nil {
		return nil, nil, err
	}
	if lifetime <= 0 {
		lifetime = ClientCertLifetime
	}
	tmpl := &x509.Certificate{
		Subject:     pkix.Name{CommonName: tool, Organization: []string{ClientCertOrganization}},
		KeyUsage:    x509.KeyUsageDigitalSignature,
		ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageClientAuth},
	}
	return ca.issue(tmpl, lifetime)
}

// IssueServer signs a server certificate for hosts (names and IP
// addresses; localhost, 127.0.0.1 and ::1 are always included), valid for
// a year.
func (ca *CA) IssueServer(hosts []string) (tls.Certificate, error) {
	hosts = append([]string{"localhost", "127.0.0.1", "::1"}, hosts...)
	slices.Sort(hosts)
	tmpl := &x509.Certificate{
		Subject:     pkix.Name{CommonName: "slipway server", Organization: []string{"slipway"}},
		KeyUsage:    x509.KeyUsageDigitalSignature,
		ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
	}
	for _, h := range slices.Compact(hosts) {
		if ip := net.ParseIP(h); ip != nil {
			tmpl.IPAddresses = append(tmpl.IPAddresses, ip)
		} else {
			tmpl.DNSNames = append(tmpl.DNSNames, h)
		}
	}
	certPEM, keyPEM, err := ca.issue(tmpl, 365*24*time.Hour)
	if err != nil {
		return tls.Certificate{}, err
	}
	return tls.X509KeyPair(certPEM, keyPEM)
}

// issue signs tmpl with a new P-256 key.
func (ca *CA) issue(tmpl *x509.Certificate, lifetime time.Duration) (certPEM, keyPEM []byte, err error) {
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return nil, nil, fmt.Errorf("issue certificate: %w", err)
	}
	now := time.Now()
	tmpl.SerialNumber = newSerial()
	tmpl.NotBefore = now.Add(-5 * time.Minute) // tolerate clock skew
	tmpl.NotAfter = now.Add(lifetime)
	if tmpl.NotAfter.After(ca.cert.NotAfter) {
		tmpl.NotAfter = ca.cert.NotAfter
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, ca.cert, &key.PublicKey, ca.key)
	if err != nil {
		return nil, nil, fmt.Errorf("issue certificate: %w", err)
	}
	keyPEM, err = encodeKey(key)
	if err != nil {
		return nil, nil, fmt.Errorf("issue certificate: %w", err)
	}
	return pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}), keyPEM, nil
}

func encodeKey(key *ecdsa.PrivateKey) ([]byte, error) {
	der, err := x509.MarshalPKCS8PrivateKey(key)
	if err != nil {
		return nil, err
	}
	return pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: der}), nil
}

// newSerial returns a random 128-bit serial number.
func newSerial() *big.Int {
	b := make([]byte, 16)
	_, _ = rand.Read(b) // crypto/rand.Read never fails
	b[0] &= 0x7f        // positive
	return new(big.Int).SetBytes(b)
}
