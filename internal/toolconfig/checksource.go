package toolconfig

import "slipway.dev/slipway/internal/slipway"

// CheckRepository returns what is wrong with a build repository, as the
// parser says it for a component's build.repository, or "". The builds
// API checks a build's source_url with it, so that a build started
// outside a config is held to the same rules.
func CheckRepository(s string) string { return slipway.CheckRepository(s) }

// CheckRef returns what is wrong with a build ref, as the parser says it
// for a component's build.ref, or "".
func CheckRef(s string) string { return slipway.CheckRef(s) }
