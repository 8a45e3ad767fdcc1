package search

import (
	"fmt"
	"sync"

	"github.com/reelmatch/reelmatch/internal/reel"
)

// SearchBatch returns Search(queries[i], k) for every query, found in one
// scan: each block of vectors is read from memory once and scored against
// every query while it sits in cache. Results are identical to Search's.
// A bad query fails the whole batch; Batcher checks queries one by one.
func (x *Index) SearchBatch(queries [][]float32, k int) ([][]reel.Hit, error) {
	if k < 1 {
		return nil, fmt.Errorf("search: k must be at least 1, got %d", k)
	}
	qbs := make([][]float32, len(queries))
	for i, q := range queries {
		sc, err := x.prepare("search", q)
		if err != nil {
			return nil, fmt.Errorf("query %d: %w", i, err)
		}
		qbs[i] = sc.qb
		defer scratchPool.Put(sc)
	}
	k = min(k, x.Len())
	out := make([][]reel.Hit, len(queries))
	if k == 0 || len(queries) == 0 {
		for i := range out {
			out[i] = []reel.Hit{}
		}
		return out, nil
	}
	var cands [][]cand
	if workers := x.workers(); workers == 1 {
		tops := newTops(len(qbs), k)
		x.scan(qbs, tops, 0, x.panels())
		cands = make([][]cand, len(tops))
		for i := range tops {
			cands[i] = tops[i].h
		}
	} else {
		cands = x.scanParallel(qbs, k, workers)
	}
	for i := range out {
		out[i] = x.hits(cands[i], k)
	}
	return out, nil
}

// batchIndex is what a Batcher needs of an index.
type batchIndex interface {
	Searcher
	// SearchBatch answers several queries with one pass over the vectors.
	SearchBatch(queries [][]float32, k int) ([][]reel.Hit, error)
	// check returns the error Search would give for query, before it is
	// queued, so one bad query cannot fail the others of its batch.
	check(op string, query []float32) error
	// exact is the float32 index the results are scored with.
	exact() *Index
}

// Batcher serves concurrent searches of one index by batching them: a
// query that arrives while no scan runs starts one at once (no waiting
// window, so a lone query pays nothing), and queries that arrive during a
// scan wait for it to end and then share the next one, at most MaxBatch
// together. On a memory-bound scan this turns C concurrent queries from C
// passes over the vectors into about two.
//
// A Batcher is safe for concurrent use. Results are those of the index's
// own Search.
type Batcher struct {
	x        batchIndex
	maxBatch int

	mu    sync.Mutex
	queue []*batchRequest
	busy  bool // a scan goroutine is running
}

type batchRequest struct {
	query []float32
	k     int
	hits  []reel.Hit
	err   error
	done  chan struct{}
}

// DefaultMaxBatch caps a batch: 64 queries of 128 values keep their spread
// forms (4 KiB each) in L2 beside the block being scored.
const DefaultMaxBatch = 64

// NewBatcher returns a Batcher over x (an *Index or an *Int8Index).
func NewBatcher(x batchIndex) *Batcher {
	return &Batcher{x: x, maxBatch: DefaultMaxBatch}
}

// Kind is the kind of the batched index.
func (b *Batcher) Kind() string { return b.x.Kind() }

// Len is the number of vectors of the batched index.
func (b *Batcher) Len() int { return b.x.Len() }

// Bytes is the memory of the batched index.
func (b *Batcher) Bytes() int64 { return b.x.Bytes() }

// Exact is the float32 index that scores the batched index's results: the
// reference answers of bench's recall.
func (b *Batcher) Exact() *Index { return b.x.exact() }

// Search queues query, waits for the scan that answers it, and returns
// what the index's Search would.
func (b *Batcher) Search(query []float32, k int) ([]reel.Hit, error) {
	if k < 1 {
		return nil, fmt.Errorf("search: k must be at least 1, got %d", k)
	}
	if err := b.x.check("search", query); err != nil {
		return nil, err
	}
	r := &batchRequest{query: query, k: k, done: make(chan struct{})}
	b.mu.Lock()
	b.queue = append(b.queue, r)
	if !b.busy {
		b.busy = true
		go b.run()
	}
	b.mu.Unlock()
	<-r.done
	return r.hits, r.err
}

// run scans batches until the queue is empty.
func (b *Batcher) run() {
	for {
		b.mu.Lock()
		if len(b.queue) == 0 {
			b.busy = false
			b.mu.Unlock()
			return
		}
		n := min(len(b.queue), b.maxBatch)
		batch := b.queue[:n:n]
		b.queue = append([]*batchRequest(nil), b.queue[n:]...)
		b.mu.Unlock()
		b.answer(batch)
	}
}

// answer runs one batched search at the largest k asked and gives each
// request its prefix: nearest-first order with ties by index makes the
// top k a prefix of the top K >= k.
func (b *Batcher) answer(batch []*batchRequest) {
	queries := make([][]float32, len(batch))
	k := 0
	for i, r := range batch {
		queries[i], k = r.query, max(k, r.k)
	}
	hits, err := b.x.SearchBatch(queries, k)
	for i, r := range batch {
		if err != nil {
			r.err = err
		} else {
			r.hits = hits[i][:min(r.k, len(hits[i]))]
		}
		close(r.done)
	}
}
