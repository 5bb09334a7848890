package slipway

import "errors"

// ErrSourceURL marks the errors of fetching and reading a config's
// source_url (TOOLFORGE-COMPAT.md §3.4): an [Error] whose cause is this is
// answered 400, as Toolforge does, with its Message ("Unable to retrieve
// config from source url …: …").
var ErrSourceURL = errors.New("source url")
