package toolconfig

import (
	"errors"

	"slipway.dev/slipway/internal/slipway"
)

// RewriteURLs returns cfg with the value of each URL field — source_url
// and every component's build.repository — replaced by what fn returns
// for it; fn gets the field's dotted path ("source_url",
// "components.web.build.repository") and its value. The config is parsed
// again from cfg.Raw, so Raw and the parsed fields agree and the order of
// the user's fields is kept. The errors fn returns become the problems of
// an EInvalid error, each naming its field (without a line and column: they
// would point into cfg.Raw, not into what the user wrote).
//
// The deploy service uses it to take the credentials out of repository URLs
// before a config is stored.
func RewriteURLs(cfg slipway.ToolConfig, fn func(path, value string) (string, error)) (slipway.ToolConfig, error) {
	if len(cfg.Raw) == 0 {
		return cfg, errors.New("toolconfig: rewrite URLs: the config has no Raw form")
	}
	// The config may be a stored one, from a Slipway with fewer rules.
	res, err := parse(cfg.Raw, false, fn)
	if err != nil {
		return cfg, err
	}
	return res.Config, nil
}

// URLs returns the values of cfg's URL fields, the ones [RewriteURLs]
// rewrites: source_url (when set), then each component's build.repository
// in the order of cfg.Names.
func URLs(cfg slipway.ToolConfig) []string {
	var urls []string
	if cfg.SourceURL != "" {
		urls = append(urls, cfg.SourceURL)
	}
	for _, name := range cfg.Names() {
		if src := cfg.Components[name].Build.Source; src != nil {
			urls = append(urls, src.Repository)
		}
	}
	return urls
}
