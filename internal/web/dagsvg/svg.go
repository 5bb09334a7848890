package dagsvg

import (
	"errors"
	"fmt"
	"io"
	"strconv"
)

// ErrUnknownNode is returned by WriteNode for a node the graph does not have.
var ErrUnknownNode = errors.New("no such node in the graph")

// Text limits, in runes: longer texts are cut with an ellipsis in the box;
// the node's <title> has them in full.
const (
	maxLabel = 28
	maxSub   = 34
)

// Ids of the drawing's own elements. They do not start with "dag-", so no
// NodeID can equal them.
const (
	titleID  = "dagsvg-title"
	arrowID  = "dagsvg-arrow"
	iconsID  = "dagsvg-i"
	svgStart = `<svg xmlns="http://www.w3.org/2000/svg" class="dag" role="img" aria-labelledby="` + titleID + `"`
)

// defs holds the arrowhead and the state icons, 16×16 each, stacked: a
// node shows one through a 16×16 window, and Style moves the stack by the
// node's state class, so a class change alone changes the icon. Order:
// pending (and any state Style does not know), running, done, unchanged,
// failed, skipped, cancelled, timed_out.
const defs = `<defs>
<marker id="` + arrowID + `" viewBox="0 0 8 8" refX="8" refY="4" markerWidth="8" markerHeight="8" markerUnits="userSpaceOnUse" orient="auto"><path class="arrow" d="M0 0L8 4L0 8z"/></marker>
<g id="` + iconsID + `">
<path d="M2 8a6 6 0 1 0 12 0a6 6 0 1 0-12 0"/>
<path transform="translate(0 16)" d="M5 3v10l8-5z"/>
<path transform="translate(0 32)" d="M3 8.5l3.5 3.5L13 4.5"/>
<path transform="translate(0 48)" d="M3 6h10M3 10h10"/>
<path transform="translate(0 64)" d="M4 4l8 8M12 4l-8 8"/>
<path transform="translate(0 80)" d="M3 4l5 4-5 4M9 4l5 4-5 4"/>
<path transform="translate(0 96)" d="M2 8a6 6 0 1 0 12 0a6 6 0 1 0-12 0M4 12L12 4"/>
<path transform="translate(0 112)" d="M2 8a6 6 0 1 0 12 0a6 6 0 1 0-12 0M8 4.5V8l2.5 2"/>
</g>
</defs>
`

// WriteSVG writes the graph as one <svg> element, for inline use in HTML or
// as a file: a <title> (the accessible name), the edges as
// <path class="edge" data-from="…" data-to="…">, then the nodes as
// <g id="NodeID(ID)" class="node state-…"> with a <title> of key, state,
// label and Sub. Every text is escaped; there is no script and no style
// attribute. The output depends only on the graph.
func (g *Graph) WriteSVG(w io.Writer) error {
	b := make([]byte, 0, 1024+320*len(g.Nodes)+128*len(g.Edges))
	b = append(b, svgStart...)
	b = append(b, ` viewBox="0 0 `...)
	b = strconv.AppendInt(b, int64(g.Width), 10)
	b = append(b, ' ')
	b = strconv.AppendInt(b, int64(g.Height), 10)
	b = append(b, `" width="`...)
	b = strconv.AppendInt(b, int64(g.Width), 10)
	b = append(b, `" height="`...)
	b = strconv.AppendInt(b, int64(g.Height), 10)
	b = append(b, "\">\n<title id=\""+titleID+"\">"...)
	b = appendEscaped(b, g.title())
	b = append(b, "</title>\n"...)
	b = append(b, defs...)
	b = append(b, "<g class=\"edges\" marker-end=\"url(#"+arrowID+")\">\n"...)
	for i := range g.Edges {
		b = appendEdge(b, &g.Edges[i])
	}
	b = append(b, "</g>\n<g class=\"nodes\">\n"...)
	for i := range g.Nodes {
		p := &g.Nodes[i]
		b = appendNode(b, &p.Node, p)
	}
	b = append(b, "</g>\n</svg>\n"...)
	if _, err := w.Write(b); err != nil {
		return fmt.Errorf("dagsvg: write svg: %w", err)
	}
	return nil
}

