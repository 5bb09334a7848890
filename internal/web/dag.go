package web

import (
	"bytes"
	"cmp"
	"crypto/sha256"
	"encoding/hex"
	"html/template"
	"slices"
	"strconv"
	"sync"

	"slipway.dev/slipway/internal/slipway"
	"slipway.dev/slipway/internal/web/dagsvg"
)

// maxDAGSteps is the most steps whose graph the deployment page draws;
// above it the page shows the table alone (a pathological graph can take
// Layout a second).
const maxDAGSteps = 150

// maxDAGCache bounds the layouts kept; the cache is emptied when full.
const maxDAGCache = 64

// dagView is the data of the #dag section.
type dagView struct {
	// SVG is the drawing; empty without steps or with too many.
	SVG template.HTML
	// TooMany is the number of steps when there are too many to draw.
	TooMany int
	Max     int
}

// dagCache keeps layouts by deployment and plan: a plan is fixed once
// made, so a page render or a reconnect lays it out once. Only the
// states, details and titles change, and WriteSVG draws them from a copy.
type dagCache struct {
	mu sync.Mutex
	m  map[string]*dagsvg.Graph
}

// planKey identifies d's plan: its ID and its steps' keys and needs.
func planKey(d slipway.Deployment) string {
	h := sha256.New()
	for _, s := range d.Steps {
		h.Write([]byte(s.Key))
		for _, n := range s.Needs {
			h.Write([]byte{0})
			h.Write([]byte(n))
		}
		h.Write([]byte{'\n'})
	}
	return d.ID + "/" + hex.EncodeToString(h.Sum(nil)[:12])
}

// layout returns d's laid-out graph, from the cache when it has it.
func (c *dagCache) layout(d slipway.Deployment) (*dagsvg.Graph, error) {
	key := planKey(d)
	c.mu.Lock()
	g, ok := c.m[key]
	c.mu.Unlock()
	if ok {
		return g, nil
	}
	nodes := make([]dagsvg.Node, len(d.Steps))
	for i, s := range d.Steps {
		nodes[i] = dagsvg.Node{ID: s.Key, Needs: s.Needs}
	}
	g, err := dagsvg.Layout(nodes)
	if err != nil {
		return nil, err
	}
	c.mu.Lock()
	if c.m == nil || len(c.m) >= maxDAGCache {
		c.m = map[string]*dagsvg.Graph{}
	}
	c.m[key] = g
	c.mu.Unlock()
	return g, nil
}

// dagSub is the second line of a step's node: its detail, else its
// reason (app.js does the same when a row changes).
func dagSub(s slipway.Step) string { return clip(cmp.Or(s.Detail, s.Reason), 120) }

// dag draws d's step graph as it is now; a graph that cannot be laid out
// is logged and left out (the table stays).
func (h *handler) dag(d slipway.Deployment) dagView {
	v := dagView{Max: maxDAGSteps}
	switch {
	case len(d.Steps) == 0:
		return v
	case len(d.Steps) > maxDAGSteps:
		v.TooMany = len(d.Steps)
		return v
	}
	g, err := h.dags.layout(d)
	if err != nil {
		h.log.Warn("web: lay out the step graph", "deployment", d.ID, "err", err)
		return v
	}
	steps := make(map[string]slipway.Step, len(d.Steps))
	for _, s := range d.Steps {
		steps[s.Key] = s
	}
	cp := *g
	cp.Nodes = slices.Clone(g.Nodes)
	cp.Title = "Step graph of deployment " + d.ID + ": " + strconv.Itoa(len(d.Steps)) + " steps"
	for i := range cp.Nodes {
		s := steps[cp.Nodes[i].ID]
		cp.Nodes[i].State, cp.Nodes[i].Sub = string(s.State), dagSub(s)
	}
	var b bytes.Buffer
	if err := cp.WriteSVG(&b); err != nil {
		h.log.Warn("web: draw the step graph", "deployment", d.ID, "err", err)
		return v
	}
	v.SVG = template.HTML(b.String()) //nolint:gosec // dagsvg escapes every text it writes
	return v
}
