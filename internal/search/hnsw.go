package search

import (
	"cmp"
	"context"
	"fmt"
	"math"
	"math/rand/v2"
	"runtime"
	"slices"
	"sync"
	"sync/atomic"

	"github.com/reelmatch/reelmatch/internal/bound"
	"github.com/reelmatch/reelmatch/internal/reel"
	"github.com/reelmatch/reelmatch/internal/vecmath"
)

// HNSW is an approximate index: a hierarchical navigable small-world graph
// (Malkov and Yashunin, "Efficient and robust approximate nearest neighbor
// search using Hierarchical Navigable Small World graphs", IEEE TPAMI 2020,
// arXiv:1603.09320): Algorithm 1 to insert, 2 to search a layer, 4 (the
// neighbour heuristic, without the optional candidate extension) to choose
// links, as hnswlib does. It is written here because the Go library at
// hand, github.com/coder/hnsw, has a known recall bug in v0.6.1 (the only
// version on the Go module proxy): a layer search stops at the first
// expansion that does not improve its best hit and keeps only k results,
// and measured recall@10 of 0.02 on 10,000 random 128-d vectors at every
// EfSearch tried (docs/scale.md). Upstream fixed it in pull request #22,
// which no version on the proxy carries.
//
// It holds a float32 copy of the unit vectors, row-major so a node's
// vector is one contiguous read, and per node its links: up to 2·M on
// layer 0, M above. Searches are safe for concurrent use once built; hits
// are nearest first, ties by insertion order, with Distance = 1 - cosine
// from vecmath.Dot (equal to the exact index's up to float32 rounding).
type HNSW struct {
	opts HNSWOptions
	dim  int
	ids  []reel.MovieID
	vecs []float32 // [n][dim], unit rows
	// links0 holds layer 0: node i's links are links0[i*m0 : i*m0+count0[i]].
	links0 []uint32
	count0 []uint16
	// upper[i] holds node i's links on layers 1..level(i), M slots each,
	// the first value of each slot group being its count.
	upper [][]uint32
	level []uint8
	entry int32
	top   int // the entry point's level

	locks   []sync.Mutex // one per node, taken while its links change (build only)
	entryMu sync.Mutex   // guards entry and top during the build
	built   bool
	visited sync.Pool // *visitedSet
}

// HNSWOptions are the graph's parameters.
type HNSWOptions struct {
	// M is the number of links per node on the upper layers; layer 0 keeps
	// 2·M (the paper's Mmax0).
	M int
	// EfConstruction is the candidate list size while inserting.
	EfConstruction int
	// EfSearch is the candidate list size while searching (at least k).
	EfSearch int
	// Seed draws the node levels.
	Seed uint64
	// Workers insert in parallel (0: GOMAXPROCS). With more than one the
	// graph depends on thread timing; with one it is a function of the
	// input and Seed.
	Workers int
}

// DefaultHNSWOptions are the parameters serve and bench use. On 30,000
// random unit 128-d vectors, M 32 and EfConstruction 200 reach recall@10
// 0.989 at EfSearch 400 and 0.998 at 800, where M 16 and EfConstruction
// 100 reach 0.876 and 0.969 for about the same search time and half the
// build time; recall falls as the catalogue grows (docs/scale.md), hence
// 800. Random vectors are the hard case for a graph index: real
// embeddings have fewer effective dimensions.
func DefaultHNSWOptions() HNSWOptions {
	return HNSWOptions{M: 32, EfConstruction: 200, EfSearch: 800, Seed: 1}
}

// Ranges of the HNSW parameters.
var (
	// HNSWMRange: layer-0 link counts must fit a uint16 (2·M).
	HNSWMRange  = bound.Int{Min: 2, Max: 256}
	HNSWEfRange = bound.Int{Min: 1, Max: 10_000}
)

// Check reports a parameter out of range, naming bench's flag for it.
func (o HNSWOptions) Check() error {
	for _, c := range []struct {
		flag string
		r    bound.Int
		v    int
	}{{"hnsw-m", HNSWMRange, o.M}, {"hnsw-ef-construction", HNSWEfRange, o.EfConstruction}, {"hnsw-ef-search", HNSWEfRange, o.EfSearch}} {
		if err := c.r.Check(c.v); err != nil {
			return fmt.Errorf("--%s %w", c.flag, err)
		}
	}
	if o.Workers < 0 {
		return fmt.Errorf("hnsw workers must be at least 0, got %d", o.Workers)
	}
	return nil
}

// NewHNSW builds the graph over ids and vecs (aligned row by row; vectors
// are normalised, a zero vector stays zero). Ids must be unique and vectors
// finite, as for Index.
func NewHNSW(ids []reel.MovieID, vecs [][]float32, o HNSWOptions) (*HNSW, error) {
	return NewHNSWContext(context.Background(), ids, vecs, o)
}

