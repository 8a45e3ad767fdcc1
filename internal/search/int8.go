package search

import (
	"fmt"

	"github.com/reelmatch/reelmatch/internal/reel"
	"github.com/reelmatch/reelmatch/internal/vecmath"
)

// Int8Index searches an Index through int8 codes of its vectors: a scan of
// the codes (a quarter of the bytes of the float32 scan) picks the
// Rescore(k) best candidates by approximate score, and those are rescored
// with the Index's own float32 kernel. Hits and their distances are
// therefore exactly the Index's whenever the true k nearest are among the
// candidates (bench search reports how often: recall@10); an index no
// larger than the candidate count is searched exactly.
//
// It keeps the Index's float32 vectors for the rescore, so it holds more
// memory than the Index alone (Bytes: 4·dim + dim + 8 per vector, against
// 4·dim); what it saves is memory traffic and time per query.
type Int8Index struct {
	x     *Index
	codes []int8    // int8 panels (vecmath.Int8PanelLen)
	scale []float32 // per row: value = scale · code
	sum   []int32   // per row: the sum of its codes
}

// NewInt8 quantizes x's vectors. x must not change afterwards.
func NewInt8(x *Index) *Int8Index {
	n, dim := x.Len(), x.Dim()
	q := &Int8Index{x: x, codes: make([]int8, vecmath.Int8PanelLen(n, dim)), scale: make([]float32, n), sum: make([]int32, n)}
	row := make([]float32, dim)
	for i := range n {
		q.scale[i], q.sum[i] = vecmath.QuantizeRow(q.codes, i, vecmath.PanelRow(row, x.data, i))
	}
	return q
}

// Kind is KindInt8.
func (q *Int8Index) Kind() string { return KindInt8 }

// Len is the number of vectors.
func (q *Int8Index) Len() int { return q.x.Len() }

// Bytes counts the codes, per-row scale and sum, and the float32 vectors
// kept for the rescore.
func (q *Int8Index) Bytes() int64 {
	return int64(len(q.codes)) + int64(len(q.scale))*8 + q.x.Bytes()
}

// Exact is the float32 index q rescores with.
func (q *Int8Index) Exact() *Index { return q.x }

func (q *Int8Index) exact() *Index { return q.x }

// Rescore is how many candidates a query for k hits rescores in float32:
// 10·k, at least 100. At 1M random unit vectors of 128 or 512 values the
// int8 score is off by about 0.001, a few vectors' worth of the gaps near
// the top 10, so 100 candidates hold the true 10 nearly always (bench
// search measures recall@10).
func Rescore(k int) int { return max(100, 10*k) }

func (q *Int8Index) check(op string, query []float32) error { return q.x.check(op, query) }

// Search returns the k nearest vectors to query (see Int8Index).
func (q *Int8Index) Search(query []float32, k int) ([]reel.Hit, error) {
	hits, err := q.SearchBatch([][]float32{query}, k)
	if err != nil {
		return nil, err
	}
	return hits[0], nil
}

// int8Query is one query's float32 and int8 forms.
type int8Query struct {
	sc    *scratch // normalised and spread float32 query, for the rescore
	codes []uint8  // vecmath.QuantizeQuery form
	scale float32  // query value = scale · (code - QueryOffset)
}

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
		qs[i].sc, qs[i].codes = sc, codes[i*per:(i+1)*per]
		qs[i].scale = vecmath.QuantizeQuery(qs[i].codes, sc.q)
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
	depth := min(n, Rescore(k))
	cands := inParallel(x.panels(), x.workers(), len(qs), depth, func(tops []topK, lo, hi int) { q.scan(qs, tops, lo, hi) })
	for i := range qs {
		out[i] = x.hits(q.rescore(qs[i].sc.qb, cands[i]), k)
	}
	return out, nil
}

// scan offers every row of panels [lo, hi) to tops[i] by its approximate
// distance to qs[i], a block at a time as Index.scan does.
func (q *Int8Index) scan(qs []int8Query, tops []topK, lo, hi int) {
	n := q.x.Len()
	d4 := vecmath.Int8PanelLen(1, q.x.dim) / vecmath.PanelRows
	block := blockPanels(vecmath.PanelRows * d4)
	var scores [maxBlockPanels * vecmath.PanelRows]int32
	var dists [maxBlockPanels * vecmath.PanelRows]float32
	for p := lo; p < hi; p += block {
		row := p * vecmath.PanelRows
		out := scores[:min(block, hi-p)*vecmath.PanelRows]
		valid := min(len(out), n-row)
		data := q.codes[row*d4:]
		scale, sum := q.scale[row:row+valid], q.sum[row:row+valid]
		for i, qq := range qs {
			vecmath.DotPanelsInt8(qq.codes, data, out)
			vecmath.Int8Distances(dists[:valid], out, scale, sum, qq.scale)
			offerDistances(&tops[i], dists[:valid], row)
		}
	}
}

// rescore replaces each candidate's approximate distance with the Index's
// exact one, from the same kernel as Index.Search (a row's score does not
// depend on its panel neighbours).
func (q *Int8Index) rescore(qb []float32, cands []cand) []cand {
	x := q.x
	size := vecmath.PanelRows * x.dim
	var scores [vecmath.PanelRows]float32
	qbs, outs := [][]float32{qb}, [][]float32{scores[:]}
	last := -1
	// Candidates come in no particular order; sorting by index would let
	// neighbours share a panel's scores, but 100 panels cost microseconds.
	for i, c := range cands {
		p := c.idx / vecmath.PanelRows
		if p != last {
			vecmath.DotPanelsMulti(qbs, x.data[p*size:(p+1)*size], outs)
			last = p
		}
		cands[i].dist = 1 - scores[c.idx%vecmath.PanelRows]
	}
	return cands
}
