// Package oapiclient holds the HTTP client and types generated from
// api/openapi.yaml. Only internal/apiclient uses it; everything else talks to
// the server through apiclient.
package oapiclient

//go:generate go tool oapi-codegen -config cfg.yaml ../../../api/openapi.yaml
