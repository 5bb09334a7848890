package auth

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"

	"slipway.dev/slipway/internal/slipway"
	"slipway.dev/slipway/internal/store"
)

// RepoCredentials seals and opens the credentials of repository URLs and
// source_urls (https://user:pass@host/…), which the store keeps apart from
// the configs: configs carry https://***@host/…, the store's
// repo_credentials table the credential, sealed here.
//
// A sealed credential is base64(nonce ‖ AES-256-GCM ciphertext) under the
// server's secret key, with a random nonce and "slipway-repo-credential",
// the tool and the redacted URL as additional data: a sealed credential
// copied to another tool's row, or to another URL, does not open.
type RepoCredentials struct {
	st     store.Queries
	sealer *Sealer
}

// NewRepoCredentials returns the credential sealer over st with the
// server's 32-byte secret key.
func NewRepoCredentials(st store.Queries, key []byte) (*RepoCredentials, error) {
	sealer, err := NewSealer(key)
	if err != nil {
		return nil, err
	}
	return &RepoCredentials{st: st, sealer: sealer}, nil
}

// repoCredentialAD binds a sealed credential to its tool and URL (neither
// contains a NUL byte: tool names are checked, URLs come from configs that
// refuse control characters).
func repoCredentialAD(tool, url string) []byte {
	return []byte("slipway-repo-credential\x00" + tool + "\x00" + url)
}

// sealedCredential is what is sealed.
type sealedCredential struct {
	Username string `json:"u"`
	Password string `json:"p"`
}

// SealCredential returns c sealed as the credential of tool's url (the
// redacted URL).
func (r *RepoCredentials) SealCredential(tool, url string, c slipway.Credential) (string, error) {
	plain, err := json.Marshal(sealedCredential(c)) //nolint:gosec // G117: this is the plaintext that is sealed on the next line, never stored or sent
	if err != nil {
		return "", fmt.Errorf("seal credential: %w", err)
	}
	return r.sealer.seal(plain, repoCredentialAD(tool, url)), nil
}

// OpenCredential returns the credential sealed as tool's url. A wrong key,
// a damaged value or one sealed for another tool or URL is an error (which
// never contains the credential), never a panic.
func (r *RepoCredentials) OpenCredential(tool, url, sealed string) (slipway.Credential, error) {
	plain, err := r.sealer.open(sealed, repoCredentialAD(tool, url))
	if err != nil {
		return slipway.Credential{}, fmt.Errorf("credential of %s for %s: %w", tool, url, err)
	}
	var c sealedCredential
	if err := json.Unmarshal(plain, &c); err != nil {
		return slipway.Credential{}, fmt.Errorf("credential of %s for %s: sealed value is not a credential", tool, url)
	}
	return slipway.Credential(c), nil
}

// Lookup returns the stored credential of tool's url: ENotFound when there
// is none.
func (r *RepoCredentials) Lookup(ctx context.Context, tool, url string) (slipway.Credential, error) {
	row, err := r.st.RepoCredentialGet(ctx, tool, url)
	if errors.Is(err, store.ErrNotFound) {
		return slipway.Credential{}, &slipway.Error{
			Code:    slipway.ENotFound,
			Message: fmt.Sprintf("No credential is stored for %s of tool %s: post the config again with the credential in the URL (https://user:password@host/…)", url, tool),
			Err:     err,
		}
	}
	if err != nil {
		return slipway.Credential{}, err
	}
	return r.OpenCredential(tool, url, row.Sealed)
}
