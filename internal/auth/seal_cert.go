package auth

import "fmt"

// certificateAD binds a sealed certificate (its key and chain, or an ACME
// account key) to its name.
func certificateAD(name string) []byte {
	return []byte("slipway-certificate\x00" + name)
}

// SealCertificate returns pem (a private key and its certificate chain)
// sealed as the proxy's certificate name.
func (s *Sealer) SealCertificate(name string, pem []byte) string {
	return s.seal(pem, certificateAD(name))
}

// OpenCertificate reverses [Sealer.SealCertificate]; a value sealed under
// another name, or as anything else, is an error.
func (s *Sealer) OpenCertificate(name, sealed string) ([]byte, error) {
	plain, err := s.open(sealed, certificateAD(name))
	if err != nil {
		return nil, fmt.Errorf("certificate %s: %w", name, err)
	}
	return plain, nil
}
