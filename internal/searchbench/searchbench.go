package searchbench

import (
	"context"
	"errors"
	"fmt"
	"math"
	"math/rand/v2"
	"os"
	"runtime"
	"runtime/debug"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/reelmatch/reelmatch/internal/bound"
	"github.com/reelmatch/reelmatch/internal/reel"
	"github.com/reelmatch/reelmatch/internal/search"
)

// Ranges of a case's settings (bench search's flags). The source vectors
// alone take 4·n·dim bytes, and MaxValues keeps them under 4 GiB.
var (
	NRange           = bound.Int{Min: 1, Max: 10_000_000}
	DimRange         = bound.Int{Min: 1, Max: 4096}
	ConcurrencyRange = bound.Int{Min: 1, Max: 1024}
	KRange           = bound.Int{Min: 1, Max: 1000}
	QueriesRange     = bound.Int{Min: 1, Max: 100_000}
)

// MaxValues bounds n·dim.
const MaxValues = 1 << 30

// Options is one case: n vectors of dim values, an index kind, and
// Queries queries for K hits from Concurrency clients at once.
type Options struct {
	N, Dim      int
	Index       string
	Concurrency int
	K           int
	Seed        uint64
	Queries     int
	// HNSW is the graph's parameters (index hnsw only).
	HNSW search.HNSWOptions
}

// Check validates every field, naming the flag at fault.
func (o Options) Check() error {
	for _, c := range []struct {
		flag string
		r    bound.Int
		v    int
	}{{"n", NRange, o.N}, {"dim", DimRange, o.Dim}, {"concurrency", ConcurrencyRange, o.Concurrency}, {"k", KRange, o.K}, {"queries", QueriesRange, o.Queries}} {
		if err := c.r.Check(c.v); err != nil {
			return fmt.Errorf("--%s %w", c.flag, err)
		}
	}
	if v := int64(o.N) * int64(o.Dim); v > MaxValues {
		return fmt.Errorf("--n times --dim must be at most %d (%d GiB of float32 vectors), got %d", MaxValues, MaxValues*4>>30, v)
	}
	if o.K > o.N {
		return fmt.Errorf("--k must be at most --n (%d), got %d", o.N, o.K)
	}
	if err := search.CheckKind(o.Index); err != nil {
		return err
	}
	return o.HNSW.Check()
}

// Result is one case's figures, in the JSON form `bench search --json`
// prints.
type Result struct {
	N           int    `json:"n"`
	Dim         int    `json:"dim"`
	Index       string `json:"index"`
	Concurrency int    `json:"concurrency"`
	// BuildSeconds is the time to build the index from the float32 rows.
	BuildSeconds float64 `json:"build_seconds"`
	// BytesPerVector is the index's own memory (vectors, codes, graph;
	// not ids) over n.
	BytesPerVector float64 `json:"bytes_per_vector"`
	// PeakRSSBytes is the process's peak resident set (VmHWM) from just
	// before the build to the last query: see Run.
	PeakRSSBytes int64   `json:"peak_rss_bytes"`
	P50Ms        float64 `json:"p50_ms"`
	P99Ms        float64 `json:"p99_ms"`
	// RecallAt10 is the mean share of the exact index's 10 nearest that
	// the index returned among its 10 (1 for exact, by definition).
	RecallAt10 float64 `json:"recall_at_10"`
}

// Run builds the case's index and times its queries. Vectors and queries
// are unit vectors with independent normal components, drawn from Seed
// (row i from its own stream, so the data do not depend on how many
// goroutines draw them).
//
// Peak RSS: when the kernel allows it (Linux, /proc/self/clear_refs), the
// peak is reset just before the build, after the vectors are drawn and,
// for approximate kinds, after the exact index that gives the reference
// answers is dropped; so it covers the float32 rows the index is built
// from (4·dim bytes per vector), the index and the queries, as a server
// holding its vectors would. Where the reset fails the peak covers the
// whole process and Run says so in its note.
func Run(ctx context.Context, o Options) (Result, string, error) {
	if err := o.Check(); err != nil {
		return Result{}, "", err
	}
	res := Result{N: o.N, Dim: o.Dim, Index: o.Index, Concurrency: o.Concurrency}
	rows := Vectors(o.N, o.Dim, o.Seed)
	queries := Vectors(o.Queries, o.Dim, o.Seed^0x9e3779b97f4a7c15)
	ids := make([]reel.MovieID, o.N)
	for i := range ids {
		ids[i] = reel.MovieID(strconv.Itoa(i))
	}
	recallK := min(10, o.N)
	var truth [][]reel.Hit
	if o.Index == search.KindHNSW {
		// The reference answers come first, from an exact index that is
		// gone before the peak is reset.
		x, err := search.FromVectors(ids, rows)
		if err != nil {
			return res, "", err
		}
		if truth, err = reference(ctx, x, queries, recallK); err != nil {
			return res, "", err
		}
		x = nil
		runtime.GC()
		debug.FreeOSMemory()
	}
	note := ""
	if err := resetPeakRSS(); err != nil {
		note = "peak RSS covers the whole process (could not reset it: " + err.Error() + ")"
	}
	if err := ctx.Err(); err != nil {
		return res, "", err
	}
	start := time.Now()
	s, err := search.Build(ctx, o.Index, ids, rows, o.HNSW)
	if err != nil {
		return res, "", err
	}
	res.BuildSeconds = time.Since(start).Seconds()
	res.BytesPerVector = float64(s.Bytes()) / float64(o.N)
	lat, hits, err := query(ctx, s, queries, o.K, o.Concurrency)
	if err != nil {
		return res, "", err
	}
	res.PeakRSSBytes, err = peakRSS()
	if err != nil {
		note = "no peak RSS: " + err.Error()
	}
	res.P50Ms, res.P99Ms = percentile(lat, 0.50), percentile(lat, 0.99)
	if o.K < recallK {
		// Recall needs 10 hits: ask again, untimed.
		for i, q := range queries {
			if hits[i], err = s.Search(q, recallK); err != nil {
				return res, "", err
			}
		}
	}
	switch o.Index {
	case search.KindExact:
		res.RecallAt10 = 1
	default:
		if truth == nil {
			ex, ok := s.(interface{ Exact() *search.Index })
			if !ok {
				return res, "", fmt.Errorf("bench %s: no exact index for the reference answers", o.Index)
			}
			if truth, err = reference(ctx, ex.Exact(), queries, recallK); err != nil {
				return res, "", err
			}
		}
		res.RecallAt10 = recall(truth, hits, recallK)
	}
	return res, note, nil
}