// NewHNSWContext is NewHNSW that stops inserting and returns ctx's error
// when ctx is cancelled (a 1M build takes tens of CPU-minutes).
func NewHNSWContext(ctx context.Context, ids []reel.MovieID, vecs [][]float32, o HNSWOptions) (*HNSW, error) {
	if err := o.Check(); err != nil {
		return nil, err
	}
	if len(ids) != len(vecs) {
		return nil, fmt.Errorf("build hnsw: %d ids for %d vectors", len(ids), len(vecs))
	}
	if len(ids) > math.MaxInt32 {
		return nil, fmt.Errorf("build hnsw: %d vectors, at most %d", len(ids), math.MaxInt32)
	}
	n, dim := len(ids), 0
	if n > 0 {
		dim = len(vecs[0])
	}
	h := &HNSW{opts: o, dim: dim, ids: slices.Clone(ids), vecs: make([]float32, n*dim),
		links0: make([]uint32, n*2*o.M), count0: make([]uint16, n), upper: make([][]uint32, n),
		level: make([]uint8, n), entry: -1, locks: make([]sync.Mutex, n)}
	seen := make(map[reel.MovieID]struct{}, n)
	rng := rand.New(rand.NewPCG(o.Seed, 0x686e7377))
	mL := 1 / math.Log(float64(o.M))
	for i, v := range vecs {
		if len(v) != dim {
			return nil, fmt.Errorf("build hnsw: add %q: %w: got %d, index holds %d", ids[i], ErrDim, len(v), dim)
		}
		if hasNaN(v) {
			return nil, fmt.Errorf("build hnsw: add %q: vector holds NaN or Inf", ids[i])
		}
		if _, dup := seen[ids[i]]; dup {
			return nil, fmt.Errorf("build hnsw: add %q: id already in the index", ids[i])
		}
		seen[ids[i]] = struct{}{}
		normalizeInto(h.vecs[i*dim:(i+1)*dim], v)
		// The paper's level draw, floor(-ln(U)·mL), capped so a level fits
		// a byte (a level past 20 needs about M^20 nodes).
		l := min(20, int(-math.Log(1-rng.Float64())*mL))
		h.level[i] = uint8(l)
		if l > 0 {
			h.upper[i] = make([]uint32, l*(o.M+1))
		}
	}
	h.visited.New = func() any { return &visitedSet{marks: make([]uint32, n)} }
	if n == 0 {
		h.built = true
		return h, nil
	}
	h.entry, h.top = 0, int(h.level[0])
	workers := o.Workers
	if workers == 0 {
		workers = runtime.GOMAXPROCS(0)
	}
	var next atomic.Int64
	next.Store(1)
	var wg sync.WaitGroup
	for range min(workers, n) {
		wg.Go(func() {
			for {
				i := int(next.Add(1)) - 1
				if i >= n || ctx.Err() != nil {
					return
				}
				h.insert(int32(i))
			}
		})
	}
	wg.Wait()
	if err := ctx.Err(); err != nil {
		return nil, fmt.Errorf("build hnsw: %w", err)
	}
	h.built = true
	return h, nil
}

// Kind is KindHNSW.
func (h *HNSW) Kind() string { return KindHNSW }

// Len is the number of vectors.
func (h *HNSW) Len() int { return len(h.ids) }

// Bytes counts the float32 vectors, the layer-0 links and counts, the
// upper-layer links and the levels.
func (h *HNSW) Bytes() int64 {
	b := int64(len(h.vecs))*4 + int64(len(h.links0))*4 + int64(len(h.count0))*2 + int64(len(h.level))
	for _, u := range h.upper {
		b += int64(len(u))*4 + 24 // the slice header
	}
	return b
}

// Options returns the graph's parameters.
func (h *HNSW) Options() HNSWOptions { return h.opts }

func (h *HNSW) vec(i int32) []float32 {
	return h.vecs[int(i)*h.dim : (int(i)+1)*h.dim : (int(i)+1)*h.dim]
}

func (h *HNSW) dist(q []float32, i int32) float32 { return 1 - vecmath.Dot(q, h.vec(i)) }

// links copies node i's links on layer l into buf and returns them. During
// the build it holds the node's lock while copying.
func (h *HNSW) links(i int32, l int, buf []int32) []int32 {
	buf = buf[:0]
	if !h.built {
		h.locks[i].Lock()
		defer h.locks[i].Unlock()
	}
	if l == 0 {
		m0 := 2 * h.opts.M
		for _, v := range h.links0[int(i)*m0 : int(i)*m0+int(h.count0[i])] {
			buf = append(buf, int32(v))
		}
		return buf
	}
	g := h.upper[i][(l-1)*(h.opts.M+1):][:h.opts.M+1]
	for _, v := range g[1 : 1+g[0]] {
		buf = append(buf, int32(v))
	}
	return buf
}

