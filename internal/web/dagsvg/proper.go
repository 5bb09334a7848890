package dagsvg

// proper is the layered graph in which every edge joins adjacent layers: an
// edge that spans layers passes through one dummy element per layer
// between. Elements 0..n-1 are the nodes, in input order; dummies follow.
type proper struct {
	elems  []elem
	layers [][]int // layer → elements, top to bottom
	chains [][]int // per edge: its elements, from the needed node to the needing one
	edges  [][2]int
}

type elem struct {
	layer int
	pos   int   // index in layers[layer]
	up    []int // neighbours in layer-1
	down  []int // neighbours in layer+1
	cy    int   // centre, vertically
	dummy bool
}

func newProper(nodes []Node, needs [][]int, layers []int) *proper {
	p := &proper{elems: make([]elem, len(nodes))}
	depth := 0
	for i, l := range layers {
		p.elems[i].layer = l
		depth = max(depth, l+1)
	}
	for to, ns := range needs {
		for _, from := range ns {
			chain := []int{from}
			for l := layers[from] + 1; l < layers[to]; l++ {
				p.elems = append(p.elems, elem{layer: l, dummy: true})
				chain = append(chain, len(p.elems)-1)
			}
			chain = append(chain, to)
			for k := 1; k < len(chain); k++ {
				a, b := chain[k-1], chain[k]
				p.elems[a].down = append(p.elems[a].down, b)
				p.elems[b].up = append(p.elems[b].up, a)
			}
			p.chains = append(p.chains, chain)
			p.edges = append(p.edges, [2]int{from, to})
		}
	}
	p.layers = make([][]int, depth)
	for i := range p.elems {
		l := p.elems[i].layer
		p.elems[i].pos = len(p.layers[l])
		p.layers[l] = append(p.layers[l], i)
	}
	return p
}
