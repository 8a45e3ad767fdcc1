package metrics

import (
	"fmt"
	"math"
	"slices"
	"sync"

	"github.com/reelmatch/reelmatch/internal/vecmath"
)

// Direction says which side queries and which side is the gallery.
type Direction int

const (
	// PosterToIntro ranks the intros (columns) for each poster (row).
	PosterToIntro Direction = iota
	// IntroToPoster ranks the posters (rows) for each intro (column).
	IntroToPoster
)

// String names the direction as the JSON keys do.
func (d Direction) String() string {
	if d == IntroToPoster {
		return "intro_to_poster"
	}
	return "poster_to_intro"
}

// Scores holds the retrieval metrics of one direction. The JSON keys are the
// ones `reelmatch eval --json` prints; CI is present only when requested.
type Scores struct {
	R1                 float64 `json:"r1"`
	R5                 float64 `json:"r5"`
	R10                float64 `json:"r10"`
	MedianRank         int     `json:"median_rank"`
	MeanRank           float64 `json:"mean_rank"`
	MRR                float64 `json:"mrr"`
	Top1Acc            float64 `json:"top1_acc"`
	MeanRankPercentile float64 `json:"mean_rank_percentile"`
	// CI holds bootstrap 95% intervals when Bootstrap filled them.
	CI *Intervals `json:"ci,omitempty"`
}

// Interval is a [low, high] confidence interval.
type Interval [2]float64

// Intervals holds one interval per metric, keyed like Scores.
type Intervals struct {
	R1                 Interval `json:"r1"`
	R5                 Interval `json:"r5"`
	R10                Interval `json:"r10"`
	MedianRank         Interval `json:"median_rank"`
	MeanRank           Interval `json:"mean_rank"`
	MRR                Interval `json:"mrr"`
	Top1Acc            Interval `json:"top1_acc"`
	MeanRankPercentile Interval `json:"mean_rank_percentile"`
}

// Chance is what a random ranking scores in expectation.
type Chance struct {
	R1  float64 `json:"r1"`
	R5  float64 `json:"r5"`
	R10 float64 `json:"r10"`
}

// ChanceFor returns the chance levels for n candidates: K/n, at most 1.
func ChanceFor(n int) Chance {
	if n <= 0 {
		return Chance{}
	}
	c := func(k int) float64 { return math.Min(1, float64(k)/float64(n)) }
	return Chance{R1: c(1), R5: c(5), R10: c(10)}
}

// Report is the evaluation of a square distance matrix in both directions.
type Report struct {
	N             int    `json:"n"`
	PosterToIntro Scores `json:"poster_to_intro"`
	IntroToPoster Scores `json:"intro_to_poster"`
	Chance        Chance `json:"chance"`
}

// Query is the outcome of one query: the inputs every metric is built from.
type Query struct {
	// Rank is 1 + the number of candidates strictly nearer than the match.
	Rank int
	// Ties is the number of wrong candidates at exactly the match's distance.
	Ties int
	// Top1 reports whether argmin (lowest index on ties) is the match.
	Top1 bool
	// Percentile is the fraction of wrong candidates farther than the match,
	// ties counting half; 1 when there are no wrong candidates.
	Percentile float64
}

// TieHalf returns the rank with half the ties added, the expected rank
// under a random tie-break. reelmatch reports Rank; this is for callers that
// prefer the pessimistic-leaning convention.
func (q Query) TieHalf() float64 { return float64(q.Rank) + float64(q.Ties)/2 }

// Distance returns D = 1 - cos as a [len(img)][len(txt)] matrix: rows are
// posters, columns intros. Inputs need not be normalised.
func Distance(img, txt [][]float32) [][]float32 {
	return vecmath.CosineDistance(img, txt)
}

// sortKey maps NaN to +Inf so a broken distance never looks near.
func sortKey(x float32) float32 {
	if x != x {
		return float32(math.Inf(1))
	}
	return x
}

// checkSquare panics on a non-square matrix: pairs i<->i need one intro per
// poster, so anything else is a caller bug, not bad input.
func checkSquare(D [][]float32) {
	for i, row := range D {
		if len(row) != len(D) {
			panic(fmt.Sprintf("metrics: distance matrix is not square: row %d has %d columns, want %d", i, len(row), len(D)))
		}
	}
}

