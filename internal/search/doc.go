// Package search is the in-memory nearest-neighbour index: L2-normalised
// vectors with movie ids, exact cosine scoring and a bounded top-k heap
// (the idea of bleve search/collector/topn.go: keep only the k best seen so
// far, so a query costs O(n log k) and allocates O(k)).
//
// Vectors are stored in vecmath's panel layout and scored eight at a time
// with vecmath.DotPanels; a search allocates only its result (per-query
// buffers come from a sync.Pool) and runs on the caller's goroutine unless
// the index holds at least 20,000 vectors.
//
// It owns scoring and ranking only; encoders, heads and HTTP are the
// callers' business. Hits carry Distance = 1 - cosine similarity, nearest
// first, and equal distances are ordered by insertion index so results are
// deterministic.
//
// An Index is safe for concurrent Search and Rank calls once it is built;
// Add must not run concurrently with anything else.
package search
