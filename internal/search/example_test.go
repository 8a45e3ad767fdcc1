package search_test

import (
	"fmt"

	"github.com/reelmatch/reelmatch/internal/reel"
	"github.com/reelmatch/reelmatch/internal/search"
)

func Example() {
	// Intro vectors after the text head, one per movie.
	idx, err := search.FromVectors(
		[]reel.MovieID{"1", "2", "3"},
		[][]float32{{0.9, 0.1}, {0.1, 0.9}, {0.7, 0.7}},
	)
	if err != nil {
		panic(err)
	}
	// A poster vector after the image head.
	hits, err := idx.Search([]float32{1, 0.2}, 2)
	if err != nil {
		panic(err)
	}
	for _, h := range hits {
		fmt.Printf("%s %.3f\n", h.ID, h.Distance)
	}
	// Output:
	// 1 0.004
	// 3 0.168
}
