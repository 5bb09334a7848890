// Package apiclient is the typed client of Slipway's HTTP API, used by the
// CLI and the end-to-end tests. It wraps the client generated from
// api/openapi.yaml (package oapiclient) and keeps the generated types inside.
//
// # Results
//
// Calls return an [Envelope]: the response's data as raw JSON (so that a
// config keeps the user's key order), its messages, and the whole body as
// received (the CLI's --json prints it for some commands). Decode the data
// with [Envelope.Deployment] or [Envelope.Deployments].
//
// # Errors
//
//   - A 4xx response is a [*slipway.Error] whose Code follows the status
//     (404 → ENotFound, 409 → EConflict, 401 → EUnauthorized, 403 →
//     EForbidden, other 4xx → EInvalid) and whose Message is the server's
//     messages.error[0].
//   - A 5xx response is a [*ServerError], with the server's request id.
//   - A connection failure is an [*UnreachableError], which matches
//     [ErrUnreachable] with errors.Is.
package apiclient
