// Package searchbench measures search indexes on synthetic data: it owns
// `reelmatch bench search`'s cases (seeded random unit vectors, an index
// built by kind, queries at a given concurrency) and their figures (build
// time, bytes per vector, peak RSS, latency percentiles, recall@10 against
// the exact index). It leaves the indexes to search and the flags, child
// processes and printing to cmd/reelmatch.
package searchbench
