// Command clientgen generates Slipway's Python and TypeScript clients from
// api/openapi.yaml: clients/python/slipway_client/{models,client}.py and
// clients/typescript/src/index.ts. `go generate ./clients` runs it (make
// generate), and make check-generated fails when what it writes differs
// from what is committed.
//
// It reads the part of OpenAPI 3.0 that the spec uses: local references,
// path, query and header parameters, JSON bodies (and YAML text where an
// operation takes it), JSON and text answers, objects, arrays, maps,
// enums and nullable values. It fails, naming the place, on anything else,
// rather than generate a client that does not say what the server does.
package main

import (
	"flag"
	"fmt"
	"os"
	"path/filepath"

	"slipway.dev/slipway/internal/atomicfile"
)

func main() {
	specPath := flag.String("spec", "api/openapi.yaml", "the OpenAPI document")
	pyDir := flag.String("python", "clients/python/slipway_client", "the Python package's directory")
	tsFile := flag.String("typescript", "clients/typescript/src/index.ts", "the TypeScript module")
	flag.Parse()
	if err := run(*specPath, *pyDir, *tsFile); err != nil {
		fmt.Fprintln(os.Stderr, "clientgen:", err)
		os.Exit(1)
	}
}

func run(specPath, pyDir, tsFile string) error {
	s, err := loadSpec(specPath)
	if err != nil {
		return err
	}
	ops, err := s.operations()
	if err != nil {
		return err
	}
	files, err := generate(s, ops)
	if err != nil {
		return err
	}
	out := map[string][]byte{
		filepath.Join(pyDir, "models.py"):   files.pyModels,
		filepath.Join(pyDir, "client.py"):   files.pyClient,
		filepath.Join(pyDir, "__init__.py"): files.pyInit,
		tsFile:                              files.ts,
	}
	for path, b := range out {
		if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
			return fmt.Errorf("write %s: %w", path, err)
		}
		if err := atomicfile.Write(path, b, 0o644); err != nil {
			return fmt.Errorf("write %s: %w", path, err)
		}
	}
	return nil
}

type generated struct {
	pyModels, pyClient, pyInit, ts []byte
}

func generate(s *spec, ops []op) (generated, error) {
	var g generated
	var err error
	py := &pyGen{s: s}
	if g.pyModels, err = py.models(); err != nil {
		return g, fmt.Errorf("python models: %w", err)
	}
	if g.pyClient, err = py.client(ops); err != nil {
		return g, fmt.Errorf("python client: %w", err)
	}
	g.pyInit = []byte(pyHeader + pyInit)
	ts := &tsGen{s: s}
	if g.ts, err = ts.module(ops); err != nil {
		return g, fmt.Errorf("typescript: %w", err)
	}
	return g, nil
}

const pyInit = `"""Slipway's API client for Python, generated from api/openapi.yaml.

    from slipway_client import Client, SlipwayError

    api = Client("http://127.0.0.1:8080", token)
    api.create_tool_config("mytool", {"components": {...}})
    deployment = api.create_deployment("mytool")["data"]

Every operation of the API is a method of Client (its operationId in
snake_case); the types of the bodies are in slipway_client.models.
"""

from .client import Client, SlipwayError
from . import models

__all__ = ["Client", "SlipwayError", "models"]
`