// reference returns the exact index's top k for every query, 32 queries
// per shared scan, stopping between scans when ctx is cancelled (at 1M ×
// 512 one scan of 32 takes seconds).
func reference(ctx context.Context, x *search.Index, queries [][]float32, k int) ([][]reel.Hit, error) {
	var out [][]reel.Hit
	for lo := 0; lo < len(queries); lo += 32 {
		if err := ctx.Err(); err != nil {
			return nil, err
		}
		hits, err := x.SearchBatch(queries[lo:min(lo+32, len(queries))], k)
		if err != nil {
			return nil, err
		}
		out = append(out, hits...)
	}
	return out, nil
}

// Vectors returns n unit vectors of dim values drawn from seed, row i
// from the PCG stream (seed, i), as rows of one flat allocation.
func Vectors(n, dim int, seed uint64) [][]float32 {
	flat := make([]float32, n*dim)
	rows := make([][]float32, n)
	workers := runtime.GOMAXPROCS(0)
	var wg sync.WaitGroup
	for w := range workers {
		wg.Go(func() {
			for i := w; i < n; i += workers {
				rng := rand.New(rand.NewPCG(seed, uint64(i)))
				v := flat[i*dim : (i+1)*dim : (i+1)*dim]
				var ss float64
				for j := range v {
					x := rng.NormFloat64()
					v[j], ss = float32(x), ss+x*x
				}
				inv := 1 / math.Sqrt(ss)
				for j := range v {
					v[j] = float32(float64(v[j]) * inv)
				}
				rows[i] = v
			}
		})
	}
	wg.Wait()
	return rows
}

// query runs every query through s from c clients at once, each taking
// the next query as soon as its last one returns, and returns each query's
// latency and hits. The first c queries run once untimed before, so the
// first timed ones do not pay for starting goroutines and faulting pages.
func query(ctx context.Context, s search.Searcher, queries [][]float32, k, c int) ([]time.Duration, [][]reel.Hit, error) {
	run := func(timed bool, lat []time.Duration, hits [][]reel.Hit, count int) error {
		var next atomic.Int64
		var first error
		var once sync.Once
		var wg sync.WaitGroup
		for range min(c, count) {
			wg.Go(func() {
				for {
					i := int(next.Add(1)) - 1
					if i >= count || ctx.Err() != nil {
						return
					}
					t0 := time.Now()
					h, err := s.Search(queries[i], k)
					if err != nil {
						once.Do(func() { first = err })
						return
					}
					if timed {
						lat[i], hits[i] = time.Since(t0), h
					}
				}
			})
		}
		wg.Wait()
		if first != nil {
			return first
		}
		return ctx.Err()
	}
	if err := run(false, nil, nil, min(c, len(queries))); err != nil {
		return nil, nil, err
	}
	lat := make([]time.Duration, len(queries))
	hits := make([][]reel.Hit, len(queries))
	if err := run(true, lat, hits, len(queries)); err != nil {
		return nil, nil, err
	}
	return lat, hits, nil
}

// percentile is the nearest-rank p-quantile of lat, in milliseconds.
func percentile(lat []time.Duration, p float64) float64 {
	s := slices.Clone(lat)
	slices.Sort(s)
	i := max(0, int(math.Ceil(p*float64(len(s))))-1)
	return float64(s[i].Nanoseconds()) / 1e6
}

// recall is the mean share of truth[i]'s first k ids found among got[i]'s
// first k.
func recall(truth, got [][]reel.Hit, k int) float64 {
	var sum float64
	for i := range truth {
		want := map[reel.MovieID]bool{}
		for _, h := range truth[i][:min(k, len(truth[i]))] {
			want[h.ID] = true
		}
		found := 0
		for _, h := range got[i][:min(k, len(got[i]))] {
			if want[h.ID] {
				found++
			}
		}
		sum += float64(found) / float64(max(1, len(want)))
	}
	return sum / float64(len(truth))
}

// resetPeakRSS sets the process's VmHWM back to its current RSS (Linux
// 4.0+, proc(5) clear_refs value 5).
func resetPeakRSS() error {
	return os.WriteFile("/proc/self/clear_refs", []byte("5"), 0)
}

// peakRSS reads VmHWM from /proc/self/status.
func peakRSS() (int64, error) {
	b, err := os.ReadFile("/proc/self/status")
	if err != nil {
		return 0, err
	}
	for line := range strings.Lines(string(b)) {
		if rest, ok := strings.CutPrefix(line, "VmHWM:"); ok {
			kb, err := strconv.ParseInt(strings.TrimSuffix(strings.TrimSpace(rest), " kB"), 10, 64)
			if err != nil {
				return 0, fmt.Errorf("VmHWM %q: %w", strings.TrimSpace(rest), err)
			}
			return kb << 10, nil
		}
	}
	return 0, errors.New("no VmHWM in /proc/self/status")
}
