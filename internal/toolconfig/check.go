package toolconfig

import (
	"fmt"
	"slices"
	"strings"

	"slipway.dev/slipway/internal/slipway"
)

// didYouMean returns a hint naming an unknown key that looks like a
// misspelling of the missing field want (see suggest), or "".
func didYouMean(want string, unknown []string) string {
	for _, u := range unknown {
		if suggest(u, []string{want}) == want {
			return fmt.Sprintf(" (found %q: did you mean %s?)", u, want)
		}
	}
	return ""
}

// levenshtein returns the edit distance of a and b, or 3 when it is
// clearly more than 2.
func levenshtein(a, b string) int {
	if len(a) > len(b)+2 || len(b) > len(a)+2 {
		return 3
	}
	prev := make([]int, len(b)+1)
	cur := make([]int, len(b)+1)
	for j := range prev {
		prev[j] = j
	}
	for i := 1; i <= len(a); i++ {
		cur[0] = i
		for j := 1; j <= len(b); j++ {
			cost := 1
			if a[i-1] == b[j-1] {
				cost = 0
			}
			cur[j] = min(prev[j]+1, cur[j-1]+1, prev[j-1]+cost)
		}
		prev, cur = cur, prev
	}
	return prev[len(b)]
}

// crossCheck runs the checks that involve several components: reuse_from
// targets and wait_for references and cycles.
func (p *parser) crossCheck(set *componentSet) {
	for _, name := range set.order {
		info := set.info[name]
		c := set.byName[name]
		cpath := join("components", name)
		if info.build == buildReuse {
			path := cpath + ".build.reuse_from"
			target, ok := set.info[c.Build.ReuseFrom]
			switch {
			case !ok:
				p.problemf(path, info.reuseNode, "Missing components referenced from reuse_from: %s", c.Build.ReuseFrom)
			case target.build == buildReuse:
				p.problemf(path, info.reuseNode, "The following components reuse builds from components that also use reuse_from. They should point to the original components instead: %s", name)
			}
		}
		for i, w := range c.WaitFor {
			ipath := fmt.Sprintf("%s.wait_for[%d]", cpath, info.waitIdx[i])
			switch {
			case w == name:
				p.problemf(ipath, info.waitItems[i], "a component cannot wait for itself")
			case set.info[w] == nil:
				p.problemf(ipath, info.waitItems[i], "wait_for names %q, which is not a component of this config (components: %s)", w, listNames(set.order))
			}
		}
	}
	for _, cycle := range waitCycles(set) {
		start := cycle[0]
		p.problemf(join("components", start)+".wait_for", set.info[start].waitNode, "wait_for cycle: %s", strings.Join(cycle, " → "))
	}
}

// listNames lists component names for a message, at most 10.
func listNames(names []string) string {
	if len(names) > 10 {
		return strings.Join(names[:10], ", ") + fmt.Sprintf(" and %d more", len(names)-10)
	}
	return strings.Join(names, ", ")
}

// waitCycles returns one cycle of wait_for edges per strongly connected
// component of the wait_for graph that has one, each as the names along the
// cycle, starting and ending at the smallest name of the strongly connected
// component; it is a shortest such cycle, taking neighbours in name order
// on ties. Cycles are sorted by their first name.
func waitCycles(set *componentSet) [][]string {
	edges := map[string][]string{}
	for _, name := range set.order {
		for _, w := range set.byName[name].WaitFor {
			if w != name && set.info[w] != nil {
				edges[name] = append(edges[name], w)
			}
		}
		slices.Sort(edges[name])
	}
	nodes := slices.Sorted(func(yield func(string) bool) {
		for n := range edges {
			if !yield(n) {
				return
			}
		}
	})

	var cycles [][]string
	for _, scc := range stronglyConnected(nodes, edges) {
		if len(scc) < 2 {
			continue
		}
		in := map[string]bool{}
		for _, n := range scc {
			in[n] = true
		}
		start := slices.Min(scc)
		cycles = append(cycles, shortestCycle(start, edges, in))
	}
	slices.SortFunc(cycles, func(a, b []string) int { return strings.Compare(a[0], b[0]) })
	return cycles
}

// shortestCycle returns a shortest path from start back to start through
// the nodes in in, by breadth-first search.
func shortestCycle(start string, edges map[string][]string, in map[string]bool) []string {
	parent := map[string]string{}
	queue := []string{start}
	for len(queue) > 0 {
		u := queue[0]
		queue = queue[1:]
		for _, v := range edges[u] {
			if v == start {
				path := []string{start}
				for n := u; n != start; n = parent[n] {
					path = append(path, n)
				}
				slices.Reverse(path[1:])
				return append(path, start)
			}
			if _, seen := parent[v]; seen || !in[v] {
				continue
			}
			parent[v] = u
			queue = append(queue, v)
		}
	}
	return []string{start, start} // unreachable for a strongly connected set
}

// stronglyConnected returns the strongly connected components of the graph
// (Tarjan's algorithm).
func stronglyConnected(nodes []string, edges map[string][]string) [][]string {
	index := map[string]int{}
	low := map[string]int{}
	onStack := map[string]bool{}
	var stack []string
	var out [][]string
	var visit func(v string)
	visit = func(v string) {
		index[v] = len(index)
		low[v] = index[v]
		stack = append(stack, v)
		onStack[v] = true
		for _, w := range edges[v] {
			if _, seen := index[w]; !seen {
				visit(w)
				low[v] = min(low[v], low[w])
			} else if onStack[w] {
				low[v] = min(low[v], index[w])
			}
		}
		if low[v] == index[v] {
			var scc []string
			for {
				w := stack[len(stack)-1]
				stack = stack[:len(stack)-1]
				onStack[w] = false
				scc = append(scc, w)
				if w == v {
					break
				}
			}
			out = append(out, scc)
		}
	}
	for _, n := range nodes {
		if _, seen := index[n]; !seen {
			visit(n)
		}
	}
	return out
}

// checkSourceURL returns what is wrong with a source_url, or "".
func checkSourceURL(s string) string {
	u, err := slipway.ParseAbsoluteURL(s)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		return fmt.Sprintf("source_url must be an http or https URL, got %q", slipway.RedactURL(s))
	}
	if _, err := slipway.SplitURLCredential(s); err != nil {
		return "source_url " + err.Error()
	}
	return ""
}
