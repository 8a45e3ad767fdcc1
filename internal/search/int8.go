package search

import (
	"fmt"
	"math"
	"slices"

	"github.com/reelmatch/reelmatch/internal/reel"
	"github.com/reelmatch/reelmatch/internal/vecmath"
)

// Int8Index searches an Index through int8 codes of its vectors: a scan of
// the codes (a quarter of the bytes of the float32 scan) gives every row
// an approximate distance and a proven bound on its error, and the rows
// that can still be among the k nearest are rescored with the Index's own
// float32 kernel. Hits and their distances are therefore always exactly
// the Index's (recall@10 is 1 by construction, not by luck).
//
// The bound: with q̂ and x̂ the int8 forms of the query q and a row x, the
// int8 score q̂·x̂ is within ‖q − q̂‖·‖x‖ + ‖q̂‖·‖x − x̂‖ of q·x (Cauchy-
// Schwarz on q·x − q̂·x̂ = (q − q̂)·x + q̂·(x − x̂)), where ‖x − x̂‖ is
// measured per row when the index is built and the query's terms when it
// is quantized; a float32 slack covers the rounding of both the int8
// distance and the exact kernel (see int8Bound). A row whose lowest
// possible distance exceeds the k-th smallest highest possible distance
// seen is beaten by k rows for sure and is dropped; the others are kept
// for the rescore (see rescore). On 1M random unit vectors with k = 10 the
// scan keeps a median of 76 rows per query at 128-d and 619 at 512-d
// (docs/scale.md). Should a query's candidates pass maxInt8Cands (vectors
// nearly equidistant from it, where the bound cannot separate them), it
// is answered by the Index's float32 scan instead: slower, still exact.
//
// It keeps the Index's float32 vectors for the rescore, so it holds more
// memory than the Index alone (Bytes: 4·dim + dim + 12 per vector, against
// 4·dim); what it saves is memory traffic and time per query.
type Int8Index struct {
	x     *Index
	codes []int8    // int8 panels (vecmath.Int8PanelLen)
	scale []float32 // per row: value = scale · code
	sum   []int32   // per row: the sum of its codes
	errs  []float32 // per row: ‖row − scale·codes‖₂, rounded up
}

// NewInt8 quantizes x's vectors, split over the cores as a scan is (each
// goroutine owns whole panels). x must not change afterwards.
func NewInt8(x *Index) *Int8Index {
	n, dim := x.Len(), x.Dim()
	q := &Int8Index{x: x, codes: make([]int8, vecmath.Int8PanelLen(n, dim)), scale: make([]float32, n), sum: make([]int32, n), errs: make([]float32, n)}
	forRanges(x.panels(), x.workers(), func(_, lo, hi int) {
		row := make([]float32, dim)
		for i := lo * vecmath.PanelRows; i < min(n, hi*vecmath.PanelRows); i++ {
			vecmath.PanelRow(row, x.data, i)
			q.scale[i], q.sum[i] = vecmath.QuantizeRow(q.codes, i, row)
			q.errs[i] = roundUp(vecmath.Int8RowError(q.codes, i, row, q.scale[i]))
		}
	})
	return q
}

// roundUp is f as a float32 no smaller than f.
func roundUp(f float64) float32 {
	v := float32(f)
	if float64(v) < f {
		v = math.Nextafter32(v, float32(math.Inf(1)))
	}
	return v
}

// Kind is KindInt8.
func (q *Int8Index) Kind() string { return KindInt8 }

// Len is the number of vectors.
func (q *Int8Index) Len() int { return q.x.Len() }

// Bytes counts the codes, per-row scale, sum and error, and the float32
// vectors kept for the rescore.
func (q *Int8Index) Bytes() int64 {
	return int64(len(q.codes)) + int64(len(q.scale))*12 + q.x.Bytes()
}

// Exact is the float32 index q rescores with.
func (q *Int8Index) Exact() *Index { return q.x }

func (q *Int8Index) exact() *Index { return q.x }

func (q *Int8Index) check(op string, query []float32) error { return q.x.check(op, query) }

// Search returns the k nearest vectors to query (see Int8Index).
func (q *Int8Index) Search(query []float32, k int) ([]reel.Hit, error) {
	hits, err := q.SearchBatch([][]float32{query}, k)
	if err != nil {
		return nil, err
	}
	return hits[0], nil
}

// int8Query is one query's float32 and int8 forms and its error bound.
type int8Query struct {
	sc    *scratch // normalised and spread float32 query, for the rescore
	codes []uint8  // vecmath.QuantizeQuery form
	scale float32  // query value = scale · (code - QueryOffset)
	// a row's int8 distance is within a + b·errs[row] of its exact one
	a, b float32
}

