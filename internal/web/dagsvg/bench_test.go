package dagsvg

import (
	"bytes"
	"testing"
)

// BenchmarkLayoutSVG lays out and draws whole deployments, as the
// deployment page does once per plan: 200 components (a build and a run
// each) with a few wait_for between runs, and the same 400 nodes with 580
// edges in all.
func BenchmarkLayoutSVG(b *testing.B) {
	for _, bc := range []struct {
		name  string
		nodes []Node
	}{
		{"200-components", deployment(200, 100)},
		{"400-nodes-580-edges", deployment(200, 380)},
	} {
		b.Run(bc.name, func(b *testing.B) {
			var buf bytes.Buffer
			for b.Loop() {
				buf.Reset()
				g, err := Layout(bc.nodes)
				if err != nil {
					b.Fatal(err)
				}
				if err := g.WriteSVG(&buf); err != nil {
					b.Fatal(err)
				}
			}
			b.ReportMetric(float64(buf.Len()), "svg-bytes")
		})
	}
}

func BenchmarkWriteNode(b *testing.B) {
	nodes := deployment(200, 380)
	g, err := Layout(nodes)
	if err != nil {
		b.Fatal(err)
	}
	var buf bytes.Buffer
	for b.Loop() {
		buf.Reset()
		if err := g.WriteNode(&buf, nodes[201]); err != nil {
			b.Fatal(err)
		}
	}
	b.ReportMetric(float64(buf.Len()), "fragment-bytes")
}
