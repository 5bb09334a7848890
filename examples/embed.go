// Package examples ships the sample apps that `slipway demo` deploys. The
// demo copies them out of the binary into a fresh git repository, so the
// demo needs nothing but the slipway binary, git and a Go toolchain.
package examples

import "embed"

// Demo holds demo/: the sample app (app/) and its tool config
// (tool.yaml, with {{REPOSITORY}} standing for the repository URL). The
// app's go.mod is stored as go.mod.txt so that it does not split the app
// out of this module; the demo renames it.
//
//go:embed demo
var Demo embed.FS
