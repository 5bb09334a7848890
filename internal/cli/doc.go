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
// # Server-provided text
//
// Logs, statuses, messages and errors come from the server, and a tool
// writes its own logs: everything the CLI prints passes an escaper that
// shows control characters (ESC as \x1b, BEL as \a, U+009B as \u009b, a
// right-to-left override as \u202e, a byte that is not UTF-8 as \xff)
// instead of letting them drive the terminal; newlines, tabs and CRLF line
// ends pass. With --json the escapes are JSON's, so the output stays JSON
// with the same values. --raw prints everything as it came.
//
// # Exit codes
//
// 0 on success; 1 on an error (a 4xx answer, a failed deployment, a declined
// prompt, a server error); 2 when the server cannot be reached or the
// command line is wrong; 130 when interrupted.
package cli
