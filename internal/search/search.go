package search

import (
	"cmp"
	"errors"
	"fmt"
	"math"
	"runtime"
	"slices"
	"sync"

	"github.com/reelmatch/reelmatch/internal/reel"
	"github.com/reelmatch/reelmatch/internal/vecmath"
)

// ErrDim is returned when a vector's length differs from the index's.
var ErrDim = errors.New("vector dimension mismatch")

// Index holds unit vectors [n, dim] with their ids.
type Index struct {
	dim int
	ids []reel.MovieID
	// data is the vectors in vecmath's panel layout, [ceil(n/8)][dim][8]:
	// a search scores eight rows per SIMD lane group with no lane
	// reduction (vecmath.DotPanelsMulti), about 5x faster than row by row
	// (vecmath BenchmarkScan).
	// Rows past n in the last panel are zero.
	data []float32
	pos  map[reel.MovieID]int
	row  []float32 // Add's buffer for the normalised row
}

// New returns an empty index for vectors of length dim.
func New(dim int) *Index {
	return &Index{dim: dim, pos: map[reel.MovieID]int{}}
}

// FromVectors builds an index from ids and vectors aligned row by row.
func FromVectors(ids []reel.MovieID, vecs [][]float32) (*Index, error) {
	if len(ids) != len(vecs) {
		return nil, fmt.Errorf("build index: %d ids for %d vectors", len(ids), len(vecs))
	}
	dim := 0
	if len(vecs) > 0 {
		dim = len(vecs[0])
	}
	x := New(dim)
	x.pos = make(map[reel.MovieID]int, len(ids))
	x.ids = make([]reel.MovieID, 0, len(ids))
	x.data = make([]float32, 0, vecmath.PanelLen(len(ids), dim))
	for i, id := range ids {
		if err := x.Add(id, vecs[i]); err != nil {
			return nil, fmt.Errorf("build index: %w", err)
		}
	}
	return x, nil
}

// Add stores a unit-length copy of v under id. A zero vector is kept as
// zero (distance 1 to every query). Re-adding an id or a wrong length is an
// error.
func (x *Index) Add(id reel.MovieID, v []float32) error {
	if len(v) != x.dim {
		return fmt.Errorf("add %q: %w: got %d, index holds %d", id, ErrDim, len(v), x.dim)
	}
	if _, dup := x.pos[id]; dup {
		return fmt.Errorf("add %q: id already in the index", id)
	}
	if hasNaN(v) {
		return fmt.Errorf("add %q: vector holds NaN or Inf", id)
	}
	i := len(x.ids)
	if need := vecmath.PanelLen(i+1, x.dim); need > len(x.data) {
		// A new zero panel; Grow grows the backing array geometrically.
		old := len(x.data)
		x.data = slices.Grow(x.data, need-old)[:need]
		clear(x.data[old:])
	}
	if cap(x.row) < x.dim {
		x.row = make([]float32, x.dim)
	}
	normalizeInto(x.row[:x.dim], v) // no garbage per row: 1M adds made GC double the peak heap
	vecmath.SetPanelRow(x.data, i, x.row[:x.dim])
	x.pos[id] = i
	x.ids = append(x.ids, id)
	return nil
}

// Len is the number of vectors.
func (x *Index) Len() int { return len(x.ids) }

// Dim is the vector length.
func (x *Index) Dim() int { return x.dim }

// IDs returns the ids in insertion order (do not modify).
func (x *Index) IDs() []reel.MovieID { return x.ids }

// Vector returns a copy of the stored unit vector of id.
func (x *Index) Vector(id reel.MovieID) ([]float32, bool) {
	i, ok := x.pos[id]
	if !ok {
		return nil, false
	}
	return vecmath.PanelRow(make([]float32, x.dim), x.data, i), true
}

func hasNaN(v []float32) bool {
	for _, f := range v {
		if math.IsNaN(float64(f)) || math.IsInf(float64(f), 0) {
			return true
		}
	}
	return false
}

