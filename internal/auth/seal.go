package auth

import (
	"crypto/aes"
	"crypto/cipher"
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"errors"
	"fmt"
)

// Sealer encrypts the secrets Slipway keeps for tools (their envvars, the
// deploy token among them) with the server's secret key, and fingerprints
// them.
//
// A sealed value is base64(nonce ‖ AES-256-GCM ciphertext), with a random
// nonce and "slipway-envvar", the tool and the name as additional data: a
// sealed value moved to another tool or name does not open. A fingerprint
// is an HMAC-SHA256 of tool, name and value under a key derived from the
// server's key, never a plain hash: values are often short or guessable
// (a port, a word), and a plain hash of one would be a way to test guesses.
type Sealer struct {
	aead  cipher.AEAD
	fpKey []byte
}

// NewSealer returns a sealer over the server's 32-byte secret key.
func NewSealer(key []byte) (*Sealer, error) {
	if len(key) != KeySize {
		return nil, fmt.Errorf("auth: secret key is %d bytes, want %d", len(key), KeySize)
	}
	block, err := aes.NewCipher(key)
	if err != nil {
		return nil, fmt.Errorf("auth: %w", err)
	}
	aead, err := cipher.NewGCM(block)
	if err != nil {
		return nil, fmt.Errorf("auth: %w", err)
	}
	mac := hmac.New(sha256.New, key)
	mac.Write([]byte("slipway envvar fingerprint v1"))
	return &Sealer{aead: aead, fpKey: mac.Sum(nil)}, nil
}

// envVarAD is the additional data that binds a sealed envvar to its tool
// and name (neither contains a NUL byte).
func envVarAD(tool, name string) []byte {
	return []byte("slipway-envvar\x00" + tool + "\x00" + name)
}

// SealEnvVar returns value sealed as the envvar name of tool.
func (s *Sealer) SealEnvVar(tool, name, value string) string {
	return s.seal([]byte(value), envVarAD(tool, name))
}

// OpenEnvVar returns the value of a sealed envvar of tool. A wrong key, a
// damaged value or one sealed for another tool or name is an error, never
// a panic.
func (s *Sealer) OpenEnvVar(tool, name, sealed string) (string, error) {
	plain, err := s.open(sealed, envVarAD(tool, name))
	if err != nil {
		return "", fmt.Errorf("envvar %s of %s: %w", name, tool, err)
	}
	return string(plain), nil
}

// webhookAD is the additional data that binds a sealed push webhook
// secret to its tool: distinct from every envvar's, so neither opens as
// the other.
func webhookAD(tool string) []byte {
	return []byte("slipway-webhook\x00" + tool)
}

// SealWebhookSecret returns secret sealed as tool's push webhook secret.
func (s *Sealer) SealWebhookSecret(tool, secret string) string {
	return s.seal([]byte(secret), webhookAD(tool))
}

// OpenWebhookSecret reverses [Sealer.SealWebhookSecret]; a value sealed
// for another tool, or as an envvar, is an error.
func (s *Sealer) OpenWebhookSecret(tool, sealed string) (string, error) {
	plain, err := s.open(sealed, webhookAD(tool))
	if err != nil {
		return "", fmt.Errorf("webhook secret of %s: %w", tool, err)
	}
	return string(plain), nil
}

// notifyAD binds a sealed notification signing secret to its tool and
// subscription.
func notifyAD(tool, subscription string) []byte {
	return []byte("slipway-notify\x00" + tool + "\x00" + subscription)
}

// SealNotifySecret returns secret sealed as the signing secret of tool's
// notification subscription.
func (s *Sealer) SealNotifySecret(tool, subscription, secret string) string {
	return s.seal([]byte(secret), notifyAD(tool, subscription))
}

// OpenNotifySecret reverses [Sealer.SealNotifySecret]; a value sealed for
// another tool or subscription, or as anything else, is an error.
func (s *Sealer) OpenNotifySecret(tool, subscription, sealed string) (string, error) {
	plain, err := s.open(sealed, notifyAD(tool, subscription))
	if err != nil {
		return "", fmt.Errorf("signing secret of subscription %s of %s: %w", subscription, tool, err)
	}
	return string(plain), nil
}

// SealedEnvVarSize returns the length in bytes of the value sealed in
// sealed, without opening it (AES-GCM keeps the length).
func (s *Sealer) SealedEnvVarSize(sealed string) (int, error) {
	n := base64.RawStdEncoding.DecodedLen(len(sealed)) - s.aead.NonceSize() - s.aead.Overhead()
	if n < 0 {
		return 0, errors.New("sealed value: too short")
	}
	return n, nil
}

// Fingerprint returns the fingerprint of value as the envvar name of tool:
// 64 hex digits that change when the value does and say nothing about it
// without the server's key.
func (s *Sealer) Fingerprint(tool, name, value string) string {
	mac := hmac.New(sha256.New, s.fpKey)
	mac.Write([]byte(tool + "\x00" + name + "\x00"))
	mac.Write([]byte(value))
	return hex.EncodeToString(mac.Sum(nil))
}

func (s *Sealer) seal(plain, ad []byte) string {
	nonce := make([]byte, s.aead.NonceSize())
	_, _ = rand.Read(nonce) // crypto/rand.Read never fails
	return base64.RawStdEncoding.EncodeToString(s.aead.Seal(nonce, nonce, plain, ad))
}

func (s *Sealer) open(sealed string, ad []byte) ([]byte, error) {
	raw, err := base64.RawStdEncoding.DecodeString(sealed)
	if err != nil {
		return nil, fmt.Errorf("sealed value: %w", err)
	}
	n := s.aead.NonceSize()
	if len(raw) < n+s.aead.Overhead() {
		return nil, errors.New("sealed value: too short")
	}
	plain, err := s.aead.Open(nil, raw[:n], raw[n:], ad)
	if err != nil {
		return nil, fmt.Errorf("sealed value: cannot open it with this server's secret key: %w", err)
	}
	return plain, nil
}

// openLegacyDeployToken opens a deploy token sealed before envvars existed
// (the tool name alone as additional data).
func (s *Sealer) openLegacyDeployToken(tool, sealed string) (string, error) {
	plain, err := s.open(sealed, []byte(tool))
	if err != nil {
		return "", err
	}
	return string(plain), nil
}
