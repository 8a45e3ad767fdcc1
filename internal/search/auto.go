package search

import "github.com/reelmatch/reelmatch/internal/vecmath"

// Thresholds of AutoKind, in values scanned per query (vectors × values
// per vector). Measured with `reelmatch bench search` (docs/scale.md):
// the exact scan of 2^24 values (131k 128-d vectors) answers in a few
// milliseconds, and up to 2^29 values (1M 512-d vectors, 4M 128-d) the
// int8 scan with its float32 rescore gives the exact scan's hits (always:
// its rescore is exact by construction) with p99 within 50 ms one query
// at a time (19.6 ms at 1M × 512, load 3.3). Past that even the int8
// scan reads more than 512 MB per query, and a graph index answers in
// milliseconds at the price of a build (hours at 1M × 512 on 2 cores) and
// recall below 1.
const (
	AutoExactMax = 1 << 24
	AutoInt8Max  = 1 << 29
)

// autoExactMax and autoInt8Max are the thresholds AutoKind applies; tests
// lower them to reach every branch on small data.
var autoExactMax, autoInt8Max int64 = AutoExactMax, AutoInt8Max

// AutoKind is the kind serve and search use for n vectors of dim values:
// exact up to AutoExactMax values, int8 up to AutoInt8Max, hnsw beyond.
// Every catalogue this project's tests use is far below AutoExactMax, so
// their results are exact and unchanged.
func AutoKind(n, dim int) string {
	switch v := int64(n) * int64(dim); {
	case v <= autoExactMax:
		return KindExact
	case v <= autoInt8Max:
		return KindInt8
	}
	return KindHNSW
}

// Auto returns the index AutoKind chooses over x's vectors: x itself when
// exact (behind a Batcher once it scans in parallel, so concurrent queries
// share passes; the hits are the same), an int8 index over x, or an HNSW
// graph with DefaultHNSWOptions (which copies the vectors). x must not
// change afterwards.
func Auto(x *Index) (Searcher, error) {
	switch AutoKind(x.Len(), x.Dim()) {
	case KindExact:
		if x.Len() < parallelMin {
			return x, nil
		}
		return NewBatcher(x), nil
	case KindInt8:
		return NewBatcher(NewInt8(x)), nil
	}
	vecs := make([][]float32, x.Len())
	flat := make([]float32, x.Len()*x.Dim())
	for i := range vecs {
		vecs[i] = vecmath.PanelRow(flat[i*x.Dim():(i+1)*x.Dim()], x.data, i)
	}
	return NewHNSW(x.IDs(), vecs, DefaultHNSWOptions())
}