// parallelMin is the index size from which Search splits the scan over
// goroutines. Below it one core finishes the scan sooner than goroutines
// start and meet (100k x 256 takes about 2 ms on one core; BenchmarkSearch),
// and a server answering many searches at once keeps every core busy
// anyway.
const parallelMin = 20_000

// chunkPanels is how many panels Rank scores before it counts: 32 panels =
// 256 scores, a 1 KiB buffer that stays in L1.
const chunkPanels = 32

// scratch is one query's working memory, reused through scratchPool so a
// search allocates only its result.
type scratch struct {
	q  []float32 // the normalised query [dim]
	qb []float32 // q spread for vecmath.DotPanelsMulti [dim][PanelRows]
	// top and qbs are the serial scan's arguments: its top-k heap (kept for
	// its capacity) and qb, as one-element slices made once.
	top []topK
	qbs [][]float32
}

var scratchPool = sync.Pool{New: func() any { return new(scratch) }}

// maxPooledCands bounds the heap a pooled scratch keeps (16 KiB), so one
// search for a huge k does not pin its buffer in the pool.
const maxPooledCands = 1024

// check returns an error when query cannot be searched in x.
func (x *Index) check(op string, query []float32) error {
	if len(query) != x.dim {
		return fmt.Errorf("%s: %w: query has %d, index holds %d", op, ErrDim, len(query), x.dim)
	}
	if hasNaN(query) {
		return fmt.Errorf("%s: query vector holds NaN or Inf", op)
	}
	return nil
}

// prepare checks query and returns the pooled scratch holding it
// normalised and spread; the caller puts it back.
func (x *Index) prepare(op string, query []float32) (*scratch, error) {
	if err := x.check(op, query); err != nil {
		return nil, err
	}
	sc := scratchPool.Get().(*scratch)
	if cap(sc.q) < x.dim {
		sc.q, sc.qb = make([]float32, x.dim), make([]float32, x.dim*vecmath.PanelRows)
	}
	sc.q, sc.qb = sc.q[:x.dim], sc.qb[:x.dim*vecmath.PanelRows]
	if sc.top == nil {
		sc.top, sc.qbs = make([]topK, 1), make([][]float32, 1)
	}
	sc.qbs[0] = sc.qb
	normalizeInto(sc.q, query)
	vecmath.SpreadQuery(sc.qb, sc.q)
	return sc, nil
}

// normalizeInto writes v scaled to unit length into dst with the same
// arithmetic as vecmath.Normalized (a zero vector stays zero).
func normalizeInto(dst, v []float32) {
	n := vecmath.Norm(v)
	if n == 0 {
		clear(dst)
		return
	}
	inv := 1 / n
	for i, x := range v {
		dst[i] = float32(float64(x) * inv)
	}
}

// Search returns the k vectors nearest to query by cosine similarity,
// nearest first, with Distance = 1 - cos. k larger than Len is clamped;
// k < 1 is an error. query need not be normalised.
func (x *Index) Search(query []float32, k int) ([]reel.Hit, error) {
	if k < 1 {
		return nil, fmt.Errorf("search: k must be at least 1, got %d", k)
	}
	sc, err := x.prepare("search", query)
	if err != nil {
		return nil, err
	}
	defer scratchPool.Put(sc)
	n := x.Len()
	k = min(k, n)
	if k == 0 {
		return []reel.Hit{}, nil
	}
	var cands []cand
	if workers := x.workers(); workers == 1 {
		top := &sc.top[0]
		top.reset(k)
		x.scan(sc.qbs, sc.top, 0, x.panels())
		cands = top.h
		if cap(cands) <= maxPooledCands {
			top.h = cands[:0] // keep the grown buffer for the next query
		} else {
			top.h = nil
		}
	} else {
		cands = x.scanParallel(sc.qbs, k, workers)[0]
	}
	return x.hits(cands, k), nil
}

// hits sorts cands nearest first and returns the first k as hits.
func (x *Index) hits(cands []cand, k int) []reel.Hit {
	slices.SortFunc(cands, compareCands)
	cands = cands[:min(k, len(cands))]
	hits := make([]reel.Hit, len(cands))
	for i, c := range cands {
		hits[i] = reel.Hit{ID: x.ids[c.idx], Distance: c.dist}
	}
	return hits
}

