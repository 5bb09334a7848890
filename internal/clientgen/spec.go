package main

import (
	"fmt"
	"os"
	"strings"

	"gopkg.in/yaml.v3"
)

// ordered is a YAML mapping that keeps its keys in the document's order,
// so that the generated code lists fields and operations as the spec does.
type ordered[T any] struct {
	Keys []string
	Map  map[string]T
}

func (o *ordered[T]) UnmarshalYAML(n *yaml.Node) error {
	if n.Kind != yaml.MappingNode {
		return fmt.Errorf("line %d: want a mapping", n.Line)
	}
	o.Map = make(map[string]T, len(n.Content)/2)
	for i := 0; i+1 < len(n.Content); i += 2 {
		var v T
		if err := n.Content[i+1].Decode(&v); err != nil {
			return fmt.Errorf("%s: %w", n.Content[i].Value, err)
		}
		k := n.Content[i].Value
		o.Keys = append(o.Keys, k)
		o.Map[k] = v
	}
	return nil
}

// spec is the part of an OpenAPI 3.0 document that the generator reads.
type spec struct {
	Info struct {
		Title   string `yaml:"title"`
		Version string `yaml:"version"`
	} `yaml:"info"`
	Paths      ordered[*pathItem] `yaml:"paths"`
	Components struct {
		Schemas       ordered[*schema]     `yaml:"schemas"`
		Parameters    map[string]*param    `yaml:"parameters"`
		Responses     map[string]*response `yaml:"responses"`
		RequestBodies map[string]*body     `yaml:"requestBodies"`
	} `yaml:"components"`
}

type pathItem struct {
	Parameters []*param   `yaml:"parameters"`
	Get        *operation `yaml:"get"`
	Put        *operation `yaml:"put"`
	Post       *operation `yaml:"post"`
	Patch      *operation `yaml:"patch"`
	Delete     *operation `yaml:"delete"`
}

type operation struct {
	OperationID string             `yaml:"operationId"`
	Summary     string             `yaml:"summary"`
	Description string             `yaml:"description"`
	Parameters  []*param           `yaml:"parameters"`
	RequestBody *body              `yaml:"requestBody"`
	Responses   ordered[*response] `yaml:"responses"`
	Deprecated  bool               `yaml:"deprecated"`
}

type param struct {
	Ref         string  `yaml:"$ref"`
	Name        string  `yaml:"name"`
	In          string  `yaml:"in"`
	Required    bool    `yaml:"required"`
	Description string  `yaml:"description"`
	Schema      *schema `yaml:"schema"`
	GoName      string  `yaml:"x-go-name"`
}

type body struct {
	Ref         string              `yaml:"$ref"`
	Required    bool                `yaml:"required"`
	Description string              `yaml:"description"`
	Content     ordered[*mediaType] `yaml:"content"`
}

type response struct {
	Ref         string              `yaml:"$ref"`
	Description string              `yaml:"description"`
	Content     ordered[*mediaType] `yaml:"content"`
}

type mediaType struct {
	Schema *schema `yaml:"schema"`
}

type schema struct {
	Ref                  string           `yaml:"$ref"`
	Type                 string           `yaml:"type"`
	Format               string           `yaml:"format"`
	Description          string           `yaml:"description"`
	Enum                 []any            `yaml:"enum"`
	Nullable             bool             `yaml:"nullable"`
	Items                *schema          `yaml:"items"`
	Required             []string         `yaml:"required"`
	Properties           ordered[*schema] `yaml:"properties"`
	AdditionalProperties *additional      `yaml:"additionalProperties"`
	AllOf                []*schema        `yaml:"allOf"`
	OneOf                []*schema        `yaml:"oneOf"`
	AnyOf                []*schema        `yaml:"anyOf"`
}

// additional is additionalProperties: a boolean or a schema.
type additional struct {
	Allowed bool
	Schema  *schema
}

func (a *additional) UnmarshalYAML(n *yaml.Node) error {
	if n.Kind == yaml.ScalarNode {
		return n.Decode(&a.Allowed)
	}
	a.Allowed = true
	return n.Decode(&a.Schema)
}

func loadSpec(path string) (*spec, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("read the spec: %w", err)
	}
	var s spec
	if err := yaml.Unmarshal(b, &s); err != nil {
		return nil, fmt.Errorf("parse %s: %w", path, err)
	}
	return &s, nil
}

// refName returns the last element of a local reference, checking that it
// is under #/components/<kind>/.
func refName(ref, kind string) (string, error) {
	prefix := "#/components/" + kind + "/"
	if !strings.HasPrefix(ref, prefix) {
		return "", fmt.Errorf("reference %q: only %s… references are supported", ref, prefix)
	}
	return strings.TrimPrefix(ref, prefix), nil
}

func (s *spec) param(p *param) (*param, error) {
	if p.Ref == "" {
		return p, nil
	}
	name, err := refName(p.Ref, "parameters")
	if err != nil {
		return nil, err
	}
	q, ok := s.Components.Parameters[name]
	if !ok {
		return nil, fmt.Errorf("reference %q: no such parameter", p.Ref)
	}
	return q, nil
}

func (s *spec) response(r *response) (*response, error) {
	if r.Ref == "" {
		return r, nil
	}
	name, err := refName(r.Ref, "responses")
	if err != nil {
		return nil, err
	}
	q, ok := s.Components.Responses[name]
	if !ok {
		return nil, fmt.Errorf("reference %q: no such response", r.Ref)
	}
	return q, nil
}

func (s *spec) body(b *body) (*body, error) {
	if b == nil || b.Ref == "" {
		return b, nil
	}
	name, err := refName(b.Ref, "requestBodies")
	if err != nil {
		return nil, err
	}
	q, ok := s.Components.RequestBodies[name]
	if !ok {
		return nil, fmt.Errorf("reference %q: no such request body", b.Ref)
	}
	return q, nil
}
