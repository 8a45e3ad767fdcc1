package search

import (
	"container/heap"
	"errors"
	"fmt"
	"math"
	"runtime"
	"sort"
	"sync"

	"github.com/reelmatch/reelmatch/internal/reel"
	"github.com/reelmatch/reelmatch/internal/vecmath"
)

// ErrDim is returned when a vector's length differs from the index's.
var ErrDim = errors.New("vector dimension mismatch")

// Index holds unit vectors [n, dim] in one row-major block with their ids.
type Index struct {
	dim  int
	ids  []reel.MovieID
	data []float32 // [n, dim] row-major, each row unit length (or zero)
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
	x.data = make([]float32, 0, len(ids)*dim)
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
	x.pos[id] = len(x.ids)
	x.ids = append(x.ids, id)
	x.data = append(x.data, vecmath.Normalized(v)...)
	return nil
}

// Len is the number of vectors.
func (x *Index) Len() int { return len(x.ids) }

// Dim is the vector length.
func (x *Index) Dim() int { return x.dim }

// IDs returns the ids in insertion order (do not modify).
func (x *Index) IDs() []reel.MovieID { return x.ids }

// Vector returns the stored unit vector of id (do not modify).
func (x *Index) Vector(id reel.MovieID) ([]float32, bool) {
	i, ok := x.pos[id]
	if !ok {
		return nil, false
	}
	return x.data[i*x.dim : (i+1)*x.dim], true
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
// goroutines; below it, starting goroutines costs more than it saves
// (measured with BenchmarkSearch: 10k x 256 takes about 1 ms on one core).
const parallelMin = 20_000

// Search returns the k vectors nearest to query by cosine similarity,
// nearest first, with Distance = 1 - cos. k larger than Len is clamped;
// k < 1 is an error. query need not be normalised.
func (x *Index) Search(query []float32, k int) ([]reel.Hit, error) {
	if k < 1 {
		return nil, fmt.Errorf("search: k must be at least 1, got %d", k)
	}
	if len(query) != x.dim {
		return nil, fmt.Errorf("search: %w: query has %d, index holds %d", ErrDim, len(query), x.dim)
	}
	if hasNaN(query) {
		return nil, errors.New("search: query vector holds NaN or Inf")
	}
	n := x.Len()
	k = min(k, n)
	if k == 0 {
		return []reel.Hit{}, nil
	}
	q := vecmath.Normalized(query)
	workers := 1
	if n >= parallelMin {
		workers = min(runtime.GOMAXPROCS(0), 8)
	}
	var cands []cand
	if workers == 1 {
		cands = x.scan(q, k, 0, n)
	} else {
		parts := make([][]cand, workers)
		var wg sync.WaitGroup
		chunk := (n + workers - 1) / workers
		for w := range workers {
			lo, hi := w*chunk, min(n, (w+1)*chunk)
			wg.Go(func() { parts[w] = x.scan(q, k, lo, hi) })
		}
		wg.Wait()
		for _, p := range parts {
			cands = append(cands, p...)
		}
	}
	sort.Slice(cands, func(a, b int) bool { return cands[a].before(cands[b]) })
	cands = cands[:min(k, len(cands))]
	hits := make([]reel.Hit, len(cands))
	for i, c := range cands {
		hits[i] = reel.Hit{ID: x.ids[c.idx], Distance: c.dist}
	}
	return hits, nil
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
	if len(query) != x.dim {
		return 0, fmt.Errorf("rank: %w: query has %d, index holds %d", ErrDim, len(query), x.dim)
	}
	if hasNaN(query) {
		return 0, errors.New("rank: query vector holds NaN or Inf")
	}
	q := vecmath.Normalized(query)
	target := 1 - vecmath.Dot(q, x.data[i*x.dim:(i+1)*x.dim])
	nearer := 0
	for j := range x.Len() {
		if j != i && 1-vecmath.Dot(q, x.data[j*x.dim:(j+1)*x.dim]) < target {
			nearer++
		}
	}
	return 1 + nearer, nil
}

// scan keeps the k best of rows [lo, hi) in a bounded max-heap whose root
// is the worst kept candidate, so most rows cost one comparison.
func (x *Index) scan(q []float32, k, lo, hi int) []cand {
	h := make(worstFirst, 0, k)
	for i := lo; i < hi; i++ {
		c := cand{dist: 1 - vecmath.Dot(q, x.data[i*x.dim:(i+1)*x.dim]), idx: i}
		if len(h) < k {
			heap.Push(&h, c)
		} else if c.before(h[0]) {
			h[0] = c
			heap.Fix(&h, 0)
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

// worstFirst is a heap whose root is the candidate ranked last.
type worstFirst []cand

func (h worstFirst) Len() int           { return len(h) }
func (h worstFirst) Less(a, b int) bool { return h[b].before(h[a]) }
func (h worstFirst) Swap(a, b int)      { h[a], h[b] = h[b], h[a] }
func (h *worstFirst) Push(v any)        { *h = append(*h, v.(cand)) }
func (h *worstFirst) Pop() any {
	old := *h
	v := old[len(old)-1]
	*h = old[:len(old)-1]
	return v
}
