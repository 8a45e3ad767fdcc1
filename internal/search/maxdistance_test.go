package search

import (
	"math"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/reelmatch/reelmatch/internal/reel"
)

func TestWithin(t *testing.T) {
	hits := []reel.Hit{{ID: "a", Distance: 0.2}, {ID: "b", Distance: 0.5}, {ID: "c", Distance: 0.9}}
	for _, tc := range []struct {
		name        string
		max         float64
		want        []reel.MovieID
		wantNearest float64
	}{
		{"all", 2, []reel.MovieID{"a", "b", "c"}, 0.2},
		{"at the limit", 0.5, []reel.MovieID{"a", "b"}, 0.2},
		{"none", 0.1, []reel.MovieID{}, 0.2},
	} {
		t.Run(tc.name, func(t *testing.T) {
			kept, nearest := Within(hits, tc.max)
			got := []reel.MovieID{}
			for _, h := range kept {
				got = append(got, h.ID)
			}
			if diff := cmp.Diff(tc.want, got); diff != "" || math.Abs(nearest-tc.wantNearest) > 1e-7 {
				t.Errorf("nearest %v; kept (-want +got):\n%s", nearest, diff)
			}
		})
	}
	if kept, nearest := Within(nil, 1); len(kept) != 0 || !math.IsNaN(nearest) {
		t.Errorf("no hits: %v, %v", kept, nearest)
	}
	for _, bad := range []float64{-0.1, 2.01, math.NaN(), math.Inf(1)} {
		if MaxDistanceRange.Check(bad) == nil {
			t.Errorf("MaxDistanceRange accepts %v", bad)
		}
	}
}