// setLinks stores node i's links on layer l; the caller holds its lock.
func (h *HNSW) setLinks(i int32, l int, to []int32) {
	if l == 0 {
		m0 := 2 * h.opts.M
		dst := h.links0[int(i)*m0 : int(i)*m0+m0]
		for j, v := range to {
			dst[j] = uint32(v)
		}
		h.count0[i] = uint16(len(to))
		return
	}
	g := h.upper[i][(l-1)*(h.opts.M+1):][:h.opts.M+1]
	g[0] = uint32(len(to))
	for j, v := range to {
		g[1+j] = uint32(v)
	}
}

// hnswCand is a node and its distance to the query.
type hnswCand struct {
	d float32
	i int32
}

func (a hnswCand) less(b hnswCand) bool {
	return a.d < b.d || (a.d == b.d && a.i < b.i)
}

// visitedSet is one goroutine's search memory: marks of the nodes seen
// (a node is seen when its mark equals the generation, so clearing is a
// counter bump) and the buffers of searchLayer, kept between searches.
type visitedSet struct {
	marks []uint32
	gen   uint32
	near  nearHeap
	far   nearHeap // negated: the farthest on top
	buf   []int32
}

func (v *visitedSet) reset() {
	v.gen++
	if v.gen == 0 { // wrapped: clear for real once every 4 billion searches
		clear(v.marks)
		v.gen = 1
	}
}

// searchLayer is the paper's Algorithm 2: the ef nearest to q on layer l
// found from the entry points, nearest first.
func (h *HNSW) searchLayer(q []float32, eps []hnswCand, ef, l int, vis *visitedSet) []hnswCand {
	vis.reset()
	cands, results := vis.near[:0], vis.far[:0] // results holds neg(candidate)
	for _, e := range eps {
		vis.marks[e.i] = vis.gen
		cands.push(e)
		results.push(neg(e))
	}
	for len(results) > ef {
		results.pop()
	}
	for len(cands) > 0 {
		c := cands.pop()
		if neg(results[0]).less(c) && len(results) >= ef {
			break
		}
		vis.buf = h.links(c.i, l, vis.buf)
		for _, e := range vis.buf {
			if vis.marks[e] == vis.gen {
				continue
			}
			vis.marks[e] = vis.gen
			ec := hnswCand{h.dist(q, e), e}
			if len(results) < ef || ec.less(neg(results[0])) {
				cands.push(ec)
				results.push(neg(ec))
				if len(results) > ef {
					results.pop()
				}
			}
		}
	}
	out := make([]hnswCand, len(results))
	for j, r := range results {
		out[j] = neg(r)
	}
	vis.near, vis.far = cands, results
	slices.SortFunc(out, compareHNSW)
	return out
}

func compareHNSW(a, b hnswCand) int {
	if c := cmp.Compare(a.d, b.d); c != 0 {
		return c
	}
	return cmp.Compare(a.i, b.i)
}

// selectNeighbors is the paper's Algorithm 4 (hnswlib's
// getNeighborsByHeuristic2): walking the candidates nearest first, keep one
// when it is nearer to the base than to every one kept, up to m. cands is
// sorted nearest first; the result reuses its memory.
func (h *HNSW) selectNeighbors(cands []hnswCand, m int) []hnswCand {
	if len(cands) <= m {
		return cands
	}
	kept := cands[:0:0]
	for _, c := range cands {
		good := true
		cv := h.vec(c.i)
		for _, k := range kept {
			if 1-vecmath.Dot(cv, h.vec(k.i)) < c.d {
				good = false
				break
			}
		}
		if good {
			kept = append(kept, c)
			if len(kept) == m {
				break
			}
		}
	}
	return kept
}

// insert adds node i (Algorithm 1).
func (h *HNSW) insert(i int32) {
	q := h.vec(i)
	l := int(h.level[i])
	h.entryMu.Lock()
	ep, top := h.entry, h.top
	raise := l > top
	if !raise {
		h.entryMu.Unlock()
	} // else hold it: the entry point changes when i is in
	vis := h.visited.Get().(*visitedSet)
	defer h.visited.Put(vis)
	cur := hnswCand{h.dist(q, ep), ep}
	for lc := top; lc > l; lc-- {
		cur = h.greedy(q, cur, lc, vis)
	}
	eps := []hnswCand{cur}
	for lc := min(l, top); lc >= 0; lc-- {
		w := h.searchLayer(q, eps, h.opts.EfConstruction, lc, vis)
		mmax := h.opts.M
		if lc == 0 {
			mmax = 2 * h.opts.M
		}
		nb := h.selectNeighbors(slices.Clone(w), h.opts.M)
		ids := make([]int32, len(nb))
		for j, c := range nb {
			ids[j] = c.i
		}
		h.locks[i].Lock()
		h.setLinks(i, lc, ids)
		h.locks[i].Unlock()
		for _, c := range nb {
			h.link(c.i, i, c.d, lc, mmax)
		}
		eps = w
	}
	if raise {
		h.entry, h.top = i, l
		h.entryMu.Unlock()
	}
}

