package dagsvg

import (
	"errors"
	"slices"
	"strings"
	"testing"
)

// layersOf returns, per layer, the node IDs from top to bottom.
func layersOf(g *Graph) [][]string {
	var out [][]string
	nodes := slices.Clone(g.Nodes)
	slices.SortStableFunc(nodes, func(a, b Placed) int { return a.Y - b.Y })
	for _, p := range nodes {
		for len(out) <= p.Layer {
			out = append(out, nil)
		}
		out[p.Layer] = append(out[p.Layer], p.ID)
	}
	return out
}

func mustLayout(t *testing.T, nodes []Node) *Graph {
	t.Helper()
	g, err := Layout(nodes)
	if err != nil {
		t.Fatalf("Layout: %v", err)
	}
	checkGeometry(t, g)
	return g
}

// checkGeometry checks what holds for every layout: longest-path layers,
// boxes inside the drawing that do not overlap, edges from the needed box's
// right middle to the needing box's left middle, and Order agreeing with Y.
func checkGeometry(t *testing.T, g *Graph) {
	t.Helper()
	byID := map[string]Placed{}
	for _, p := range g.Nodes {
		byID[p.ID] = p
	}
	for _, p := range g.Nodes {
		want := 0
		for _, need := range p.Needs {
			want = max(want, byID[need].Layer+1)
		}
		if p.Layer != want {
			t.Errorf("%s: layer %d, want %d", p.ID, p.Layer, want)
		}
		if p.X != margin+p.Layer*(nodeW+gapX) || p.X < 0 || p.Y < 0 || p.X+p.W > g.Width || p.Y+p.H > g.Height {
			t.Errorf("%s: box %d,%d %dx%d outside %dx%d or not in its layer", p.ID, p.X, p.Y, p.W, p.H, g.Width, g.Height)
		}
		for _, q := range g.Nodes {
			if q.ID != p.ID && q.Layer == p.Layer && (q.Order < p.Order) != (q.Y+q.H+gapY <= p.Y) {
				t.Errorf("%s (order %d, y %d) and %s (order %d, y %d) overlap or are out of order", p.ID, p.Order, p.Y, q.ID, q.Order, q.Y)
			}
		}
	}
	for _, e := range g.Edges {
		from, to := byID[e.From], byID[e.To]
		first, last := e.Points[0], e.Points[len(e.Points)-1]
		if first != (Point{from.X + from.W, from.Y + from.H/2}) || last != (Point{to.X, to.Y + to.H/2}) {
			t.Errorf("edge %s→%s: runs %v→%v", e.From, e.To, first, last)
		}
		if len(e.Points) != 2*(to.Layer-from.Layer) {
			t.Errorf("edge %s→%s: %d points over %d layers", e.From, e.To, len(e.Points), to.Layer-from.Layer)
		}
	}
}

func TestLayoutLayersAndOrder(t *testing.T) {
	for _, tc := range []struct {
		name  string
		nodes []Node
		want  [][]string
	}{{
		name:  "chain",
		nodes: []Node{n("a"), n("b", "a"), n("c", "b")},
		want:  [][]string{{"a"}, {"b"}, {"c"}},
	}, {
		name:  "diamond",
		nodes: diamond(),
		want:  [][]string{{"build:web"}, {"run:db", "run:cache"}, {"run:web"}},
	}, {
		name:  "fan-out and fan-in",
		nodes: []Node{n("src"), n("m1", "src"), n("m2", "src"), n("m3", "src"), n("sink", "m1", "m2", "m3", "src")},
		want:  [][]string{{"src"}, {"m1", "m2", "m3"}, {"sink"}},
	}, {
		name:  "disconnected",
		nodes: []Node{n("a"), n("b", "a"), n("c"), n("d", "c"), n("alone")},
		want:  [][]string{{"a", "c", "alone"}, {"b", "d"}},
	}, {
		name:  "longest path, not shortest",
		nodes: []Node{n("a"), n("b", "a"), n("c", "b"), n("d", "a", "c")},
		want:  [][]string{{"a"}, {"b"}, {"c"}, {"d"}},
	}, {
		name:  "repeated needs count once",
		nodes: []Node{n("a"), n("b", "a", "a")},
		want:  [][]string{{"a"}, {"b"}},
	}, {
		name: "empty",
	}} {
		t.Run(tc.name, func(t *testing.T) {
			g := mustLayout(t, tc.nodes)
			if got := layersOf(g); !slices.EqualFunc(got, tc.want, slices.Equal) {
				t.Errorf("layers %q, want %q", got, tc.want)
			}
		})
	}
}

func TestLayoutStraightensAndCentres(t *testing.T) {
	g := mustLayout(t, []Node{n("a"), n("b", "a"), n("c", "b")})
	if a, b, c := g.Nodes[0].Y, g.Nodes[1].Y, g.Nodes[2].Y; a != b || b != c {
		t.Errorf("chain at y %d, %d, %d, want one line", a, b, c)
	}
	g = mustLayout(t, diamond())
	top, db, cache, web := g.Nodes[0].Y, g.Nodes[1].Y, g.Nodes[2].Y, g.Nodes[3].Y
	if mid := (db + cache) / 2; top != mid || web != mid {
		t.Errorf("diamond: ends at y %d and %d, want both halfway between %d and %d", top, web, db, cache)
	}
	if len(g.Edges) != 4 {
		t.Errorf("diamond: %d edges, want 4", len(g.Edges))
	}
}

func TestLayoutRepeatedNeedIsOneEdge(t *testing.T) {
	g := mustLayout(t, []Node{n("a"), n("b", "a", "a")})
	if len(g.Edges) != 1 {
		t.Errorf("%d edges, want 1", len(g.Edges))
	}
}

func TestLayoutErrors(t *testing.T) {
	for _, tc := range []struct {
		name     string
		nodes    []Node
		err      error
		mentions []string
	}{
		{"two-cycle", []Node{n("a", "b"), n("b", "a")}, ErrCycle, []string{`"a" needs "b" needs "a"`}},
		{"self", []Node{n("a"), n("b", "b")}, ErrCycle, []string{`"b" needs "b"`}},
		{"cycle behind a tail", []Node{n("t", "x"), n("x", "y"), n("y", "z"), n("z", "x")}, ErrCycle, []string{`"x" needs "y" needs "z" needs "x"`}},
		{"unknown need", []Node{n("build:web"), n("run:web", "build:web", "build:wbe")}, ErrUnknownNeed, []string{`"run:web"`, `"build:wbe"`}},
		{"duplicate", []Node{n("a"), n("a")}, ErrDuplicateID, []string{`"a"`}},
		{"empty id", []Node{n("a"), n("")}, ErrEmptyID, []string{"node 1"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			g, err := Layout(tc.nodes)
			if !errors.Is(err, tc.err) {
				t.Fatalf("Layout = %v, %v; want %v", g, err, tc.err)
			}
			for _, m := range tc.mentions {
				if !strings.Contains(err.Error(), m) {
					t.Errorf("error %q does not mention %s", err, m)
				}
			}
		})
	}
}
