package main

import (
	"bytes"
	"fmt"
	"strconv"
	"strings"
)

var pyKeywords = map[string]bool{}

func init() {
	for k := range strings.FieldsSeq(`False None True and as assert async await break class continue def del elif else
		except finally for from global if import in is lambda nonlocal not or pass raise return try while with yield
		self body`) {
		pyKeywords[k] = true
	}
}

// pyReserved are the module's own names, which no schema may take.
var pyReserved = map[string]bool{
	"Any": true, "Literal": true, "Optional": true, "Required": true, "TypedDict": true, "Union": true,
	"Client": true, "SlipwayError": true, "Messages": true,
}

func pyIdent(w []string) string {
	id := snake(w)
	if pyKeywords[id] {
		id += "_"
	}
	return id
}

func isIdent(s string) bool {
	if s == "" {
		return false
	}
	for i, r := range s {
		if r == '_' || (r >= 'a' && r <= 'z') || (r >= 'A' && r <= 'Z') || (i > 0 && r >= '0' && r <= '9') {
			continue
		}
		return false
	}
	return true
}

// pyGen renders the Python package: models.py (a TypedDict or alias per
// schema) and client.py (a method per operation).
type pyGen struct {
	s     *spec
	extra []pyClass // inline objects, named after where they are
	err   error
}

type pyClass struct {
	name string
	s    *schema
}

// typ returns the Python type of s; refs are quoted when quote is set
// (in runtime expressions: aliases and functional TypedDicts).
func (g *pyGen) typ(s *schema, name string, quote bool) string {
	if s == nil {
		return "Any"
	}
	t := g.baseTyp(s, name, quote)
	if s.Nullable && t != "Any" {
		return "Optional[" + t + "]"
	}
	return t
}

func (g *pyGen) baseTyp(s *schema, name string, quote bool) string {
	if s.Ref != "" {
		n, err := refName(s.Ref, "schemas")
		if err != nil && g.err == nil {
			g.err = err
		}
		if quote {
			return strconv.Quote(n)
		}
		return n
	}
	if len(s.AllOf) == 1 {
		return g.typ(s.AllOf[0], name, quote)
	}
	if len(s.AllOf)+len(s.OneOf)+len(s.AnyOf) > 0 {
		var alts []string
		for _, x := range append(append(append([]*schema(nil), s.AllOf...), s.OneOf...), s.AnyOf...) {
			alts = append(alts, g.typ(x, name, quote))
		}
		if len(s.AllOf) > 0 {
			return "Any" // an intersection Python's typing cannot say
		}
		return "Union[" + strings.Join(alts, ", ") + "]"
	}
	if len(s.Enum) > 0 {
		var vals []string
		for _, v := range s.Enum {
			switch v := v.(type) {
			case string:
				vals = append(vals, strconv.Quote(v))
			default:
				vals = append(vals, fmt.Sprint(v))
			}
		}
		return "Literal[" + strings.Join(vals, ", ") + "]"
	}
	switch s.Type {
	case "string":
		return "str"
	case "integer":
		return "int"
	case "number":
		return "float"
	case "boolean":
		return "bool"
	case "array":
		return "list[" + g.typ(s.Items, name+"Item", quote) + "]"
	case "object", "":
		if len(s.Properties.Keys) > 0 {
			g.extra = append(g.extra, pyClass{name, s})
			if quote {
				return strconv.Quote(name)
			}
			return name
		}
		if s.AdditionalProperties != nil && s.AdditionalProperties.Schema != nil {
			return "dict[str, " + g.typ(s.AdditionalProperties.Schema, name+"Value", quote) + "]"
		}
		return "dict[str, Any]"
	}
	return "Any"
}

