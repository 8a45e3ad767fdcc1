package metrics_test

import (
	"fmt"

	"github.com/reelmatch/reelmatch/internal/metrics"
)

func Example() {
	posters := [][]float32{{1, 0}, {0, 1}, {1, 1}}
	intros := [][]float32{{0.9, 0.1}, {0.2, 0.8}, {0.1, 0.9}}
	D := metrics.Distance(posters, intros) // 1 - cos, rows posters
	// Poster 0 finds intro 0 first; poster 1 sees intro 2 before its own
	// intro 1; poster 2 sees intro 1 first, then its own intro 2 tied with
	// intro 0. Ranks are 1, 2, 2.
	r := metrics.Evaluate(D)
	fmt.Printf("n=%d R@1 %.2f median rank %d MRR %.2f (chance R@1 %.2f)\n",
		r.N, r.PosterToIntro.R1, r.PosterToIntro.MedianRank, r.PosterToIntro.MRR, r.Chance.R1)
	// Output: n=3 R@1 0.33 median rank 2 MRR 0.67 (chance R@1 0.33)
}
