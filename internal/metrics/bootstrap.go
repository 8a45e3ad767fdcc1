package metrics

import (
	"math"
	"math/rand/v2"
	"slices"
	"sync"

	"github.com/reelmatch/reelmatch/internal/bound"
)

// BootstrapOptions configure Bootstrap. Zero values mean the defaults. The
// JSON form is how eval results record the intervals they carry.
type BootstrapOptions struct {
	// Resamples is the number of bootstrap resamples (default 1000, the
	// usual choice for percentile intervals; Efron & Tibshirani 1993, §13).
	Resamples int `json:"resamples"`
	// Seed fixes the resampling so reruns print the same intervals
	// (default 1).
	Seed uint64 `json:"seed"`
	// Level is the coverage (default 0.95).
	Level float64 `json:"level"`
}

// DefaultResamples is the number of resamples when none is given.
const DefaultResamples = 1000

// ResamplesRange bounds the resamples a user may ask for: below 100 the
// 2.5th and 97.5th percentiles rest on two or three draws; above 100,000
// the cost grows with no change in the printed digits.
var ResamplesRange = bound.Int{Min: 100, Max: 100_000}

// WithDefaults returns o with every zero field set to its default, as
// Bootstrap uses it.
func (o BootstrapOptions) WithDefaults() BootstrapOptions { return o.withDefaults() }

func (o BootstrapOptions) withDefaults() BootstrapOptions {
	if o.Resamples <= 0 {
		o.Resamples = DefaultResamples
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

// Spread is the mean and sample standard deviation of one figure over
// repeated runs (training seeds), with the values it came from.
type Spread struct {
	Mean float64 `json:"mean"`
	// SD is the sample standard deviation (n-1 in the denominator); 0 for
	// a single value.
	SD     float64   `json:"sd"`
	Values []float64 `json:"values"`
}

// SpreadOf returns the mean and sample standard deviation of values (the
// zero Spread for none).
func SpreadOf(values []float64) Spread {
	if len(values) == 0 {
		return Spread{}
	}
	var sum float64
	for _, v := range values {
		sum += v
	}
	mean := sum / float64(len(values))
	var ss float64
	for _, v := range values {
		ss += (v - mean) * (v - mean)
	}
	sd := 0.0
	if len(values) > 1 {
		sd = math.Sqrt(ss / float64(len(values)-1))
	}
	return Spread{Mean: mean, SD: sd, Values: slices.Clone(values)}
}