// Queries returns the per-query outcomes of one direction of a square D.
// It panics when D is not square (a programmer error). Both directions walk
// D row by row, so the column direction costs no transposition.
func Queries(D [][]float32, dir Direction) []Query {
	checkSquare(D)
	n := len(D)
	out := make([]Query, n)
	if dir == PosterToIntro {
		for q, row := range D {
			t := sortKey(row[q])
			nearer, ties, tiesBefore := 0, 0, 0
			for j, d := range row {
				d = sortKey(d)
				switch {
				case j == q:
				case d < t:
					nearer++
				case d == t:
					ties++
					if j < q {
						tiesBefore++
					}
				}
			}
			out[q] = query(n, nearer, ties, tiesBefore)
		}
		return out
	}
	diag := make([]float32, n)
	for q := range n {
		diag[q] = sortKey(D[q][q])
	}
	nearer, ties, tiesBefore := make([]int, n), make([]int, n), make([]int, n)
	for j, row := range D {
		for q, d := range row {
			d = sortKey(d)
			t := diag[q]
			switch {
			case j == q:
			case d < t:
				nearer[q]++
			case d == t:
				ties[q]++
				if j < q {
					tiesBefore[q]++
				}
			}
		}
	}
	for q := range n {
		out[q] = query(n, nearer[q], ties[q], tiesBefore[q])
	}
	return out
}

// query builds one outcome from the counts over the n-1 wrong candidates.
func query(n, nearer, ties, tiesBefore int) Query {
	wrong := n - 1
	pct := 1.0
	if wrong > 0 {
		farther := wrong - nearer - ties
		pct = (float64(farther) + float64(ties)/2) / float64(wrong)
	}
	return Query{Rank: 1 + nearer, Ties: ties, Top1: nearer == 0 && tiesBefore == 0, Percentile: pct}
}

// RecallAt returns the fraction of ranks at most k (0 for no ranks).
func RecallAt(ranks []int, k int) float64 {
	if len(ranks) == 0 {
		return 0
	}
	hit := 0
	for _, r := range ranks {
		if r <= k {
			hit++
		}
	}
	return float64(hit) / float64(len(ranks))
}

// MedianRank returns the lower median of ranks (0 for no ranks).
func MedianRank(ranks []int) int {
	if len(ranks) == 0 {
		return 0
	}
	s := slices.Clone(ranks)
	slices.Sort(s)
	return s[(len(s)-1)/2]
}

// MRR returns the mean reciprocal rank (0 for no ranks).
func MRR(ranks []int) float64 {
	if len(ranks) == 0 {
		return 0
	}
	var s float64
	for _, r := range ranks {
		s += 1 / float64(r)
	}
	return s / float64(len(ranks))
}

// Summarize turns per-query outcomes into Scores.
func Summarize(qs []Query) Scores {
	if len(qs) == 0 {
		return Scores{}
	}
	ranks := make([]int, len(qs))
	var sumRank, sumPct float64
	top1 := 0
	for i, q := range qs {
		ranks[i] = q.Rank
		sumRank += float64(q.Rank)
		sumPct += q.Percentile
		if q.Top1 {
			top1++
		}
	}
	n := float64(len(qs))
	return Scores{
		R1:                 RecallAt(ranks, 1),
		R5:                 RecallAt(ranks, 5),
		R10:                RecallAt(ranks, 10),
		MedianRank:         MedianRank(ranks),
		MeanRank:           sumRank / n,
		MRR:                MRR(ranks),
		Top1Acc:            float64(top1) / n,
		MeanRankPercentile: sumPct / n,
	}
}

// Evaluate scores a square distance matrix in both directions. It panics
// when D is not square (a programmer error); an empty D gives a zero Report.
func Evaluate(D [][]float32) Report {
	p2i, i2p := bothQueries(D)
	return Report{
		N:             len(D),
		PosterToIntro: Summarize(p2i),
		IntroToPoster: Summarize(i2p),
		Chance:        ChanceFor(len(D)),
	}
}

// bothQueries scores the two directions on two goroutines (each is a full
// pass over D).
func bothQueries(D [][]float32) (p2i, i2p []Query) {
	checkSquare(D)
	var wg sync.WaitGroup
	wg.Go(func() { i2p = Queries(D, IntroToPoster) })
	p2i = Queries(D, PosterToIntro)
	wg.Wait()
	return p2i, i2p
}
