// Package oapi holds the server-side types and the std-http ServerInterface
// generated from api/openapi.yaml. Only internal/httpapi uses it, at the edge:
// handlers convert these types to and from the slipway domain types.
package oapi

//go:generate go tool oapi-codegen -config cfg.yaml ../../../api/openapi.yaml
