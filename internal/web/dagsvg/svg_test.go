package dagsvg

import (
	"bytes"
	"encoding/xml"
	"errors"
	"flag"
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
)

var update = flag.Bool("update", false, "rewrite the golden files in testdata")

func render(t *testing.T, nodes []Node) []byte {
	t.Helper()
	g := mustLayout(t, nodes)
	var buf bytes.Buffer
	if err := g.WriteSVG(&buf); err != nil {
		t.Fatalf("WriteSVG: %v", err)
	}
	return buf.Bytes()
}

func TestGoldenDiamond(t *testing.T) {
	got := render(t, diamond())
	path := filepath.Join("testdata", "diamond.svg")
	if *update {
		if err := os.WriteFile(path, got, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	want, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("%v (run go test -update to write it)", err)
	}
	if diff := cmp.Diff(string(want), string(got)); diff != "" {
		t.Errorf("SVG differs from %s (-want +got; go test -update rewrites it):\n%s", path, diff)
	}
}

func TestWriteSVGIsDeterministic(t *testing.T) {
	first := render(t, deployment(200, 380))
	for range 3 {
		if again := render(t, deployment(200, 380)); !bytes.Equal(first, again) {
			t.Fatal("two layouts of the same plan differ")
		}
	}
}

// element is a parsed SVG element.
type element struct {
	name   string
	attrs  map[string]string
	text   string // character data directly inside
	parent *element
}

// parse decodes the whole of doc as XML and returns its elements in
// document order, failing the test on any XML error.
func parse(t *testing.T, doc []byte) []*element {
	t.Helper()
	dec := xml.NewDecoder(bytes.NewReader(doc))
	var all, open []*element
	for {
		tok, err := dec.Token()
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			t.Fatalf("SVG is not XML: %v\n%s", err, doc)
		}
		switch tok := tok.(type) {
		case xml.StartElement:
			e := &element{name: tok.Name.Local, attrs: map[string]string{}}
			if len(open) > 0 {
				e.parent = open[len(open)-1]
			}
			for _, a := range tok.Attr {
				e.attrs[a.Name.Local] = a.Value
			}
			all, open = append(all, e), append(open, e)
		case xml.EndElement:
			open = open[:len(open)-1]
		case xml.CharData:
			if len(open) > 0 {
				open[len(open)-1].text += string(tok)
			}
		case xml.ProcInst, xml.Directive, xml.Comment:
			t.Errorf("unexpected %T in SVG", tok)
		}
	}
	if len(open) != 0 {
		t.Fatalf("%d elements left open", len(open))
	}
	return all
}

// nasty are IDs and texts a component name or a step's detail could bring.
var nasty = []string{
	`<script>alert(1)</script>`,
	`"quoted" and 'single'`,
	`a & b &amp; c`,
	`ünïcødé:日本語-🚀`,
	`]]><![CDATA[x`,
	"tab\tnew\nline\rreturn",
	"--><!--",
}

func nastyGraph() []Node {
	var nodes []Node
	for i, s := range nasty {
		nd := Node{ID: "run:" + s, Label: s, Sub: "detail " + s, State: "running"}
		if i > 0 {
			nd.Needs = []string{nodes[i-1].ID}
		}
		nodes = append(nodes, nd)
	}
	return nodes
}

func TestSVGIsXMLWithStableTargets(t *testing.T) {
	for name, nodes := range map[string][]Node{
		"diamond":    diamond(),
		"nasty":      nastyGraph(),
		"deployment": deployment(200, 380),
		"empty":      nil,
	} {
		t.Run(name, func(t *testing.T) {
			elems := parse(t, render(t, nodes))
			root := elems[0]
			if root.name != "svg" || root.attrs["role"] != "img" || root.attrs["viewBox"] == "" {
				t.Errorf("root %s %v, want <svg role=img viewBox=…>", root.name, root.attrs)
			}
			ids := map[string]*element{}
			nodeTitles := map[string]string{}
			edges := map[[2]string]bool{}
			for _, e := range elems {
				if id, ok := e.attrs["id"]; ok {
					if ids[id] != nil {
						t.Errorf("id %q twice", id)
					}
					ids[id] = e
				}
				for a := range e.attrs {
					if a == "style" || strings.HasPrefix(a, "on") {
						t.Errorf("<%s %s=…>: blocked by a strict CSP", e.name, a)
					}
				}
				switch {
				case e.name == "script" || e.name == "style" || e.name == "foreignObject":
					t.Errorf("<%s> in the SVG", e.name)
				case e.name == "path" && e.attrs["class"] == "edge":
					edges[[2]string{e.attrs["data-from"], e.attrs["data-to"]}] = true
				case e.name == "title" && e.parent != nil && e.parent.name == "g":
					nodeTitles[e.parent.attrs["id"]] = e.text
				}
			}
			if title := ids[root.attrs["aria-labelledby"]]; title == nil || title.name != "title" || title.text == "" {
				t.Errorf("aria-labelledby=%q names no <title>", root.attrs["aria-labelledby"])
			}
			for _, nd := range nodes {
				g := ids[NodeID(nd.ID)]
				if g == nil || g.name != "g" || g.attrs["class"] != "node "+stateClass(nd.State) {
					t.Errorf("node %q: no <g id=%q class=\"node state-…\">", nd.ID, NodeID(nd.ID))
					continue
				}
				title := nodeTitles[NodeID(nd.ID)]
				for _, s := range []string{nd.ID, nd.State, nd.Label, nd.Sub} {
					if !strings.Contains(title, s) {
						t.Errorf("node %q: title %q lacks %q", nd.ID, title, s)
					}
				}
				for _, need := range nd.Needs {
					if !edges[[2]string{need, nd.ID}] {
						t.Errorf("no edge with data-from=%q data-to=%q", need, nd.ID)
					}
				}
			}
		})
	}
}