// greedy walks layer l from cur to a local minimum (search with ef = 1).
func (h *HNSW) greedy(q []float32, cur hnswCand, l int, vis *visitedSet) hnswCand {
	for changed := true; changed; {
		changed = false
		vis.buf = h.links(cur.i, l, vis.buf)
		for _, e := range vis.buf {
			if c := (hnswCand{h.dist(q, e), e}); c.less(cur) {
				cur, changed = c, true
			}
		}
	}
	return cur
}

// link adds the link from -> to on layer l (d their distance), shrinking
// from's links with the heuristic when they are full.
func (h *HNSW) link(from, to int32, d float32, l, mmax int) {
	h.locks[from].Lock()
	defer h.locks[from].Unlock()
	var cur []int32
	if l == 0 {
		m0 := 2 * h.opts.M
		for _, v := range h.links0[int(from)*m0 : int(from)*m0+int(h.count0[from])] {
			cur = append(cur, int32(v))
		}
	} else {
		g := h.upper[from][(l-1)*(h.opts.M+1):][:h.opts.M+1]
		for _, v := range g[1 : 1+g[0]] {
			cur = append(cur, int32(v))
		}
	}
	if slices.Contains(cur, to) {
		return
	}
	if len(cur) < mmax {
		h.setLinks(from, l, append(cur, to))
		return
	}
	fv := h.vec(from)
	cands := make([]hnswCand, 0, len(cur)+1)
	cands = append(cands, hnswCand{d, to})
	for _, c := range cur {
		cands = append(cands, hnswCand{1 - vecmath.Dot(fv, h.vec(c)), c})
	}
	slices.SortFunc(cands, compareHNSW)
	kept := h.selectNeighbors(cands, mmax)
	ids := make([]int32, len(kept))
	for j, c := range kept {
		ids[j] = c.i
	}
	h.setLinks(from, l, ids)
}

// Search returns the k nearest vectors to query found by the graph: the
// greedy descent through the upper layers, then a layer-0 search with a
// candidate list of max(EfSearch, k).
func (h *HNSW) Search(query []float32, k int) ([]reel.Hit, error) {
	if k < 1 {
		return nil, fmt.Errorf("search: k must be at least 1, got %d", k)
	}
	if len(query) != h.dim {
		return nil, fmt.Errorf("search: %w: query has %d, index holds %d", ErrDim, len(query), h.dim)
	}
	if hasNaN(query) {
		return nil, fmt.Errorf("search: query vector holds NaN or Inf")
	}
	if len(h.ids) == 0 {
		return []reel.Hit{}, nil
	}
	q := make([]float32, h.dim)
	normalizeInto(q, query)
	vis := h.visited.Get().(*visitedSet)
	defer h.visited.Put(vis)
	cur := hnswCand{h.dist(q, h.entry), h.entry}
	for l := h.top; l > 0; l-- {
		cur = h.greedy(q, cur, l, vis)
	}
	w := h.searchLayer(q, []hnswCand{cur}, max(h.opts.EfSearch, k), 0, vis)
	w = w[:min(k, len(w))]
	hits := make([]reel.Hit, len(w))
	for j, c := range w {
		hits[j] = reel.Hit{ID: h.ids[c.i], Distance: c.d}
	}
	return hits, nil
}

// nearHeap is a binary heap of candidates with the nearest on top, typed
// so the comparisons inline. searchLayer keeps its farthest-first result
// list in one too, as negated candidates (neg): the smallest (-d, -i) is
// the largest (d, i).
type nearHeap []hnswCand

func neg(c hnswCand) hnswCand { return hnswCand{-c.d, -c.i} }

func (h *nearHeap) push(x hnswCand) {
	*h = append(*h, x)
	s := *h
	for i := len(s) - 1; i > 0; {
		p := (i - 1) / 2
		if !s[i].less(s[p]) {
			break
		}
		s[i], s[p] = s[p], s[i]
		i = p
	}
}

func (h *nearHeap) pop() hnswCand {
	s := *h
	top, last := s[0], len(s)-1
	s[0] = s[last]
	s = s[:last]
	for i := 0; ; {
		l, r, best := 2*i+1, 2*i+2, i
		if l < last && s[l].less(s[best]) {
			best = l
		}
		if r < last && s[r].less(s[best]) {
			best = r
		}
		if best == i {
			break
		}
		s[i], s[best] = s[best], s[i]
		i = best
	}
	*h = s
	return top
}
