package dagsvg

import (
	"math/rand/v2"
	"testing"
)

// drawnCrossings counts the crossings in the drawing: two edge segments
// across the same gap between layers cross when their ends are in opposite
// vertical orders.
func drawnCrossings(g *Graph) int {
	type seg struct{ x, y0, y1 int }
	var segs []seg
	for _, e := range g.Edges {
		for k := 0; k+1 < len(e.Points); k += 2 {
			segs = append(segs, seg{e.Points[k].X, e.Points[k].Y, e.Points[k+1].Y})
		}
	}
	count := 0
	for i, a := range segs {
		for _, b := range segs[i+1:] {
			if a.x == b.x && (a.y0-b.y0)*(a.y1-b.y1) < 0 {
				count++
			}
		}
	}
	return count
}

func TestOrderRemovesCrossings(t *testing.T) {
	for _, tc := range []struct {
		name  string
		nodes []Node
	}{{
		name:  "reversed pairs",
		nodes: []Node{n("a1"), n("a2"), n("a3"), n("b1", "a3"), n("b2", "a2"), n("b3", "a1")},
	}, {
		name: "tree listed leaves first",
		nodes: []Node{
			n("r"),
			n("l1", "r"), n("l2", "r"),
			n("c4", "l2"), n("c1", "l1"), n("c3", "l2"), n("c2", "l1"),
			n("d4", "c4"), n("d1", "c1"), n("d3", "c3"), n("d2", "c2"),
		},
	}, {
		name: "long edge around a chain",
		nodes: []Node{
			n("x"), n("a"), n("b", "a"), n("c", "b"),
			n("y", "x"), n("z", "c", "y"),
		},
	}} {
		t.Run(tc.name, func(t *testing.T) {
			_, needs, err := resolve(tc.nodes)
			if err != nil {
				t.Fatal(err)
			}
			layers, err := layer(tc.nodes, needs)
			if err != nil {
				t.Fatal(err)
			}
			before := newProper(tc.nodes, needs, layers).crossings()
			g := mustLayout(t, tc.nodes)
			if got := drawnCrossings(g); got != 0 {
				t.Errorf("%d crossings drawn (%d in input order), want 0; layers %q", got, before, layersOf(g))
			}
			if before == 0 {
				t.Errorf("input order has no crossings: the test no longer tests ordering")
			}
		})
	}
}

func TestOrderCountsWhatIsDrawn(t *testing.T) {
	nodes := deployment(60, 90)
	_, needs, err := resolve(nodes)
	if err != nil {
		t.Fatal(err)
	}
	layers, err := layer(nodes, needs)
	if err != nil {
		t.Fatal(err)
	}
	p := newProper(nodes, needs, layers)
	before := p.crossings()
	p.order()
	after := p.crossings()
	p.coordinates()
	g := p.graph(nodes, nil)
	if drawn := drawnCrossings(g); drawn != after {
		t.Errorf("%d crossings counted, %d drawn", after, drawn)
	}
	if after >= before {
		t.Errorf("sweeps left %d crossings of %d", after, before)
	}
	t.Logf("crossings: %d in input order, %d after sweeps", before, after)
}

func TestCrossingsAgainstBruteForce(t *testing.T) {
	rng := rand.New(rand.NewPCG(3, 4))
	for range 200 {
		var nodes []Node
		for i := range 2 + rng.IntN(20) {
			nd := n(itoa(i))
			for range rng.IntN(4) {
				if i > 0 {
					nd.Needs = append(nd.Needs, itoa(rng.IntN(i)))
				}
			}
			nodes = append(nodes, nd)
		}
		_, needs, err := resolve(nodes)
		if err != nil {
			t.Fatal(err)
		}
		layers, err := layer(nodes, needs)
		if err != nil {
			t.Fatal(err)
		}
		p := newProper(nodes, needs, layers)
		want := 0
		type seg struct{ layer, from, to int }
		var segs []seg
		for _, e := range p.elems {
			for _, d := range e.down {
				segs = append(segs, seg{e.layer, e.pos, p.elems[d].pos})
			}
		}
		for i, a := range segs {
			for _, b := range segs[i+1:] {
				if a.layer == b.layer && (a.from-b.from)*(a.to-b.to) < 0 {
					want++
				}
			}
		}
		if got := p.crossings(); got != want {
			t.Fatalf("crossings() = %d, want %d, for %v", got, want, nodes)
		}
	}
}
