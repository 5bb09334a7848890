package auth

import (
	"crypto/hmac"
	"crypto/sha256"
	"encoding/base64"
	"strings"

	"slipway.dev/slipway/internal/slipway"
)

// AskTokens issues and reads the credentials that a step's processes (a
// build, a one-off) get as $SLIPWAY_ASK_TOKEN to ask questions with
// `slipway ask`. A token names its tool, deployment and step and is signed
// with a key derived from the server's secret key, so every server sharing
// the store accepts it and nothing is stored; the questions service
// refuses it once its step is final, so it dies with the step.
type AskTokens struct {
	key []byte
}

// NewAskTokens returns the ask tokens signed with a key derived from
// secret (the server's secret key).
func NewAskTokens(secret []byte) *AskTokens {
	m := hmac.New(sha256.New, secret)
	m.Write([]byte("slipway ask token v1"))
	return &AskTokens{key: m.Sum(nil)}
}

// Issue returns the token of a step.
func (a *AskTokens) Issue(s slipway.AskScope) string {
	body := base64.RawURLEncoding.EncodeToString([]byte(s.Tool + "\x00" + s.DeploymentID + "\x00" + s.Step))
	return slipway.AskTokenPrefix + body + "." + a.sign(body)
}

// Parse returns the scope of token; ok is false for anything that is not
// an ask token this installation signed.
func (a *AskTokens) Parse(token string) (s slipway.AskScope, ok bool) {
	rest, found := strings.CutPrefix(token, slipway.AskTokenPrefix)
	if !found || len(rest) > 1024 {
		return slipway.AskScope{}, false
	}
	body, mac, found := strings.Cut(rest, ".")
	if !found || !hmac.Equal([]byte(mac), []byte(a.sign(body))) {
		return slipway.AskScope{}, false
	}
	return slipway.ReadAskScope(token)
}

func (a *AskTokens) sign(body string) string {
	m := hmac.New(sha256.New, a.key)
	m.Write([]byte(body))
	return base64.RawURLEncoding.EncodeToString(m.Sum(nil))
}
