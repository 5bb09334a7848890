package httpapi

import (
	"bytes"
	"encoding/json"

	"slipway.dev/slipway/internal/slipway"
	"slipway.dev/slipway/internal/toolconfig"
)

// redactConfigJSON returns a config's set-fields JSON with the user info of
// its URLs replaced by ***. The deploy service stores configs that way
// already; this is the last guard for rows stored before it did (and for
// anything that slipped past it): no answer shows a credential.
func redactConfigJSON(raw json.RawMessage) json.RawMessage {
	if !bytes.Contains(raw, []byte("@")) {
		return raw // no URL with user info: the common case, without a parse
	}
	cfg, err := toolconfig.RewriteURLs(slipway.ToolConfig{Raw: raw}, func(_, v string) (string, error) {
		return slipway.RedactURL(v), nil
	})
	if err != nil || len(cfg.Raw) == 0 {
		return raw // not a config this binary parses: it cannot hold a URL it would take
	}
	return cfg.Raw
}
