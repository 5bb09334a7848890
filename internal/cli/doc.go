// Package cli is Slipway's command line: a cobra command tree whose
// `slipway components …` commands mirror `toolforge components …` (commands,
// flags, --json shapes, --yes-im-sure) and talk to a running server only
// through internal/apiclient.
//
// [Main] is the whole program as a function: it never touches os.Args,
// os.Getenv, os.Stdin, os.Stdout, os.Stderr or os.Exit, so tests run it
// in-process. Files are named noun_verb.go, one command each.
//
// # Server discovery
//
// The server URL comes from --url, SLIPWAY_URL, or the url in
// <data>/server.json, which `slipway server` writes; the token from --token,
// SLIPWAY_TOKEN, or <data>/admin-token. The data directory is --data,
// SLIPWAY_DATA, $XDG_DATA_HOME/slipway or $HOME/.local/share/slipway.
//
// # Exit codes
//
// 0 on success; 1 on an error (a 4xx answer, a failed deployment, a declined
// prompt, a server error); 2 when the server cannot be reached or the
// command line is wrong; 130 when interrupted.
package cli