// WriteNode writes the <g> element of the node n.ID, where the graph placed
// it, with n's label, Sub and state: the fragment a live update swaps in for
// the element with id NodeID(n.ID), so that the <title> and texts follow the
// step too. n.Needs is ignored.
func (g *Graph) WriteNode(w io.Writer, n Node) error {
	i, ok := g.index[n.ID]
	if !ok {
		return fmt.Errorf("dagsvg: write node %q: %w", n.ID, ErrUnknownNode)
	}
	b := appendNode(make([]byte, 0, 512), &n, &g.Nodes[i])
	if _, err := w.Write(b); err != nil {
		return fmt.Errorf("dagsvg: write node %q: %w", n.ID, err)
	}
	return nil
}

func (g *Graph) title() string {
	if g.Title != "" {
		return g.Title
	}
	if len(g.Nodes) == 1 {
		return "Deployment plan: 1 step"
	}
	return "Deployment plan: " + strconv.Itoa(len(g.Nodes)) + " steps"
}

func appendEdge(b []byte, e *Edge) []byte {
	b = append(b, `<path class="edge" data-from="`...)
	b = appendEscaped(b, e.From)
	b = append(b, `" data-to="`...)
	b = appendEscaped(b, e.To)
	b = append(b, `" d="M`...)
	b = appendPoint(b, e.Points[0])
	// Segments alternate: across a gap between layers (a curve, level at
	// both ends), then through a layer (a line).
	for k := 1; k < len(e.Points); k++ {
		p, q := e.Points[k-1], e.Points[k]
		if k%2 == 0 {
			b = append(b, 'L')
			b = appendPoint(b, q)
			continue
		}
		mid := (p.X + q.X) / 2
		b = append(b, 'C')
		b = appendPoint(b, Point{mid, p.Y})
		b = append(b, ' ')
		b = appendPoint(b, Point{mid, q.Y})
		b = append(b, ' ')
		b = appendPoint(b, q)
	}
	return append(b, "\"/>\n"...)
}

func appendPoint(b []byte, p Point) []byte {
	b = strconv.AppendInt(b, int64(p.X), 10)
	b = append(b, ' ')
	return strconv.AppendInt(b, int64(p.Y), 10)
}

// appendNode draws n in the box of p.
func appendNode(b []byte, n *Node, p *Placed) []byte {
	label := n.Label
	if label == "" {
		label = n.ID
	}
	b = append(b, `<g id="`...)
	b = append(b, NodeID(n.ID)...)
	b = append(b, `" class="node `...)
	b = append(b, stateClass(n.State)...)
	b = append(b, `" transform="translate(`...)
	b = appendPoint(b, Point{p.X, p.Y})
	b = append(b, ")\"><title>"...)
	b = appendEscaped(b, n.ID)
	b = append(b, " — "...)
	if n.State == "" {
		b = append(b, "unknown"...)
	} else {
		b = appendEscaped(b, n.State)
	}
	if label != n.ID {
		b = append(b, "&#10;"...)
		b = appendEscaped(b, label)
	}
	if n.Sub != "" {
		b = append(b, "&#10;"...)
		b = appendEscaped(b, n.Sub)
	}
	b = append(b, "</title><rect width=\""+strconv.Itoa(nodeW)+"\" height=\""+strconv.Itoa(nodeH)+
		"\" rx=\"6\"/><svg x=\"10\" y=\"14\" width=\"16\" height=\"16\"><use href=\"#"+iconsID+"\"/></svg>"...)
	labelY := "27"
	if n.Sub != "" {
		labelY = "19"
	}
	b = append(b, `<text x="34" y="`...)
	b = append(b, labelY...)
	b = append(b, `">`...)
	b = appendEscaped(b, truncate(label, maxLabel))
	b = append(b, "</text>"...)
	if n.Sub != "" {
		b = append(b, `<text class="sub" x="34" y="35">`...)
		b = appendEscaped(b, truncate(n.Sub, maxSub))
		b = append(b, "</text>"...)
	}
	return append(b, "</g>\n"...)
}