// newInt8Query quantizes the prepared query sc into codes
// (vecmath.Int8PanelLen(1, dim) bytes) and bounds its error.
func newInt8Query(sc *scratch, codes []uint8) int8Query {
	qq := int8Query{sc: sc, codes: codes, scale: vecmath.QuantizeQuery(codes, sc.q)}
	eq, nq := vecmath.QueryError(codes, sc.q, qq.scale)
	qq.a, qq.b = int8Bound(eq, nq, len(sc.q))
	return qq
}

// int8Bound returns a and b such that every row's int8 distance is within
// a + b·err of the distance the exact kernel gives, err being the row's
// ‖x − x̂‖ (rounded up). With eq = ‖q − q̂‖ and nq = ‖q̂‖ for the
// normalised query q (‖q‖ ≤ 1 + 1e-6, as for the stored rows):
//
//   - Cauchy-Schwarz: |q·x − q̂·x̂| ≤ eq·‖x‖ + nq·err, ‖x‖ ≤ 1 + 1e-6;
//   - the exact kernel sums two chains of at most ⌈dim/2⌉ fused products
//     and adds them: its error is at most (dim/2 + 2)·u·Σ|q_j·x_j| with
//     u = 2^-24 and Σ|q_j·x_j| ≤ ‖q‖·‖x‖ (Higham, Accuracy and Stability
//     of Numerical Algorithms, §3.1), and 1 − s rounds once more;
//   - the int8 distance, its bound and the comparisons round a few times
//     more (Int8Distances, Int8Lower, the upper bound): each at most u
//     times a value below 2.
//
// a takes the first term and a slack of (dim/2 + 16)·u·1.01, b the second,
// both rounded up with a relative margin of 1e-5: far more than the
// roundings need and far less than the gaps that separate hits (about
// 1e-3 at 1M random 128-d vectors), so it costs nothing measurable.
func int8Bound(eq, nq float64, dim int) (a, b float32) {
	const u = 0x1p-24
	slack := (float64(dim)/2 + 16) * u * 1.01
	return roundUp((eq*(1+1e-6) + slack) * (1 + 1e-5)), roundUp(nq * (1 + 1e-5))
}

// maxInt8Cands caps one query's candidates per scan range (a variable so
// tests can reach the fallback on small data).
var maxInt8Cands = 1 << 14

// SearchBatch answers several queries with one pass over the codes, like
// Index.SearchBatch.
func (q *Int8Index) SearchBatch(queries [][]float32, k int) ([][]reel.Hit, error) {
	if k < 1 {
		return nil, fmt.Errorf("search: k must be at least 1, got %d", k)
	}
	x := q.x
	qs := make([]int8Query, len(queries))
	codes := make([]uint8, len(queries)*vecmath.Int8PanelLen(1, x.dim))
	per := len(codes) / max(1, len(queries))
	for i, v := range queries {
		sc, err := x.prepare("search", v)
		if err != nil {
			return nil, fmt.Errorf("query %d: %w", i, err)
		}
		defer scratchPool.Put(sc)
		qs[i] = newInt8Query(sc, codes[i*per:(i+1)*per])
	}
	n := x.Len()
	k = min(k, n)
	out := make([][]reel.Hit, len(queries))
	if k == 0 || len(queries) == 0 {
		for i := range out {
			out[i] = []reel.Hit{}
		}
		return out, nil
	}
	parts := q.scanParallel(qs, k)
	var over []int // queries answered by the float32 scan
	for i := range qs {
		cands, ok := mergeParts(parts, i, k)
		if !ok {
			over = append(over, i)
			continue
		}
		out[i] = x.hits(q.rescore(qs[i].sc.qb, cands, k), k)
	}
	if len(over) > 0 {
		vs := make([][]float32, len(over))
		for j, i := range over {
			vs[j] = queries[i]
		}
		hits, err := x.SearchBatch(vs, k)
		if err != nil {
			return nil, err
		}
		for j, i := range over {
			out[i] = hits[j]
		}
	}
	return out, nil
}

// int8Part is one scan range's findings for every query of a batch.
type int8Part struct {
	uppers []topK   // per query: the k smallest upper bounds of distance seen
	cands  [][]cand // per query: rows that may be among the k nearest, dist = lower bound
	over   []bool   // per query: more than maxInt8Cands candidates
}

// scanParallel scans the codes for every query, split over the index's
// workers as Index.scanParallel does.
func (q *Int8Index) scanParallel(qs []int8Query, k int) []int8Part {
	parts := make([]int8Part, q.x.workers())
	for w := range parts {
		parts[w] = int8Part{uppers: newTops(len(qs), k), cands: make([][]cand, len(qs)), over: make([]bool, len(qs))}
	}
	forRanges(q.x.panels(), len(parts), func(w, lo, hi int) { q.scan(qs, &parts[w], lo, hi) })
	return parts
}

