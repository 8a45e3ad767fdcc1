// Package search is the nearest-neighbour index: L2-normalised vectors
// with movie ids, cosine scoring and a bounded top-k heap (the idea of
// bleve search/collector/topn.go: keep only the k best seen so far, so a
// query costs O(n log k) and allocates O(k)).
//
// Three kinds answer the same Searcher interface:
//   - Index, exact: vectors in vecmath's panel layout scored eight rows
//     and up to four queries at a time with vecmath.DotPanelsMulti. A
//     search allocates only its result (per-query buffers come from a
//     sync.Pool) and runs on the caller's goroutine unless the index holds
//     at least 20,000 vectors.
//     SearchBatch scores several queries in one pass over memory, block by
//     block, and Batcher gathers concurrent queries into such passes.
//   - Int8Index: an int8 copy of an Index scanned first with a proven
//     error bound per row, every row that can still be a hit rescored
//     with the Index's float32 kernel (always the Index's hits).
//   - HNSW: an approximate graph index for catalogues too large to scan.
//
// Build makes one by kind name. It owns scoring and ranking only;
// encoders, heads and HTTP are the callers' business. Hits carry Distance
// = 1 - cosine similarity, nearest first, and equal distances are ordered
// by insertion index so results are deterministic.
//
// Every kind is safe for concurrent Search once it is built; Index.Add
// must not run concurrently with anything else.
package search
