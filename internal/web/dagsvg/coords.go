package dagsvg

// Sizes in SVG user units. A node's box fits a label of maxLabel runes in the
// label font of Style (12px monospace, about 7.2 units a rune) after the
// state icon.
const (
	nodeW  = 248
	nodeH  = 44
	gapX   = 64 // between layers, where edges curve
	gapY   = 16 // between the boxes of one layer
	margin = 16
	// Half the vertical room an element takes in its layer: two adjacent
	// elements' centres are at least the sum of their halves apart.
	nodeHalf  = nodeH/2 + gapY/2
	dummyHalf = 5
	// Weights in the vertical placement: a dummy weighs more, so long
	// edges run straighter.
	nodeWeight  = 1
	dummyWeight = 2
	// coordSweeps is how many down-and-up passes pull elements towards
	// their neighbours.
	coordSweeps = 4
)

// coordinates gives every element a vertical centre: stacked at first, then
// pulled towards the mean of its neighbours' centres in the layer before
// (down passes) or after (up passes), as close as the layer's order and
// spacing allow; last towards both. The top is then moved to the margin.
func (p *proper) coordinates() {
	for _, layer := range p.layers {
		p.place(layer, make([]int, len(layer)))
	}
	for range coordSweeps {
		for l := 1; l < len(p.layers); l++ {
			p.align(l, true, false)
		}
		for l := len(p.layers) - 2; l >= 0; l-- {
			p.align(l, false, true)
		}
	}
	for l := range p.layers {
		p.align(l, true, true)
	}
	top := 0
	first := true
	for i := range p.elems {
		e := &p.elems[i]
		t := e.cy
		if !e.dummy {
			t -= nodeH / 2
		}
		if first || t < top {
			top, first = t, false
		}
	}
	for i := range p.elems {
		p.elems[i].cy += margin - top
	}
}

// align places layer l towards the mean centre of its elements' up and/or
// down neighbours; an element without any keeps its centre as its wish.
func (p *proper) align(l int, up, down bool) {
	layer := p.layers[l]
	want := make([]int, len(layer))
	for k, i := range layer {
		e := &p.elems[i]
		sum, n := 0, 0
		if up {
			for _, j := range e.up {
				sum += p.elems[j].cy
			}
			n += len(e.up)
		}
		if down {
			for _, j := range e.down {
				sum += p.elems[j].cy
			}
			n += len(e.down)
		}
		if n == 0 {
			want[k] = e.cy
			continue
		}
		want[k] = floorDiv(sum, n)
	}
	p.place(layer, want)
}

func (p *proper) half(i int) int {
	if p.elems[i].dummy {
		return dummyHalf
	}
	return nodeHalf
}

func (p *proper) weight(i int) int {
	if p.elems[i].dummy {
		return dummyWeight
	}
	return nodeWeight
}

type block struct{ sum, weight int }

// place sets the centres of layer's elements, in order and spaced by their
// halves, to minimise the weighted sum of squared distances to want: with
// offsets s (the least spacing from the first element), z = cy - s must not
// decrease along the layer, which pool-adjacent-violators solves exactly.
func (p *proper) place(layer []int, want []int) {
	offsets := make([]int, len(layer))
	blocks := make([]block, 0, len(layer))
	sizes := make([]int, 0, len(layer)) // elements per block
	s := 0
	for k, i := range layer {
		if k > 0 {
			s += p.half(layer[k-1]) + p.half(i)
		}
		offsets[k] = s
		w := p.weight(i)
		blocks = append(blocks, block{sum: w * (want[k] - s), weight: w})
		sizes = append(sizes, 1)
		for n := len(blocks); n >= 2 && blocks[n-2].sum*blocks[n-1].weight > blocks[n-1].sum*blocks[n-2].weight; n-- {
			blocks[n-2].sum += blocks[n-1].sum
			blocks[n-2].weight += blocks[n-1].weight
			sizes[n-2] += sizes[n-1]
			blocks, sizes = blocks[:n-1], sizes[:n-1]
		}
	}
	k := 0
	for b, bl := range blocks {
		z := floorDiv(bl.sum, bl.weight)
		for range sizes[b] {
			p.elems[layer[k]].cy = z + offsets[k]
			k++
		}
	}
}

// floorDiv is a/b rounded down, for b > 0.
func floorDiv(a, b int) int {
	q := a / b
	if a%b != 0 && a < 0 {
		q--
	}
	return q
}

func layerX(l int) int { return margin + l*(nodeW+gapX) }

// graph returns the placed nodes and edges.
func (p *proper) graph(nodes []Node, index map[string]int) *Graph {
	g := &Graph{Nodes: make([]Placed, len(nodes)), Edges: make([]Edge, len(p.chains)), index: index}
	g.Width = 2*margin - gapX
	for range p.layers {
		g.Width += nodeW + gapX
	}
	if len(p.layers) == 0 {
		g.Width = 2 * margin
	}
	for i, n := range nodes {
		e := &p.elems[i]
		g.Nodes[i] = Placed{Node: n, Layer: e.layer, Order: e.pos, X: layerX(e.layer), Y: e.cy - nodeH/2, W: nodeW, H: nodeH}
		g.Height = max(g.Height, e.cy+nodeH/2)
	}
	for i := range p.elems {
		g.Height = max(g.Height, p.elems[i].cy)
	}
	g.Height += margin
	for k, chain := range p.chains {
		from, to := p.edges[k][0], p.edges[k][1]
		pts := make([]Point, 0, 2*len(chain)-2)
		pts = append(pts, Point{layerX(p.elems[from].layer) + nodeW, p.elems[from].cy})
		for _, d := range chain[1 : len(chain)-1] {
			x := layerX(p.elems[d].layer)
			pts = append(pts, Point{x, p.elems[d].cy}, Point{x + nodeW, p.elems[d].cy})
		}
		pts = append(pts, Point{layerX(p.elems[to].layer), p.elems[to].cy})
		g.Edges[k] = Edge{From: nodes[from].ID, To: nodes[to].ID, Points: pts}
	}
	return g
}
