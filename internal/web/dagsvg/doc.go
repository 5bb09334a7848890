// Package dagsvg lays out a deployment's step graph and draws it as SVG, on
// the server.
//
// Layout is server-side on purpose. Argo CD lays its resource trees out in the
// browser with dagre, and big trees freeze the tab (argo-cd#10253, #14274,
// #15509, #16939; the fix still proposed, argo-cd#29125, bounds how much is
// laid out). Here the layout is computed once per plan, in Go, in a few
// milliseconds for hundreds of steps (see the benchmarks); the page needs no
// JavaScript library to show it, and a live update only changes a node's
// class or swaps one node (WriteNode), both found by NodeID.
//
// The method is the layered one (Sugiyama): longest-path layers over Needs,
// left to right; dummy points on edges that span layers; a few barycenter
// sweeps to reduce crossings, keeping the best order seen; then vertical
// positions pulled towards the neighbours' while keeping order and spacing.
// Only integers are used, so the output is byte-identical on every platform.
//
// The SVG carries no script and no style attribute, so a strict Content
// Security Policy (default-src 'self') allows it: it is styled by classes, and
// Style holds the rules for them. Its own elements have fixed ids (dagsvg-…,
// which no NodeID can equal), so a page holds one drawing.
package dagsvg
