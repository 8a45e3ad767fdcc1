package metrics

import (
	"math"
	"math/rand/v2"
	"slices"
	"sync"
)

// BootstrapOptions configure Bootstrap. Zero values mean the defaults.
type BootstrapOptions struct {
	// Resamples is the number of bootstrap resamples (default 1000, the
	// usual choice for percentile intervals; Efron & Tibshirani 1993, §13).
	Resamples int
	// Seed fixes the resampling so reruns print the same intervals
	// (default 1).
	Seed uint64
	// Level is the coverage (default 0.95).
	Level float64
}

func (o BootstrapOptions) withDefaults() BootstrapOptions {
	if o.Resamples <= 0 {
		o.Resamples = 1000
	}
	if o.Seed == 0 {
		o.Seed = 1
	}
	if o.Level <= 0 || o.Level >= 1 {
		o.Level = 0.95
	}
	return o
}

// Bootstrap returns percentile confidence intervals for every metric of
// qs: it draws len(qs) queries with replacement Resamples times, summarises
// each draw, and takes the (1-Level)/2 and (1+Level)/2 quantiles of each
// metric (lower index floor, upper index ceil-1 of the sorted draws). The
// gallery is held fixed; only which queries are asked varies.
func Bootstrap(qs []Query, o BootstrapOptions) Intervals {
	o = o.withDefaults()
	if len(qs) == 0 {
		return Intervals{}
	}
	rng := rand.New(rand.NewPCG(o.Seed, 0x5eed))
	draws := make([]Scores, o.Resamples)
	sample := make([]Query, len(qs))
	for b := range draws {
		for i := range sample {
			sample[i] = qs[rng.IntN(len(qs))]
		}
		draws[b] = Summarize(sample)
	}
	lo := int(math.Floor((1 - o.Level) / 2 * float64(o.Resamples)))
	hi := int(math.Ceil((1+o.Level)/2*float64(o.Resamples))) - 1
	lo, hi = max(0, min(lo, o.Resamples-1)), max(0, min(hi, o.Resamples-1))
	pick := func(f func(Scores) float64) Interval {
		vals := make([]float64, len(draws))
		for i, d := range draws {
			vals[i] = f(d)
		}
		slices.Sort(vals)
		return Interval{vals[lo], vals[hi]}
	}
	return Intervals{
		R1:                 pick(func(s Scores) float64 { return s.R1 }),
		R5:                 pick(func(s Scores) float64 { return s.R5 }),
		R10:                pick(func(s Scores) float64 { return s.R10 }),
		MedianRank:         pick(func(s Scores) float64 { return float64(s.MedianRank) }),
		MeanRank:           pick(func(s Scores) float64 { return s.MeanRank }),
		MRR:                pick(func(s Scores) float64 { return s.MRR }),
		Top1Acc:            pick(func(s Scores) float64 { return s.Top1Acc }),
		MeanRankPercentile: pick(func(s Scores) float64 { return s.MeanRankPercentile }),
	}
}

// EvaluateCI is Evaluate plus bootstrap intervals in each direction's CI.
func EvaluateCI(D [][]float32, o BootstrapOptions) Report {
	p2i, i2p := bothQueries(D)
	r := Report{
		N:             len(D),
		PosterToIntro: Summarize(p2i),
		IntroToPoster: Summarize(i2p),
		Chance:        ChanceFor(len(D)),
	}
	if len(D) > 0 {
		var a, b Intervals
		var wg sync.WaitGroup
		wg.Go(func() { b = Bootstrap(i2p, o) })
		a = Bootstrap(p2i, o)
		wg.Wait()
		r.PosterToIntro.CI, r.IntroToPoster.CI = &a, &b
	}
	return r
}