// panels is the number of panels the index holds.
func (x *Index) panels() int { return (x.Len() + vecmath.PanelRows - 1) / vecmath.PanelRows }

// workers is how many goroutines one scan uses.
func (x *Index) workers() int {
	if x.Len() < parallelMin {
		return 1
	}
	return min(runtime.GOMAXPROCS(0), 8)
}

// scanParallel splits the panels into one range per worker, scans each
// range for every query in its own goroutine, and returns per query every
// worker's k best together.
func (x *Index) scanParallel(qbs [][]float32, k, workers int) [][]cand {
	parts := make([][]topK, workers)
	for w := range parts {
		parts[w] = newTops(len(qbs), k)
	}
	forRanges(x.panels(), workers, func(w, lo, hi int) { x.scan(qbs, parts[w], lo, hi) })
	out := make([][]cand, len(qbs))
	for qi := range out {
		for w := range parts {
			out[qi] = append(out[qi], parts[w][qi].h...)
		}
	}
	return out
}

// forRanges splits panels [0, panels) into workers ranges of whole panels
// and runs f(w, lo, hi) for each, on its own goroutine when there are
// several, and waits for them all.
func forRanges(panels, workers int, f func(w, lo, hi int)) {
	if workers == 1 {
		f(0, 0, panels)
		return
	}
	chunk := (panels + workers - 1) / workers
	var wg sync.WaitGroup
	for w := range workers {
		wg.Go(func() { f(w, min(panels, w*chunk), min(panels, (w+1)*chunk)) })
	}
	wg.Wait()
}

// Rank returns the 1-based rank id would have among Search(query, ...)
// results: 1 + the number of vectors strictly nearer to query than id's
// (a tie counts in id's favour, as metrics ranks do). It scores with the
// same arithmetic as Search, so a hit listed at position p has Rank <= p.
func (x *Index) Rank(query []float32, id reel.MovieID) (int, error) {
	i, ok := x.pos[id]
	if !ok {
		return 0, fmt.Errorf("rank: id %q is not in the index", id)
	}
	sc, err := x.prepare("rank", query)
	if err != nil {
		return 0, err
	}
	defer scratchPool.Put(sc)
	n := x.Len()
	size := vecmath.PanelRows * x.dim
	// The target's own score, from the same kernel (scores do not depend
	// on where a row sits in the scan).
	var own [vecmath.PanelRows]float32
	p := i / vecmath.PanelRows
	vecmath.DotPanelsMulti(sc.qbs, x.data[p*size:(p+1)*size], [][]float32{own[:]})
	target := 1 - own[i%vecmath.PanelRows]
	nearer := 0
	var scores [chunkPanels * vecmath.PanelRows]float32
	for lo := 0; lo < n; lo += len(scores) {
		out := scores[:min(len(scores), vecmath.PanelLen(n-lo, 1))]
		// A fresh one-element literal, not a reused slice: storing out
		// through a slice would move scores to the heap.
		vecmath.DotPanelsMulti(sc.qbs, x.data[lo*x.dim:], [][]float32{out})
		for r, s := range out[:min(len(out), n-lo)] {
			if 1-s < target && lo+r != i {
				nearer++
			}
		}
	}
	return 1 + nearer, nil
}

// scan offers every row of panels [lo, hi) to tops[i] scored against
// qbs[i]. The panels are read one block at a time (blockBytes), and every
// query scores a block before the next is read: queries batched into one
// scan share its trip through memory, the block staying in the core's
// cache while they pass over it, four at a time through
// vecmath.DotPanelsMulti (each panel column loaded serves four queries).
// A block's scores become distances in place, and vecmath.IndexBelow
// skips, eight at a time, the rows that cannot enter a query's heap.
func (x *Index) scan(qbs [][]float32, tops []topK, lo, hi int) {
	n := x.Len()
	block := blockPanels(vecmath.PanelRows * x.dim * 4)
	var buf [groupQueries][maxBlockPanels * vecmath.PanelRows]float32 // on the stack
	var outs [groupQueries][]float32
	for p := lo; p < hi; p += block {
		row := p * vecmath.PanelRows
		m := min(block, hi-p) * vecmath.PanelRows
		valid := min(m, n-row)
		data := x.data[row*x.dim:]
		for g := 0; g < len(qbs); g += groupQueries {
			group := qbs[g:min(g+groupQueries, len(qbs))]
			for i := range group {
				outs[i] = buf[i][:m]
			}
			vecmath.DotPanelsMulti(group, data, outs[:len(group)])
			for i := range group {
				offer(&tops[g+i], outs[i][:valid], row)
			}
		}
	}
}