// mergeParts returns query i's candidates over every part whose lower
// bound is within the k-th smallest upper bound of all parts, or false
// when a part gave up on the query.
func mergeParts(parts []int8Part, i, k int) ([]cand, bool) {
	var uppers []float32
	for _, p := range parts {
		if p.over[i] {
			return nil, false
		}
		for _, c := range p.uppers[i].h {
			uppers = append(uppers, c.dist)
		}
	}
	slices.Sort(uppers)
	limit := uppers[min(k, len(uppers))-1] // k ≤ n, so the parts hold k
	var cands []cand
	for _, p := range parts {
		for _, c := range p.cands[i] {
			if c.dist <= limit {
				cands = append(cands, c)
			}
		}
	}
	return cands, true
}

// scan scores every row of panels [lo, hi) for every query by its int8
// distance, a block at a time as Index.scan does, and keeps in part the
// rows whose lower bound is within the k-th smallest upper bound so far.
func (q *Int8Index) scan(qs []int8Query, part *int8Part, lo, hi int) {
	n := q.x.Len()
	d4 := vecmath.Int8PanelLen(1, q.x.dim) / vecmath.PanelRows
	block := blockPanels(vecmath.PanelRows * d4)
	var scores [maxBlockPanels * vecmath.PanelRows]int32
	var dists, lower [maxBlockPanels * vecmath.PanelRows]float32
	inf := float32(math.Inf(1))
	for p := lo; p < hi; p += block {
		row := p * vecmath.PanelRows
		out := scores[:min(block, hi-p)*vecmath.PanelRows]
		valid := min(len(out), n-row)
		data := q.codes[row*d4:]
		scale, sum, errs := q.scale[row:row+valid], q.sum[row:row+valid], q.errs[row:row+valid]
		for i := range qs {
			if part.over[i] {
				continue
			}
			qq := &qs[i]
			vecmath.DotPanelsInt8(qq.codes, data, out)
			vecmath.Int8Distances(dists[:valid], out, scale, sum, qq.scale)
			vecmath.Int8Lower(lower[:valid], dists[:valid], errs, qq.a, qq.b)
			t := &part.uppers[i]
			limit := math.Nextafter32(t.worst, inf) // lower < limit ⟺ lower ≤ worst
			for r := vecmath.IndexBelow(lower[:valid], 0, limit); r < valid; r = vecmath.IndexBelow(lower[:valid], r+1, limit) {
				if up := dists[r] + (qq.b*errs[r] + qq.a); up < t.worst {
					t.push(cand{dist: up, idx: row + r})
					limit = math.Nextafter32(t.worst, inf)
				}
				part.cands[i] = append(part.cands[i], cand{dist: lower[r], idx: row + r})
				if len(part.cands[i]) > maxInt8Cands && !prune(part, i) {
					part.over[i] = true
					part.cands[i] = nil
					break
				}
			}
		}
	}
}

// prune drops query i's candidates whose lower bound now exceeds its k-th
// smallest upper bound, and reports whether that freed at least half the
// cap.
func prune(part *int8Part, i int) bool {
	worst := part.uppers[i].worst
	part.cands[i] = slices.DeleteFunc(part.cands[i], func(c cand) bool { return c.dist > worst })
	return len(part.cands[i]) <= maxInt8Cands/2
}

// rescore returns the k nearest of cands (dist = lower bound) by the
// Index's exact distance, from the same kernel as Index.Search (a row's
// score does not depend on its panel neighbours). It takes the candidates
// from the lowest bound up and stops at the first whose lower bound
// exceeds the k-th exact distance found: that row and every later one are
// farther than k rows already scored. A bound equal to it is still scored
// (an equal distance at a lower index would rank first). On random data
// it scores a few tens of rows of the hundreds kept.
func (q *Int8Index) rescore(qb []float32, cands []cand, k int) []cand {
	x := q.x
	slices.SortFunc(cands, compareCands)
	size := vecmath.PanelRows * x.dim
	var scores [vecmath.PanelRows]float32
	qbs, outs := [][]float32{qb}, [][]float32{scores[:]}
	var top topK
	top.reset(k)
	for _, c := range cands {
		if len(top.h) == k && c.dist > top.worst {
			break
		}
		p := c.idx / vecmath.PanelRows
		vecmath.DotPanelsMulti(qbs, x.data[p*size:(p+1)*size], outs)
		e := cand{dist: 1 - scores[c.idx%vecmath.PanelRows], idx: c.idx}
		if len(top.h) < k || e.before(top.h[0]) {
			top.push(e)
		}
	}
	return top.h
}
