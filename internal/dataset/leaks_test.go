package dataset

import (
	"context"
	"strconv"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
	"github.com/google/go-cmp/cmp/cmpopts"

	"github.com/reelmatch/reelmatch/internal/reel"
)

func TestFindLeaks(t *testing.T) {
	mv := func(id, clean, poster string, split reel.Split) reel.Movie {
		return reel.Movie{ID: reel.MovieID(id), CleanIntro: clean, PosterHash: poster, Split: split}
	}
	const tr, te = reel.SplitTrain, reel.SplitTest
	tests := []struct {
		name   string
		movies []reel.Movie
		want   []Leak
	}{
		{
			name: "identical intro across the split",
			movies: []reel.Movie{
				mv("1", "widowed mother becomes governess king siam", "a", tr),
				mv("2", "widowed mother becomes governess king siam", "b", te),
			},
			want: []Leak{{Kind: LeakIntro, Test: "2", Train: "1", Similarity: 1}},
		},
		{
			// 9 shared of 10 distinct tokens: 0.9, above the threshold;
			// token order and repeats do not matter.
			name: "near-identical intro",
			movies: []reel.Movie{
				mv("1", "a b c d e f g h i", "a", tr),
				mv("2", "i h g f e d c b a a j", "b", te),
			},
			want: []Leak{{Kind: LeakIntro, Test: "2", Train: "1", Similarity: 0.9}},
		},
		{
			// 3 shared of 5 distinct: 0.6, ordinary overlap.
			name: "overlap below the threshold",
			movies: []reel.Movie{
				mv("1", "young man city love", "a", tr),
				mv("2", "young man city war", "b", te),
			},
			want: []Leak{},
		},
		{
			name: "identical poster",
			movies: []reel.Movie{
				mv("1", "space", "same", tr),
				mv("2", "sea", "same", te),
				mv("3", "desert", "same", te),
			},
			want: []Leak{
				{Kind: LeakPoster, Test: "2", Train: "1", Similarity: 1},
				{Kind: LeakPoster, Test: "3", Train: "1", Similarity: 1},
			},
		},
		{
			name: "duplicates inside one split are not leaks",
			movies: []reel.Movie{
				mv("1", "lolita novelist", "p", tr),
				mv("2", "lolita novelist", "p", tr),
				mv("3", "heist", "q", te),
				mv("4", "heist", "q", te),
			},
			want: []Leak{},
		},
		{
			name: "both kinds, sorted by test id then kind then train id",
			movies: []reel.Movie{
				mv("10", "heist crew", "x", te),
				mv("9", "heist crew", "y", tr),
				mv("2", "heist crew", "x", tr),
				mv("3", "other", "z", te),
				mv("1", "other", "x", tr),
			},
			want: []Leak{
				{Kind: LeakIntro, Test: "3", Train: "1", Similarity: 1},
				{Kind: LeakIntro, Test: "10", Train: "2", Similarity: 1},
				{Kind: LeakIntro, Test: "10", Train: "9", Similarity: 1},
				{Kind: LeakPoster, Test: "10", Train: "1", Similarity: 1},
				{Kind: LeakPoster, Test: "10", Train: "2", Similarity: 1},
			},
		},
		{
			name: "intros that clean to nothing are not compared",
			movies: []reel.Movie{
				mv("1", "", "a", tr),
				mv("2", "  ", "b", te),
			},
			want: []Leak{},
		},
		{
			name:   "no test split",
			movies: []reel.Movie{mv("1", "x", "a", tr), mv("2", "x", "a", tr)},
			want:   []Leak{},
		},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			got := FindLeaks(tc.movies)
			if diff := cmp.Diff(tc.want, got, cmpopts.EquateApprox(0, 1e-12)); diff != "" {
				t.Errorf("FindLeaks (-want +got):\n%s", diff)
			}
		})
	}
}

func TestLeakedTestIDs(t *testing.T) {
	leaks := []Leak{
		{Kind: LeakIntro, Test: "3", Train: "1"},
		{Kind: LeakIntro, Test: "10", Train: "2"},
		{Kind: LeakPoster, Test: "10", Train: "1"},
	}
	if diff := cmp.Diff([]reel.MovieID{"3", "10"}, LeakedTestIDs(leaks)); diff != "" {
		t.Errorf("(-want +got):\n%s", diff)
	}
	if got := LeakedTestIDs(nil); got != nil {
		t.Errorf("no leaks: got %v", got)
	}
}

