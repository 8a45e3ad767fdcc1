package search

import (
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/reelmatch/reelmatch/internal/reel"
)

// TestRank checks Rank against hand-worked cases and against the position
// in a full Search listing.
func TestRank(t *testing.T) {
	ids := []reel.MovieID{"a", "b", "c", "d"}
	x := mustIndex(t, ids, [][]float32{{1, 0}, {0, 1}, {1, 1}, {-1, 0}})
	for _, tt := range []struct {
		name  string
		query []float32
		id    reel.MovieID
		want  int
	}{
		{"nearest", []float32{1, 0}, "a", 1},
		{"second", []float32{1, 0}, "c", 2},
		{"behind two nearer", []float32{1, 0}, "b", 3}, // a and c are nearer
		{"last", []float32{1, 0}, "d", 4},
		{"tie with an earlier id", []float32{0, -1}, "d", 1}, // a and d both at distance 1, c at 1+1/sqrt2
	} {
		t.Run(tt.name, func(t *testing.T) {
			got, err := x.Rank(tt.query, tt.id)
			if err != nil {
				t.Fatal(err)
			}
			if got != tt.want {
				t.Errorf("Rank = %d, want %d", got, tt.want)
			}
		})
	}
	// Every listed hit's rank is at most its position in Search's order.
	q := []float32{0.3, 0.9}
	hits, err := x.Search(q, len(ids))
	if err != nil {
		t.Fatal(err)
	}
	var ranks []int
	for _, h := range hits {
		r, err := x.Rank(q, h.ID)
		if err != nil {
			t.Fatal(err)
		}
		ranks = append(ranks, r)
	}
	if diff := cmp.Diff([]int{1, 2, 3, 4}, ranks); diff != "" {
		t.Errorf("ranks of Search's order (-want +got):\n%s", diff)
	}
	for _, bad := range []struct {
		name  string
		query []float32
		id    reel.MovieID
	}{{"unknown id", []float32{1, 0}, "zz"}, {"wrong dim", []float32{1}, "a"}} {
		if _, err := x.Rank(bad.query, bad.id); err == nil {
			t.Errorf("%s: no error", bad.name)
		}
	}
}
