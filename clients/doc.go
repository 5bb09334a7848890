// Package clients holds Slipway's client libraries for other languages,
// generated from api/openapi.yaml by internal/clientgen: python/ (the
// slipway_client package, standard library only) and typescript/ (a
// fetch-based module without runtime dependencies). The Go package has no
// code of its own: its tests run each client's example against a live
// server.
package clients

//go:generate go run ../internal/clientgen -spec ../api/openapi.yaml -python python/slipway_client -typescript typescript/src/index.ts