// TestPrepareReportsLeaks checks that prepare keeps leaked movies, lists
// them in the report and warns once per leaked test movie and kind, with
// the ids and names.
func TestPrepareReportsLeaks(t *testing.T) {
	f := newFixture(t)
	f.info("id,name,intro\n" +
		"1,King One,\"A widowed mother becomes the governess of the King's children.\"\n" +
		"2,Other,A robot learns to love.\n" +
		"3,King Two,\"Widowed mother, BECOMES governess of the kings children!\"\n" +
		"4,Copy,A shark terrorises a beach town.\n" +
		"5,Placeholder,A train robbery.\n" +
		"6,Placeholder too,A space station.\n")
	f.poster("1.jpg", jpegBytes(t, 1))
	f.poster("2.jpg", jpegBytes(t, 2))
	f.poster("3.jpg", jpegBytes(t, 3))
	f.poster("4.jpg", jpegBytes(t, 2)) // same bytes as movie 2's poster
	f.poster("5.jpg", jpegBytes(t, 2))
	f.poster("6.jpg", jpegBytes(t, 2))
	f.train("1\n2\n5\n")
	var warnings []string
	man, rep, err := Prepare(context.Background(), f.dir, Options{Workers: 2, Warnf: func(format string, args ...any) {
		warnings = append(warnings, format)
	}})
	if err != nil {
		t.Fatal(err)
	}
	want := []Leak{
		{Kind: LeakIntro, Test: "3", Train: "1", Similarity: 1},
		{Kind: LeakPoster, Test: "4", Train: "2", Similarity: 1},
		{Kind: LeakPoster, Test: "4", Train: "5", Similarity: 1},
		{Kind: LeakPoster, Test: "6", Train: "2", Similarity: 1},
		{Kind: LeakPoster, Test: "6", Train: "5", Similarity: 1},
	}
	if diff := cmp.Diff(want, rep.Leaks); diff != "" {
		t.Errorf("leaks (-want +got):\n%s", diff)
	}
	if len(man.Movies) != 6 || rep.DroppedCount() != 0 {
		t.Errorf("kept %d, dropped %d: leaks must be kept", len(man.Movies), rep.DroppedCount())
	}
	var leakWarnings []string
	for _, w := range rep.Warnings {
		if strings.HasPrefix(w, "leak: ") {
			leakWarnings = append(leakWarnings, w)
		}
	}
	wantWarnings := []string{
		"leak: test movie 3 (King Two) and train movie 1 (King One) have near-identical intros (Jaccard 1.00 of the cleaned tokens); `reelmatch eval --exclude-leaks` leaves such test movies out",
		"leak: test movie 4 (Copy) and 2 train movies have identical posters (same SHA-256): 2 (Other), 5 (Placeholder); `reelmatch eval --exclude-leaks` leaves such test movies out",
		"leak: test movie 6 (Placeholder too) and 2 train movies have identical posters (same SHA-256): 2 (Other), 5 (Placeholder); `reelmatch eval --exclude-leaks` leaves such test movies out",
	}
	if diff := cmp.Diff(wantWarnings, leakWarnings); diff != "" {
		t.Errorf("leak warnings (-want +got):\n%s", diff)
	}
	if len(warnings) != len(rep.Warnings) {
		t.Errorf("Warnf called %d times for %d warnings", len(warnings), len(rep.Warnings))
	}
}

func TestClosestIntros(t *testing.T) {
	mv := func(id, clean string, split reel.Split) reel.Movie {
		return reel.Movie{ID: reel.MovieID(id), CleanIntro: clean, Split: split}
	}
	movies := []reel.Movie{
		mv("1", "a b c d", reel.SplitTrain),
		mv("2", "x y", reel.SplitTrain),
		mv("3", "a b c d", reel.SplitTest), // a leak of 1: not a candidate
		mv("4", "a b z", reel.SplitTest),   // 2 of 5 with 1: 0.4
		mv("5", "x q", reel.SplitTest),     // 1 of 3 with 2: 0.33
	}
	got, ok := ClosestIntros(movies)
	want := Leak{Kind: LeakIntro, Test: "4", Train: "1", Similarity: 0.4}
	if !ok || !cmp.Equal(want, got, cmpopts.EquateApprox(0, 1e-12)) {
		t.Errorf("ClosestIntros = %+v, %v; want %+v", got, ok, want)
	}
	if _, ok := ClosestIntros(movies[:2]); ok {
		t.Errorf("no test movies: ok")
	}
}

// TestLeakWarningsNameFivePartners checks that a test movie sharing a
// poster with many training movies gets one line naming five of them.
func TestLeakWarningsNameFivePartners(t *testing.T) {
	man := &Manifest{}
	var leaks []Leak
	for i := 1; i <= 8; i++ {
		leaks = append(leaks, Leak{Kind: LeakPoster, Test: "t", Train: reel.MovieID(strconv.Itoa(i)), Similarity: 1})
	}
	leaks = append(leaks, Leak{Kind: LeakIntro, Test: "t", Train: "9", Similarity: 0.85},
		Leak{Kind: LeakIntro, Test: "u", Train: "1", Similarity: 0.9}, Leak{Kind: LeakIntro, Test: "u", Train: "2", Similarity: 1})
	want := []string{
		"leak: test movie t and 8 train movies have identical posters (same SHA-256): 1, 2, 3, 4, 5 and 3 more; `reelmatch eval --exclude-leaks` leaves such test movies out",
		"leak: test movie t and train movie 9 have near-identical intros (Jaccard 0.85 of the cleaned tokens); `reelmatch eval --exclude-leaks` leaves such test movies out",
		"leak: test movie u and 2 train movies have near-identical intros (Jaccard of the cleaned tokens 0.80 or more): 1, 2; `reelmatch eval --exclude-leaks` leaves such test movies out",
	}
	if diff := cmp.Diff(want, LeakWarnings(leaks, man)); diff != "" {
		t.Errorf("(-want +got):\n%s", diff)
	}
}
