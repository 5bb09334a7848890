// Package api embeds Slipway's HTTP contract, openapi.yaml, the source of
// truth from which the server types (internal/httpapi/oapi) and the client
// (internal/apiclient/oapiclient) are generated.
package api

import _ "embed"

// OpenAPIYAML is the OpenAPI 3.0 description of the HTTP API, as YAML.
//
//go:embed openapi.yaml
var OpenAPIYAML []byte
