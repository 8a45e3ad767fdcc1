package vecmath

import (
	"fmt"
	"math/rand/v2"
	"testing"
)

// BenchmarkCosineDistance is D for n x n vectors of 256 values (the heads'
// output size); n=3242 is the real dataset.
func BenchmarkCosineDistance(b *testing.B) {
	for _, n := range []int{648, 3242} {
		b.Run(fmt.Sprintf("n=%d", n), func(b *testing.B) {
			rng := rand.New(rand.NewPCG(1, 2))
			m := make([][]float32, n)
			for i := range m {
				m[i] = make([]float32, 256)
				for j := range m[i] {
					m[i][j] = float32(rng.NormFloat64())
				}
			}
			for b.Loop() {
				_ = CosineDistance(m, m)
			}
		})
	}
}

// BenchmarkScan scores one query against n rows of 128 values (the heads'
// default embed size; n=3242 is the real poster gallery), the work of one
// search: row by row with Dot, and eight rows at a time with DotPanels.
// ns/row is the cost per scored row.
func BenchmarkScan(b *testing.B) {
	const dim = 128
	for _, n := range []int{1_000, 3242} {
		rng := rand.New(rand.NewPCG(1, 2))
		q := randVec(rng, dim)
		rows := make([][]float32, n)
		flat := make([]float32, 0, n*dim)
		for i := range rows {
			rows[i] = randVec(rng, dim)
			flat = append(flat, rows[i]...)
		}
		out := make([]float32, PanelLen(n, 1))
		b.Run(fmt.Sprintf("Dot/n=%d", n), func(b *testing.B) {
			for b.Loop() {
				for r := range n {
					out[r] = Dot(q, flat[r*dim:(r+1)*dim])
				}
			}
			b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N*n), "ns/row")
		})
		panels := toPanels(rows, dim)
		qb := make([]float32, dim*PanelRows)
		b.Run(fmt.Sprintf("DotPanels/n=%d", n), func(b *testing.B) {
			for b.Loop() {
				SpreadQuery(qb, q)
				DotPanels(qb, panels, out)
			}
			b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N*n), "ns/row")
		})
	}
}

// BenchmarkScanInt8 is BenchmarkScan's DotPanels case on int8 panels: the
// first pass of search's int8 index, a quarter of the bytes per row.
func BenchmarkScanInt8(b *testing.B) {
	for _, dim := range []int{128, 512} {
		const n = 4096
		rng := rand.New(rand.NewPCG(1, 2))
		q := Normalized(randVec(rng, dim))
		panels := make([]int8, Int8PanelLen(n, dim))
		for i := range n {
			QuantizeRow(panels, i, Normalized(randVec(rng, dim)))
		}
		qb := make([]uint8, int8Dim(dim)*PanelRows)
		out := make([]int32, PanelLen(n, 1))
		b.Run(fmt.Sprintf("dim=%d", dim), func(b *testing.B) {
			for b.Loop() {
				QuantizeQuery(qb, q)
				DotPanelsInt8(qb, panels, out)
			}
			b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N*n), "ns/row")
		})
	}
}
