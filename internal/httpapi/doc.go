// Package httpapi serves Slipway's HTTP API, described by api/openapi.yaml:
// Toolforge's components routes under /components/v1/... (also served without
// the /components prefix), /components/v1/healthz and /openapi.json, and a
// subset of Toolforge's jobs API under /jobs/v1/... (jobs.go, backed by a
// [JobsService]), whose answers are not wrapped in data.
//
// # Shape
//
// routes.go lists the whole surface. Each handler decodes the request,
// validates it, calls one [Service] method, and encodes the result in
// Toolforge's envelope {"data": ..., "messages": {"info", "warning", "error"}}.
// Errors go through writeError, which maps slipway error codes to HTTP
// statuses in one place and logs only internal errors. The generated types
// in package oapi are used only at this edge, converted from the slipway
// domain types in the handler files.
//
// # Middleware
//
// Every request gets a request id (X-Request-Id, taken from the request when
// it is sane, else generated), a structured log line (method, path without
// query, status, duration, request id; never tokens or query strings) and
// panic recovery. Every route except healthz and openapi.json requires
// "Authorization: Bearer <admin token>".
package httpapi
