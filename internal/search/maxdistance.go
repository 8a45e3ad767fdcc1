package search

import (
	"math"

	"github.com/reelmatch/reelmatch/internal/bound"
	"github.com/reelmatch/reelmatch/internal/reel"
)

// MaxDistanceRange bounds a distance threshold: D = 1 − cosine similarity
// lies in [0, 2], so 2 keeps every result.
var MaxDistanceRange = bound.Float{Min: 0, Max: 2}

// Within returns the leading hits, nearest first as Search returns them,
// whose distance is at most maxDistance, and the distance of the nearest
// hit (NaN when there are none) so a caller can say how far the closest
// one was when none is kept.
func Within(hits []reel.Hit, maxDistance float64) (kept []reel.Hit, nearest float64) {
	if len(hits) == 0 {
		return hits, math.NaN()
	}
	n := 0
	for n < len(hits) && float64(hits[n].Distance) <= maxDistance {
		n++
	}
	return hits[:n], float64(hits[0].Distance)
}
