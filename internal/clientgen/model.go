package main

import (
	"fmt"
	"sort"
	"strings"
	"unicode"
)

// op is one operation of the spec, with its references resolved.
type op struct {
	ID          string
	Method      string // GET, POST, …
	Path        string // with {name} placeholders
	Summary     string
	Description string
	PathParams  []arg // in the order they appear in the path
	Query       []arg
	Headers     []arg
	Body        *reqBody
	Result      result
}

// arg is a parameter of an operation.
type arg struct {
	Wire        string // its name on the wire
	Words       []string
	Description string
	Schema      *schema
	Required    bool
}

type reqBody struct {
	Schema   *schema // the JSON body's schema; nil when the operation takes no JSON
	Required bool
	// TextType is the media type a body given as text is sent as: YAML
	// beside JSON (application/yaml), or the operation's only type when
	// it takes no JSON (text/plain, application/octet-stream, …); "" when
	// it takes JSON only.
	TextType    string
	Description string
}

type result struct {
	JSON *schema // the 2xx JSON body's schema; nil when the body is not JSON
	Text bool    // the 2xx body is not JSON (text/plain, text/event-stream, …): returned as text
}

var methods = []string{"get", "put", "post", "patch", "delete"}

func (pi *pathItem) op(m string) *operation {
	switch m {
	case "get":
		return pi.Get
	case "put":
		return pi.Put
	case "post":
		return pi.Post
	case "patch":
		return pi.Patch
	default:
		return pi.Delete
	}
}

// operations returns the spec's operations in the document's order.
func (s *spec) operations() ([]op, error) {
	var ops []op
	seen := map[string]bool{}
	for _, path := range s.Paths.Keys {
		pi := s.Paths.Map[path]
		for _, m := range methods {
			o := pi.op(m)
			if o == nil {
				continue
			}
			if o.OperationID == "" {
				return nil, fmt.Errorf("%s %s: no operationId", strings.ToUpper(m), path)
			}
			if seen[o.OperationID] {
				return nil, fmt.Errorf("operationId %s: used twice", o.OperationID)
			}
			seen[o.OperationID] = true
			x, err := s.makeOp(path, m, pi, o)
			if err != nil {
				return nil, fmt.Errorf("%s: %w", o.OperationID, err)
			}
			ops = append(ops, x)
		}
	}
	return ops, nil
}