func TestSVGEscapesEverything(t *testing.T) {
	out := string(render(t, nastyGraph()))
	for _, bad := range []string{"<script", `"quoted"`, "'single'", "& b", "]]>", "<![CDATA[", "<!--"} {
		if strings.Contains(out, bad) {
			t.Errorf("output contains %q unescaped", bad)
		}
	}
	if !strings.Contains(out, "日本語-🚀") {
		t.Error("unicode text was mangled")
	}
}

func TestEscapeReplacesWhatXMLForbids(t *testing.T) {
	in := "nul\x00 bell\x07 bad\xff utf8 \uFFFE end"
	got := string(appendEscaped(nil, in))
	want := "nul\uFFFD bell\uFFFD bad\uFFFD utf8 \uFFFD end"
	if got != want {
		t.Errorf("appendEscaped(%q) = %q, want %q", in, got, want)
	}
	parse(t, render(t, []Node{{ID: in, Sub: in, State: "\x01"}}))
}

func TestLongTextsAreCut(t *testing.T) {
	long := strings.Repeat("é", 40)
	elems := parse(t, render(t, []Node{{ID: "run:x", Label: long, Sub: strings.Repeat("s", 50), State: "done"}}))
	for _, e := range elems {
		switch {
		case e.name == "text" && e.attrs["class"] == "":
			if want := strings.Repeat("é", maxLabel-1) + "…"; e.text != want {
				t.Errorf("label %q, want %q", e.text, want)
			}
		case e.attrs["class"] == "sub":
			if want := strings.Repeat("s", maxSub-1) + "…"; e.text != want {
				t.Errorf("sub %q, want %q", e.text, want)
			}
		}
		if e.name == "title" && strings.HasPrefix(e.text, "run:x") && !strings.Contains(e.text, long) {
			t.Errorf("title %q lacks the whole label", e.text)
		}
	}
	if got := truncate(strings.Repeat("x", maxLabel), maxLabel); got != strings.Repeat("x", maxLabel) {
		t.Errorf("a label of exactly %d runes was cut to %q", maxLabel, got)
	}
}

func TestWriteNodeMatchesTheDrawing(t *testing.T) {
	nodes := diamond()
	g := mustLayout(t, nodes)
	var whole bytes.Buffer
	if err := g.WriteSVG(&whole); err != nil {
		t.Fatal(err)
	}
	var frag bytes.Buffer
	if err := g.WriteNode(&frag, nodes[1]); err != nil {
		t.Fatal(err)
	}
	if !bytes.Contains(whole.Bytes(), frag.Bytes()) {
		t.Errorf("fragment %s is not in the drawing", frag.Bytes())
	}
	frag.Reset()
	changed := nodes[1]
	changed.State, changed.Sub = "failed", "exit status 1"
	if err := g.WriteNode(&frag, changed); err != nil {
		t.Fatal(err)
	}
	elems := parse(t, frag.Bytes())
	if got := elems[0].attrs; got["id"] != NodeID("run:db") || got["class"] != "node state-failed" || got["transform"] != "translate("+itoa(g.Nodes[1].X)+" "+itoa(g.Nodes[1].Y)+")" {
		t.Errorf("fragment attributes %v", got)
	}
	if frag.Len() > 1024 {
		t.Errorf("fragment is %d bytes, want < 1 KB", frag.Len())
	}
	if err := g.WriteNode(io.Discard, Node{ID: "run:nope"}); !errors.Is(err, ErrUnknownNode) || !strings.Contains(err.Error(), "run:nope") {
		t.Errorf("WriteNode of an unknown node: %v", err)
	}
}

type failingWriter struct{}

var errDiskFull = errors.New("disk full")

func (failingWriter) Write([]byte) (int, error) { return 0, errDiskFull }

func TestWriteErrorsAreWrapped(t *testing.T) {
	g := mustLayout(t, diamond())
	if err := g.WriteSVG(failingWriter{}); !errors.Is(err, errDiskFull) || !strings.Contains(err.Error(), "dagsvg") {
		t.Errorf("WriteSVG = %v", err)
	}
	if err := g.WriteNode(failingWriter{}, diamond()[0]); !errors.Is(err, errDiskFull) || !strings.Contains(err.Error(), "build:web") {
		t.Errorf("WriteNode = %v", err)
	}
}

func TestTitle(t *testing.T) {
	for _, tc := range []struct {
		nodes []Node
		title string
		want  string
	}{
		{nil, "", "Deployment plan: 0 steps"},
		{[]Node{n("a")}, "", "Deployment plan: 1 step"},
		{diamond(), "", "Deployment plan: 4 steps"},
		{diamond(), "Deployment <d1>", "Deployment <d1>"},
	} {
		g := mustLayout(t, tc.nodes)
		g.Title = tc.title
		var buf bytes.Buffer
		if err := g.WriteSVG(&buf); err != nil {
			t.Fatal(err)
		}
		if got := parse(t, buf.Bytes())[1]; got.name != "title" || got.text != tc.want {
			t.Errorf("first child <%s>%s, want <title>%s", got.name, got.text, tc.want)
		}
	}
}
