package dagsvg

import (
	"errors"
	"fmt"
	"slices"
	"strings"
)

// Errors Layout returns, wrapped with the node they concern.
var (
	ErrCycle       = errors.New("the needs form a cycle")
	ErrUnknownNeed = errors.New("needs a step that is not in the graph")
	ErrDuplicateID = errors.New("two nodes have the same id")
	ErrEmptyID     = errors.New("a node has no id")
)

// Graph is a laid-out step graph. Coordinates are in SVG user units, origin
// top left, layers from left to right.
type Graph struct {
	// Title is the SVG's accessible name; WriteSVG writes a count of steps
	// when it is empty.
	Title string
	// Width and Height are the size of the drawing, margins included.
	Width, Height int
	// Nodes are the input nodes, in input order, placed.
	Nodes []Placed
	// Edges are the needs, one per distinct need, ordered by the needing
	// node's input order, then the order of its Needs.
	Edges []Edge

	index map[string]int // Node.ID → index in Nodes
}

// Placed is a node with its place in the drawing.
type Placed struct {
	Node
	// Layer is the node's column: 0 for a node without needs, else one more
	// than the greatest layer of its needs.
	Layer int
	// Order is the node's rank in its layer, from the top, counting the
	// points where longer edges cross the layer.
	Order int
	// X and Y are the top-left corner, W and H the size of the node's box.
	X, Y, W, H int
}

// Edge is one need, drawn from the needed node's right side to the needing
// node's left side.
type Edge struct {
	// From is the needed node's ID, To the needing node's.
	From, To string
	// Points is the polyline: the start, then for each layer the edge
	// crosses the points where it enters and leaves that layer, then the
	// end. Segments between layers are drawn as curves.
	Points []Point
}

// Point is a position in SVG user units.
type Point struct{ X, Y int }

// Layout places nodes in layers by their needs and returns the drawing's
// geometry. It fails when an ID is empty or repeated, when a node needs an
// ID that is not in nodes, or when the needs form a cycle; the error names
// the node. Repeated needs count once.
//
// The work grows with the nodes and with the layers each edge spans (an
// edge gets two points per layer it crosses): a plan's builds and runs with
// a few levels of wait_for take milliseconds, while 400 steps each needing
// the one before and the first take most of a second and 5 MB of SVG.
func Layout(nodes []Node) (*Graph, error) {
	index, needs, err := resolve(nodes)
	if err != nil {
		return nil, err
	}
	layers, err := layer(nodes, needs)
	if err != nil {
		return nil, err
	}
	p := newProper(nodes, needs, layers)
	p.order()
	p.coordinates()
	return p.graph(nodes, index), nil
}

// resolve indexes nodes by ID and turns their needs into indexes, without
// repeats.
func resolve(nodes []Node) (map[string]int, [][]int, error) {
	index := make(map[string]int, len(nodes))
	for i, n := range nodes {
		if n.ID == "" {
			return nil, nil, fmt.Errorf("dagsvg: node %d: %w", i, ErrEmptyID)
		}
		if _, dup := index[n.ID]; dup {
			return nil, nil, fmt.Errorf("dagsvg: node %q: %w", n.ID, ErrDuplicateID)
		}
		index[n.ID] = i
	}
	needs := make([][]int, len(nodes))
	for i, n := range nodes {
		for _, k := range n.Needs {
			j, ok := index[k]
			if !ok {
				return nil, nil, fmt.Errorf("dagsvg: node %q needs %q: %w", n.ID, k, ErrUnknownNeed)
			}
			if !slices.Contains(needs[i], j) {
				needs[i] = append(needs[i], j)
			}
		}
	}
	return index, needs, nil
}

// layer returns each node's longest-path layer, in a topological order
// (Kahn's), or an error naming a cycle.
func layer(nodes []Node, needs [][]int) ([]int, error) {
	waiting := make([]int, len(nodes))
	dependants := make([][]int, len(nodes))
	for i, ns := range needs {
		waiting[i] = len(ns)
		for _, j := range ns {
			dependants[j] = append(dependants[j], i)
		}
	}
	queue := make([]int, 0, len(nodes))
	for i, w := range waiting {
		if w == 0 {
			queue = append(queue, i)
		}
	}
	layers := make([]int, len(nodes))
	for head := 0; head < len(queue); head++ {
		i := queue[head]
		for _, d := range dependants[i] {
			layers[d] = max(layers[d], layers[i]+1)
			if waiting[d]--; waiting[d] == 0 {
				queue = append(queue, d)
			}
		}
	}
	if len(queue) < len(nodes) {
		return nil, cycleError(nodes, needs, waiting)
	}
	return layers, nil
}

// cycleError names a cycle among the nodes Kahn's algorithm could not
// order (waiting > 0): from the first of them, following needs that are
// also unordered, a node repeats.
func cycleError(nodes []Node, needs [][]int, waiting []int) error {
	start := 0
	for waiting[start] == 0 {
		start++
	}
	seen := map[int]int{} // node → position in path
	var path []int
	for i := start; ; {
		if at, ok := seen[i]; ok {
			path = append(path[at:], i)
			break
		}
		seen[i] = len(path)
		path = append(path, i)
		for _, j := range needs[i] {
			if waiting[j] > 0 {
				i = j
				break
			}
		}
	}
	// path runs along needs (i needs next); print it as "a → b" meaning a
	// waits for b.
	keys := make([]string, len(path))
	for k, i := range path {
		keys[k] = fmt.Sprintf("%q", nodes[i].ID)
	}
	return fmt.Errorf("dagsvg: node %q: %w: %s", nodes[path[0]].ID, ErrCycle, strings.Join(keys, " needs "))
}