func (s *spec) makeOp(path, method string, pi *pathItem, o *operation) (op, error) {
	x := op{ID: o.OperationID, Method: strings.ToUpper(method), Path: path, Summary: o.Summary, Description: o.Description}
	// Operation parameters override the path's of the same name and place.
	var params []*param
	byKey := map[string]int{}
	for _, list := range [][]*param{pi.Parameters, o.Parameters} {
		for _, p := range list {
			p, err := s.param(p)
			if err != nil {
				return op{}, err
			}
			k := p.In + " " + p.Name
			if i, ok := byKey[k]; ok {
				params[i] = p
				continue
			}
			byKey[k] = len(params)
			params = append(params, p)
		}
	}
	pathParams := map[string]arg{}
	names := map[string]string{}
	for _, p := range params {
		a := arg{Wire: p.Name, Words: words(p.Name), Description: p.Description, Schema: p.Schema, Required: p.Required}
		if p.GoName != "" {
			a.Words = words(p.GoName)
		}
		id := strings.Join(a.Words, "_")
		if prev, ok := names[id]; ok {
			return op{}, fmt.Errorf("parameters %q and %q have the same name %s in the clients (set x-go-name)", prev, p.Name, id)
		}
		names[id] = p.Name
		switch p.In {
		case "path":
			a.Required = true
			pathParams[p.Name] = a
		case "query":
			x.Query = append(x.Query, a)
		case "header":
			x.Headers = append(x.Headers, a)
		default:
			return op{}, fmt.Errorf("parameter %s: in %q is not supported", p.Name, p.In)
		}
	}
	for rest := path; ; {
		i := strings.IndexByte(rest, '{')
		if i < 0 {
			break
		}
		j := strings.IndexByte(rest[i:], '}')
		if j < 0 {
			return op{}, fmt.Errorf("path %s: unclosed {", path)
		}
		name := rest[i+1 : i+j]
		a, ok := pathParams[name]
		if !ok {
			return op{}, fmt.Errorf("path %s: parameter %s is not declared", path, name)
		}
		x.PathParams = append(x.PathParams, a)
		delete(pathParams, name)
		rest = rest[i+j+1:]
	}
	if len(pathParams) > 0 {
		return op{}, fmt.Errorf("path parameters not in the path %s: %v", path, sortedKeys(pathParams))
	}
	b, err := s.body(o.RequestBody)
	if err != nil {
		return op{}, err
	}
	if b != nil {
		rb := &reqBody{Required: b.Required, Description: b.Description}
		for _, ct := range b.Content.Keys {
			switch {
			case ct == "application/json":
				rb.Schema = b.Content.Map[ct].Schema
			case strings.Contains(ct, "yaml"):
				if rb.TextType == "" || !strings.Contains(rb.TextType, "yaml") {
					rb.TextType = ct // the first YAML type, over any other text
				}
			case strings.HasPrefix(ct, "multipart/"), ct == "application/x-www-form-urlencoded":
				return op{}, fmt.Errorf("request body %s is not supported", ct)
			case rb.TextType == "":
				rb.TextType = ct
			}
		}
		if rb.Schema == nil && rb.TextType == "" {
			return op{}, fmt.Errorf("request body without a media type")
		}
		x.Body = rb
	}
	for _, code := range o.Responses.Keys {
		if !strings.HasPrefix(code, "2") {
			continue
		}
		r, err := s.response(o.Responses.Map[code])
		if err != nil {
			return op{}, err
		}
		for _, ct := range r.Content.Keys {
			if ct == "application/json" {
				x.Result.JSON = r.Content.Map[ct].Schema
			} else {
				x.Result.Text = true // text/plain, text/event-stream, …: the body as text
			}
		}
		break
	}
	return x, nil
}

func sortedKeys[T any](m map[string]T) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	return keys
}

// words splits a name in any of the spec's spellings (operationId
// camelCase, x-go-name PascalCase, snake_case, kebab-case) into lowercase
// words: "getOpenAPI" → get open api, "Last-Event-ID" → last event id.
func words(s string) []string {
	var out []string
	rs := []rune(s)
	start := -1
	flush := func(end int) {
		if start >= 0 && end > start {
			out = append(out, strings.ToLower(string(rs[start:end])))
		}
		start = -1
	}
	for i, r := range rs {
		if !unicode.IsLetter(r) && !unicode.IsDigit(r) {
			flush(i)
			continue
		}
		if start < 0 {
			start = i
			continue
		}
		prev := rs[i-1]
		// A capital starts a word after a lower-case letter or digit, and
		// ends an acronym when a lower-case letter follows it ("APIToken").
		if unicode.IsUpper(r) && (unicode.IsLower(prev) || unicode.IsDigit(prev) ||
			(unicode.IsUpper(prev) && i+1 < len(rs) && unicode.IsLower(rs[i+1]))) {
			flush(i)
			start = i
		}
	}
	flush(len(rs))
	return out
}

func snake(w []string) string { return strings.Join(w, "_") }

func camel(w []string) string {
	var b strings.Builder
	for i, x := range w {
		if i == 0 {
			b.WriteString(x)
			continue
		}
		b.WriteString(strings.ToUpper(x[:1]) + x[1:])
	}
	return b.String()
}

func pascal(w []string) string {
	var b strings.Builder
	for _, x := range w {
		b.WriteString(strings.ToUpper(x[:1]) + x[1:])
	}
	return b.String()
}

// lines returns text's lines without trailing blank ones.
func lines(text string) []string {
	text = strings.TrimRight(text, " \n")
	if text == "" {
		return nil
	}
	return strings.Split(text, "\n")
}
