package dagsvg

import (
	"fmt"
	"math/rand/v2"
	"slices"
)

func n(id string, needs ...string) Node {
	return Node{ID: id, State: "pending", Needs: needs}
}

func diamond() []Node {
	return []Node{
		{ID: "build:web", Sub: "build", State: "done"},
		{ID: "run:db", Sub: "apply", State: "running", Needs: []string{"build:web"}},
		{ID: "run:cache", Sub: "unchanged", State: "unchanged", Needs: []string{"build:web"}},
		{ID: "run:web", Sub: "apply: commit 3f2a1c→9b0d44", State: "pending", Needs: []string{"run:db", "run:cache"}},
	}
}

// deployment returns the steps of a deployment of components components,
// each a build and a run, in four tiers (a tenth infrastructure, then
// services, apps, front ends); waits runs wait_for runs of lower tiers,
// chosen at random with a fixed seed.
func deployment(components, waits int) []Node {
	rng := rand.New(rand.NewPCG(1, 2))
	tier := func(c int) int {
		switch {
		case c < components/10:
			return 0
		case c < components*4/10:
			return 1
		case c < components*8/10:
			return 2
		}
		return 3
	}
	nodes := make([]Node, 0, 2*components)
	for c := range components {
		nodes = append(nodes,
			Node{ID: fmt.Sprintf("build:component-%03d", c), Sub: "build", State: "done"},
			Node{ID: fmt.Sprintf("run:component-%03d", c), Sub: "apply", State: "pending", Needs: []string{fmt.Sprintf("build:component-%03d", c)}})
	}
	for added := 0; added < waits; {
		c := components/10 + rng.IntN(components-components/10)
		d := rng.IntN(components)
		if tier(d) >= tier(c) {
			continue
		}
		run := &nodes[2*c+1]
		need := fmt.Sprintf("run:component-%03d", d)
		if slices.Contains(run.Needs, need) {
			continue
		}
		run.Needs = append(run.Needs, need)
		added++
	}
	return nodes
}