// groupQueries is how many queries scan scores per call of the kernel:
// vecmath.DotPanelsMulti's widest inner loop.
const groupQueries = 4

// offer turns scores (rows first, first+1, …) into distances in place and
// pushes those that beat t's worst, in row order.
func offer(t *topK, scores []float32, first int) {
	vecmath.OneMinus(scores)
	for r := vecmath.IndexBelow(scores, 0, t.worst); r < len(scores); r = vecmath.IndexBelow(scores, r+1, t.worst) {
		t.push(cand{dist: scores[r], idx: first + r})
	}
}

// blockBytes is how much of the index one scan step reads before every
// batched query has scored it: 64 KiB stays in a core's L2 cache (1 MiB on
// the EPYC here, at least 256 KiB on any AVX2 CPU).
const blockBytes = 64 << 10

// maxBlockPanels caps a block so its scores fit an 8 KiB buffer.
const maxBlockPanels = 256

// blockPanels is how many panels of panelBytes make one scan block.
func blockPanels(panelBytes int) int {
	return min(maxBlockPanels, max(1, blockBytes/max(1, panelBytes)))
}

// topK keeps the k best candidates offered so far as a worst-first heap.
// worst is the distance a candidate must beat: +Inf until the heap is
// full, then the root's. Rows are offered in index order, so a row that
// only ties the worst never enters and the lower index wins ties.
type topK struct {
	h     []cand
	k     int
	worst float32
}

func newTops(nq, k int) []topK {
	tops := make([]topK, nq)
	for i := range tops {
		tops[i].reset(k)
	}
	return tops
}

// reset empties t for a new query, keeping its buffer.
func (t *topK) reset(k int) {
	t.h, t.k, t.worst = t.h[:0], k, float32(math.Inf(1))
}

// push adds c, which beats t.worst.
func (t *topK) push(c cand) {
	if len(t.h) < t.k {
		t.h = pushCand(t.h, c)
		if len(t.h) == t.k {
			t.worst = t.h[0].dist
		}
		return
	}
	t.h[0] = c
	siftDown(t.h, 0)
	t.worst = t.h[0].dist
}

type cand struct {
	dist float32
	idx  int
}

// before orders nearer first, then lower index.
func (c cand) before(o cand) bool {
	if c.dist != o.dist {
		return c.dist < o.dist
	}
	return c.idx < o.idx
}

// compareCands is before as a three-way comparison for slices.SortFunc.
func compareCands(a, b cand) int {
	if c := cmp.Compare(a.dist, b.dist); c != 0 {
		return c
	}
	return cmp.Compare(a.idx, b.idx)
}

// pushCand adds c to the worst-first heap h (root = the candidate ranked
// last). A typed heap: container/heap boxes every candidate into an
// interface, one allocation per push.
func pushCand(h []cand, c cand) []cand {
	h = append(h, c)
	for i := len(h) - 1; i > 0; {
		parent := (i - 1) / 2
		if !h[parent].before(h[i]) {
			break
		}
		h[parent], h[i] = h[i], h[parent]
		i = parent
	}
	return h
}

// siftDown restores the worst-first order below i after h[i] improved.
func siftDown(h []cand, i int) {
	for {
		worse := i
		if l := 2*i + 1; l < len(h) && h[worse].before(h[l]) {
			worse = l
		}
		if r := 2*i + 2; r < len(h) && h[worse].before(h[r]) {
			worse = r
		}
		if worse == i {
			return
		}
		h[i], h[worse] = h[worse], h[i]
		i = worse
	}
}
