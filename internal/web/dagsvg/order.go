package dagsvg

import (
	"cmp"
	"slices"
)

// maxSweeps bounds the barycenter sweeps (one down and one up each);
// patience is how many sweeps without fewer crossings end them early.
const (
	maxSweeps = 12
	patience  = 4
)

// order reduces edge crossings by barycenter sweeps: each layer in turn is
// sorted by the mean position of its elements' neighbours in the layer
// before it (down sweeps) or after it (up sweeps). The order with the
// fewest crossings seen is kept.
func (p *proper) order() {
	best := p.crossings()
	saved := p.saveOrder()
	stale := 0
	for s := 0; s < maxSweeps && best > 0 && stale < patience; s++ {
		if s%2 == 0 {
			for l := 1; l < len(p.layers); l++ {
				p.sortLayer(l, true)
			}
		} else {
			for l := len(p.layers) - 2; l >= 0; l-- {
				p.sortLayer(l, false)
			}
		}
		if c := p.crossings(); c < best {
			best, stale = c, 0
			saved = p.saveOrder()
		} else {
			stale++
		}
	}
	p.restoreOrder(saved)
}

type bary struct {
	elem     int
	sum, cnt int // mean position of the neighbours: sum/cnt
}

// sortLayer sorts layer l by barycenter, of the up neighbours if byUp, else
// of the down ones. Elements without such neighbours keep their positions;
// ties keep their current order.
func (p *proper) sortLayer(l int, byUp bool) {
	layer := p.layers[l]
	sortable := make([]bary, 0, len(layer))
	fixed := make([]bool, len(layer))
	for k, e := range layer {
		nb := p.elems[e].down
		if byUp {
			nb = p.elems[e].up
		}
		if len(nb) == 0 {
			fixed[k] = true
			continue
		}
		b := bary{elem: e, cnt: len(nb)}
		for _, n := range nb {
			b.sum += p.elems[n].pos
		}
		sortable = append(sortable, b)
	}
	slices.SortFunc(sortable, func(a, b bary) int {
		if c := cmp.Compare(a.sum*b.cnt, b.sum*a.cnt); c != 0 {
			return c
		}
		return cmp.Compare(p.elems[a.elem].pos, p.elems[b.elem].pos) // ties keep their order
	})
	next := 0
	for k := range layer {
		if fixed[k] {
			continue
		}
		layer[k] = sortable[next].elem
		next++
	}
	for k, e := range layer {
		p.elems[e].pos = k
	}
}

func (p *proper) saveOrder() [][]int {
	s := make([][]int, len(p.layers))
	for l, layer := range p.layers {
		s[l] = slices.Clone(layer)
	}
	return s
}

func (p *proper) restoreOrder(s [][]int) {
	p.layers = s
	for _, layer := range s {
		for k, e := range layer {
			p.elems[e].pos = k
		}
	}
}

// crossings counts the edge crossings between all adjacent layers.
func (p *proper) crossings() int {
	total := 0
	var ends []int
	var tree []int
	for l := 0; l+1 < len(p.layers); l++ {
		n := len(p.layers[l+1])
		if cap(tree) < n+1 {
			tree = make([]int, n+1)
		}
		tree = tree[:n+1]
		clear(tree)
		seen := 0
		for _, e := range p.layers[l] { // from the top
			ends = ends[:0]
			for _, d := range p.elems[e].down {
				ends = append(ends, p.elems[d].pos)
			}
			slices.Sort(ends)
			for _, end := range ends {
				total += seen - prefix(tree, end+1)
			}
			for _, end := range ends {
				add(tree, end+1)
				seen++
			}
		}
	}
	return total
}

// A Fenwick tree over the positions of a layer counts the edges seen so far
// that end at or above a position: an edge crosses those seen before it
// (they start above) that end strictly below it. Position k is index k+1.

func add(tree []int, i int) {
	for ; i < len(tree); i += i & -i {
		tree[i]++
	}
}

// prefix returns how many counted indexes are <= i.
func prefix(tree []int, i int) int {
	s := 0
	for ; i > 0; i -= i & -i {
		s += tree[i]
	}
	return s
}