func pyDoc(b *bytes.Buffer, indent string, text ...string) {
	var ls []string
	for _, t := range text {
		if len(ls) > 0 && len(lines(t)) > 0 {
			ls = append(ls, "")
		}
		ls = append(ls, lines(t)...)
	}
	if len(ls) == 0 {
		return
	}
	esc := strings.NewReplacer(`\`, `\\`, `"""`, `\"\"\"`)
	fmt.Fprintf(b, "%s\"\"\"%s\n", indent, esc.Replace(ls[0]))
	for _, l := range ls[1:] {
		if l == "" {
			b.WriteString("\n")
			continue
		}
		fmt.Fprintf(b, "%s%s\n", indent, esc.Replace(l))
	}
	if len(ls) > 1 {
		fmt.Fprintf(b, "%s\"\"\"\n", indent)
	} else {
		// One line: close it on the same line.
		b.Truncate(b.Len() - 1)
		b.WriteString("\"\"\"\n")
	}
}

func (g *pyGen) class(b *bytes.Buffer, name string, s *schema) {
	required := map[string]bool{}
	for _, r := range s.Required {
		required[r] = true
	}
	functional := false
	for _, k := range s.Properties.Keys {
		if !isIdent(k) || pyKeywords[k] && k != "self" && k != "body" {
			functional = true
		}
	}
	if functional {
		fmt.Fprintf(b, "%s = TypedDict(\n    %q,\n    {\n", name, name)
		for _, k := range s.Properties.Keys {
			t := g.typ(s.Properties.Map[k], name+pascal(words(k)), true)
			if required[k] {
				t = "Required[" + t + "]"
			}
			fmt.Fprintf(b, "        %q: %s,\n", k, t)
		}
		b.WriteString("    },\n    total=False,\n)\n")
		if d := lines(s.Description); len(d) > 0 {
			fmt.Fprintf(b, "%s.__doc__ = %q\n", name, strings.Join(d, "\n"))
		}
		return
	}
	fmt.Fprintf(b, "class %s(TypedDict, total=False):\n", name)
	pyDoc(b, "    ", s.Description)
	if len(lines(s.Description)) > 0 {
		b.WriteString("\n")
	}
	for _, k := range s.Properties.Keys {
		p := s.Properties.Map[k]
		for _, l := range lines(p.Description) {
			fmt.Fprintf(b, "    #: %s\n", strings.TrimRight(l, " "))
		}
		t := g.typ(p, name+pascal(words(k)), false)
		if required[k] {
			t = "Required[" + t + "]"
		}
		fmt.Fprintf(b, "    %s: %s\n", k, t)
	}
}

func (g *pyGen) models() ([]byte, error) {
	var b bytes.Buffer
	b.WriteString(pyHeader)
	b.WriteString(`"""The Slipway API's types, one per schema of api/openapi.yaml.

Objects are TypedDicts: the client returns the JSON it receives as plain
dicts and lists, and these say which keys to expect.
"""

from __future__ import annotations

from typing import Any, Literal, Optional, Required, TypedDict, Union

__all__ = [
`)
	for _, n := range g.s.Components.Schemas.Keys {
		fmt.Fprintf(&b, "    %q,\n", n)
	}
	b.WriteString("]\n")
	for _, n := range g.s.Components.Schemas.Keys {
		if pyReserved[n] || !isIdent(n) {
			return nil, fmt.Errorf("schema %s: not a name the Python client can use", n)
		}
		s := g.s.Components.Schemas.Map[n]
		b.WriteString("\n\n")
		if s.Ref == "" && (s.Type == "object" || s.Type == "") && len(s.Properties.Keys) > 0 {
			g.class(&b, n, s)
			continue
		}
		fmt.Fprintf(&b, "%s = %s\n", n, g.typ(s, n, true))
		if d := lines(s.Description); len(d) > 0 {
			for _, l := range d {
				fmt.Fprintf(&b, "#: %s\n", strings.TrimRight(l, " "))
			}
		}
	}
	for i := 0; i < len(g.extra); i++ { // classes may add more
		c := g.extra[i]
		if _, dup := g.s.Components.Schemas.Map[c.name]; dup {
			return nil, fmt.Errorf("inline object %s: a schema has that name", c.name)
		}
		b.WriteString("\n\n")
		g.class(&b, c.name, c.s)
	}
	// Python's typing has no Any in a Union of TypedDict; nothing else to fix.
	return b.Bytes(), g.err
}

func (g *pyGen) client(ops []op) ([]byte, error) {
	var b bytes.Buffer
	b.WriteString(pyHeader)
	b.WriteString(pyRuntime)
	for _, o := range ops {
		g.method(&b, o)
	}
	return b.Bytes(), g.err
}

func (g *pyGen) method(b *bytes.Buffer, o op) {
	name := pyIdent(words(o.ID))
	var sig []string
	sig = append(sig, "self")
	for _, a := range o.PathParams {
		sig = append(sig, pyIdent(a.Words)+": str")
	}
	bodyType := ""
	if o.Body != nil {
		switch {
		case o.Body.Schema == nil:
			bodyType = "Union[str, bytes]"
		case o.Body.TextType != "":
			bodyType = "Union[" + g.typ(o.Body.Schema, pascal(words(o.ID))+"Body", false) + ", str]"
		default:
			bodyType = g.typ(o.Body.Schema, pascal(words(o.ID))+"Body", false)
		}
		if o.Body.Required {
			sig = append(sig, "body: "+bodyType)
		}
	}
	var kw []string
	if o.Body != nil && !o.Body.Required {
		kw = append(kw, "body: Optional["+bodyType+"] = None")
	}
	for _, a := range append(append([]arg(nil), o.Query...), o.Headers...) {
		t := g.typ(a.Schema, pascal(words(o.ID))+pascal(a.Words), false)
		kw = append(kw, pyIdent(a.Words)+": Optional["+t+"] = None")
	}
	if len(kw) > 0 {
		sig = append(sig, "*")
		sig = append(sig, kw...)
	}
	ret := "None"
	switch {
	case o.Result.JSON != nil:
		ret = g.typ(o.Result.JSON, pascal(words(o.ID))+"Result", false)
	case o.Result.Text:
		ret = "str"
	}
	fmt.Fprintf(b, "\n    def %s(\n        %s,\n    ) -> %s:\n", name, strings.Join(sig, ",\n        "), ret)
	doc := []string{o.Summary + ".", fmt.Sprintf("``%s %s`` (operation ``%s``).", o.Method, o.Path, o.ID), o.Description}
	var params []string
	for _, a := range o.Query {
		if d := strings.Join(lines(a.Description), " "); d != "" {
			params = append(params, fmt.Sprintf("%s (query ``%s``): %s", pyIdent(a.Words), a.Wire, d))
		}
	}
	for _, a := range o.Headers {
		params = append(params, fmt.Sprintf("%s (header ``%s``): %s", pyIdent(a.Words), a.Wire, strings.Join(lines(a.Description), " ")))
	}
	if len(params) > 0 {
		doc = append(doc, "Keyword arguments:\n\n"+strings.Join(params, "\n"))
	}
	pyDoc(b, "        ", doc...)
	path := o.Path
	var fmtArgs []string
	for _, a := range o.PathParams {
		fmtArgs = append(fmtArgs, fmt.Sprintf("%s=_path(%s)", a.Wire, pyIdent(a.Words)))
	}
	pathExpr := strconv.Quote(path)
	if len(fmtArgs) > 0 {
		pathExpr += ".format(" + strings.Join(fmtArgs, ", ") + ")"
	}
	var query []string
	for _, a := range o.Query {
		query = append(query, fmt.Sprintf("(%q, %s)", a.Wire, pyIdent(a.Words)))
	}
	var headers []string
	for _, a := range o.Headers {
		headers = append(headers, fmt.Sprintf("(%q, %s)", a.Wire, pyIdent(a.Words)))
	}
	bodyArg := "_NO_BODY"
	if o.Body != nil {
		bodyArg = "body"
	}
	resultKind := `"none"`
	switch {
	case o.Result.JSON != nil:
		resultKind = `"json"`
	case o.Result.Text:
		resultKind = `"text"`
	}
	fmt.Fprintf(b, "        return self._call(\n            %q,\n            %s,\n            query=[%s],\n            headers=[%s],\n            body=%s,\n            text_type=%s,\n            result=%s,\n        )\n",
		o.Method, pathExpr, strings.Join(query, ", "), strings.Join(headers, ", "), bodyArg, pyTextType(o.Body), resultKind)
}

func pyTextType(b *reqBody) string {
	if b == nil || b.TextType == "" {
		return "None"
	}
	return strconv.Quote(b.TextType)
}

const pyHeader = "# Code generated by internal/clientgen from api/openapi.yaml. DO NOT EDIT.\n\n"

const pyRuntime = `"""A client of the Slipway API, one method per operation of api/openapi.yaml.

Only the standard library: urllib.request and json.
"""

from __future__ import annotations

import json
import os
import ssl
import urllib.error
import urllib.parse
import urllib.request
from typing import Any, Literal, Optional, Union

from .models import *  # noqa: F401,F403 (the types the signatures name)

__all__ = ["Client", "SlipwayError"]

_NO_BODY = object()


class SlipwayError(Exception):
    """An answer of the server that is not a success (4xx, 5xx).

    ` + "``status``" + ` is the HTTP status code, ` + "``errors``" + ` the server's
    messages for people (its ` + "``messages.error``" + `), ` + "``body``" + ` the parsed
    JSON body (or its text when it is not JSON) and ` + "``request_id``" + `
    the X-Request-Id under which the server logged it.
    """

    def __init__(
        self,
        method: str,
        path: str,
        status: int,
        errors: list[str],
        body: Any,
        request_id: str = "",
    ) -> None:
        self.method = method
        self.path = path
        self.status = status
        self.errors = errors
        self.body = body
        self.request_id = request_id
        why = "; ".join(errors) if errors else "HTTP %d" % status
        super().__init__("%s %s: %d: %s" % (method, path, status, why))


def _path(value: str) -> str:
    return urllib.parse.quote(str(value), safe="")


def _query_value(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    return str(value)


class Client:
    """A Slipway server's API.

    ` + "``url``" + ` is the server's address (` + "``http://127.0.0.1:8080``" + `), ` + "``token``" + ` a
    bearer: the admin token, a tool's API token (` + "``slw_t_…``" + `) or, for
    creating and reading deployments, a tool's deploy token. ` + "``cafile``" + `
    is a CA certificate (PEM) to trust for an https URL, such as the
    server's own CA. ` + "``timeout``" + ` bounds each request in seconds; it
    must exceed a long poll's ` + "``wait``" + `.
    """

    def __init__(
        self,
        url: str,
        token: Optional[str] = None,
        *,
        cafile: Optional[str] = None,
        timeout: float = 90.0,
    ) -> None:
        self.url = url.rstrip("/")
        self.token = token
        self.timeout = timeout
        self._context = ssl.create_default_context(cafile=cafile) if cafile else None

    @classmethod
    def from_env(cls) -> "Client":
        """A client configured as the CLI is: $SLIPWAY_URL, $SLIPWAY_TOKEN, $SLIPWAY_CA_FILE."""
        url = os.environ.get("SLIPWAY_URL", "")
        if not url:
            raise ValueError("SLIPWAY_URL is not set")
        return cls(
            url,
            os.environ.get("SLIPWAY_TOKEN") or None,
            cafile=os.environ.get("SLIPWAY_CA_FILE") or None,
        )

    def _call(
        self,
        method: str,
        path: str,
        *,
        query: list[tuple[str, Any]],
        headers: list[tuple[str, Any]],
        body: Any,
        text_type: Optional[str],
        result: str,
    ) -> Any:
        pairs = [(k, _query_value(v)) for k, v in query if v is not None]
        url = self.url + path
        if pairs:
            url += "?" + urllib.parse.urlencode(pairs)
        req = urllib.request.Request(url, method=method)
        req.add_header("Accept", "application/json")
        if self.token:
            req.add_header("Authorization", "Bearer " + self.token)
        for k, v in headers:
            if v is not None:
                req.add_header(k, _query_value(v))
        data = None
        if body is not _NO_BODY and body is not None:
            if text_type and isinstance(body, (str, bytes)):
                data = body.encode() if isinstance(body, str) else body
                req.add_header("Content-Type", text_type)
            else:
                data = json.dumps(body).encode()
                req.add_header("Content-Type", "application/json")
        try:
            with urllib.request.urlopen(req, data=data, timeout=self.timeout, context=self._context) as resp:
                raw = resp.read()
        except urllib.error.HTTPError as e:
            raw = e.read()
            try:
                parsed: Any = json.loads(raw)
            except ValueError:
                parsed = raw.decode("utf-8", "replace")
            errors: list[str] = []
            if isinstance(parsed, dict):
                messages = parsed.get("messages")
                if isinstance(messages, dict) and isinstance(messages.get("error"), list):
                    errors = [str(m) for m in messages["error"]]
            elif parsed:
                errors = [str(parsed).strip()]
            raise SlipwayError(method, path, e.code, errors, parsed, e.headers.get("X-Request-Id", "")) from None
        if result == "json":
            return json.loads(raw)
        if result == "text":
            return raw.decode("utf-8", "replace")
        return None
`
