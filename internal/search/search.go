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
	// a search scores eight rows per AVX2 instruction with no lane
	// reduction, about 5x faster than row by row (vecmath BenchmarkScan).
	// Rows past n in the last panel are zero.
	data []float32
	pos  map[reel.MovieID]int
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
		// A new zero panel; append grows the backing array geometrically.
		x.data = append(x.data, make([]float32, need-len(x.data))...)
	}
	vecmath.SetPanelRow(x.data, i, vecmath.Normalized(v))
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

// chunkPanels is how many panels a scan scores before it picks the best of
// them: 32 panels = 256 scores, a 1 KiB buffer that stays in L1.
const chunkPanels = 32

// scratch is one query's working memory, reused through scratchPool so a
// search allocates only its result.
type scratch struct {
	q  []float32 // the normalised query [dim]
	qb []float32 // q spread for vecmath.DotPanels [dim][PanelRows]
	// cands is the serial scan's top-k heap, kept for its capacity.
	cands []cand
}

var scratchPool = sync.Pool{New: func() any { return new(scratch) }}

// maxPooledCands bounds the heap a pooled scratch keeps (16 KiB), so one
// search for a huge k does not pin its buffer in the pool.
const maxPooledCands = 1024

// prepare checks query and returns the pooled scratch holding it
// normalised and spread; the caller puts it back.
func (x *Index) prepare(op string, query []float32) (*scratch, error) {
	if len(query) != x.dim {
		return nil, fmt.Errorf("%s: %w: query has %d, index holds %d", op, ErrDim, len(query), x.dim)
	}
	if hasNaN(query) {
		return nil, fmt.Errorf("%s: query vector holds NaN or Inf", op)
	}
	sc := scratchPool.Get().(*scratch)
	if cap(sc.q) < x.dim {
		sc.q, sc.qb = make([]float32, x.dim), make([]float32, x.dim*vecmath.PanelRows)
	}
	sc.q, sc.qb = sc.q[:x.dim], sc.qb[:x.dim*vecmath.PanelRows]
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
	panels := (n + vecmath.PanelRows - 1) / vecmath.PanelRows
	workers := 1
	if n >= parallelMin {
		workers = min(runtime.GOMAXPROCS(0), 8)
	}
	var cands []cand
	if workers == 1 {
		cands = x.scan(sc.qb, k, 0, panels, sc.cands[:0])
		if cap(cands) <= maxPooledCands {
			sc.cands = cands[:0] // keep the grown buffer for the next query
		}
	} else {
		cands = x.scanParallel(sc.qb, k, panels, workers)
	}
	slices.SortFunc(cands, compareCands)
	cands = cands[:k]
	hits := make([]reel.Hit, k)
	for i, c := range cands {
		hits[i] = reel.Hit{ID: x.ids[c.idx], Distance: c.dist}
	}
	return hits, nil
}

// scanParallel splits the panels into one range per worker, scans each in
// its own goroutine and returns every worker's k best together.
func (x *Index) scanParallel(qb []float32, k, panels, workers int) []cand {
	parts := make([][]cand, workers)
	var wg sync.WaitGroup
	chunk := (panels + workers - 1) / workers
	for w := range workers {
		lo, hi := min(panels, w*chunk), min(panels, (w+1)*chunk)
		wg.Go(func() { parts[w] = x.scan(qb, k, lo, hi, make([]cand, 0, k)) })
	}
	wg.Wait()
	return slices.Concat(parts...)
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
	vecmath.DotPanels(sc.qb, x.data[p*size:(p+1)*size], own[:])
	target := 1 - own[i%vecmath.PanelRows]
	nearer := 0
	var scores [chunkPanels * vecmath.PanelRows]float32
	for lo := 0; lo < n; lo += len(scores) {
		out := scores[:min(len(scores), vecmath.PanelLen(n-lo, 1))]
		vecmath.DotPanels(sc.qb, x.data[lo*x.dim:], out)
		for r, s := range out[:min(len(out), n-lo)] {
			if 1-s < target && lo+r != i {
				nearer++
			}
		}
	}
	return 1 + nearer, nil
}

// scan keeps in h the k best rows of panels [lo, hi) (ordered by before),
// as a bounded max-heap whose root is the worst kept candidate, and
// returns it. Rows come in index order, so a row that only ties the worst
// never enters: most rows cost one comparison.
func (x *Index) scan(qb []float32, k, lo, hi int, h []cand) []cand {
	n := x.Len()
	var scores [chunkPanels * vecmath.PanelRows]float32
	worst := float32(math.Inf(1)) // h[0].dist once h is full
	for p := lo; p < hi; p += chunkPanels {
		row := p * vecmath.PanelRows
		out := scores[:min(chunkPanels, hi-p)*vecmath.PanelRows]
		vecmath.DotPanels(qb, x.data[row*x.dim:], out)
		for r, s := range out[:min(len(out), n-row)] {
			d := 1 - s
			if len(h) < k {
				h = pushCand(h, cand{dist: d, idx: row + r})
				if len(h) == k {
					worst = h[0].dist
				}
			} else if d < worst {
				h[0] = cand{dist: d, idx: row + r}
				siftDown(h, 0)
				worst = h[0].dist
			}
		}
	}
	return h
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
