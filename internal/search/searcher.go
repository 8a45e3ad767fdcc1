package search

import (
	"context"
	"fmt"
	"slices"
	"strings"

	"github.com/reelmatch/reelmatch/internal/reel"
)

// Index kinds, as serve, search and bench name them.
const (
	KindExact = "exact" // float32 scan, every vector scored
	KindInt8  = "int8"  // int8 scan, every possible hit rescored in float32
	KindHNSW  = "hnsw"  // approximate: a navigable small-world graph
)

// Searcher is a built index that answers nearest-neighbour queries. Every
// kind returns hits nearest first with Distance = 1 - cosine, ties by
// insertion order, and is safe for concurrent Search calls.
type Searcher interface {
	// Search returns the k nearest vectors to query (k clamped to Len;
	// k < 1, a wrong length or NaN/Inf values are errors).
	Search(query []float32, k int) ([]reel.Hit, error)
	// Len is the number of vectors.
	Len() int
	// Kind is KindExact, KindInt8 or KindHNSW.
	Kind() string
	// Bytes is the memory the index holds for its vectors, codes and
	// graph (ids and their map are not counted).
	Bytes() int64
}

// Kind is KindExact.
func (x *Index) Kind() string { return KindExact }

func (x *Index) exact() *Index { return x }

// Bytes is the size of the float32 panels.
func (x *Index) Bytes() int64 { return int64(len(x.data)) * 4 }

// Kinds lists the index kinds Build accepts.
var Kinds = []string{KindExact, KindInt8, KindHNSW}

// CheckKind returns an error naming the kinds when kind is not one.
func CheckKind(kind string) error {
	if !slices.Contains(Kinds, kind) {
		return fmt.Errorf("--index must be one of %s, got %q", strings.Join(Kinds, ", "), kind)
	}
	return nil
}

// Build returns an index of kind over ids and vecs (aligned row by row).
// exact and int8 copy the vectors into panels and serve concurrent queries
// through a Batcher; hnsw builds its graph with o.
// A cancelled ctx stops an hnsw build.
func Build(ctx context.Context, kind string, ids []reel.MovieID, vecs [][]float32, o HNSWOptions) (Searcher, error) {
	if err := CheckKind(kind); err != nil {
		return nil, err
	}
	if kind == KindHNSW {
		return NewHNSWContext(ctx, ids, vecs, o)
	}
	x, err := FromVectors(ids, vecs)
	if err != nil {
		return nil, err
	}
	if kind == KindInt8 {
		return NewBatcher(NewInt8(x)), nil
	}
	return NewBatcher(x), nil
}
