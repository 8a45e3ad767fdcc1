package shard

import (
	"fmt"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/reelmatch/reelmatch/internal/reel"
)

func TestParse(t *testing.T) {
	tests := []struct {
		in      string
		want    Spec
		wantErr string
	}{
		{"0/4", Spec{0, 4}, ""},
		{"3/4", Spec{3, 4}, ""},
		{" 0/1 ", Spec{0, 1}, ""},
		{"99/100", Spec{99, 100}, ""},
		{"4/4", Spec{}, "between 0 and N-1 = 3"},
		{"-1/4", Spec{}, "between 0 and N-1"},
		{"0/0", Spec{}, "N must be between 1"},
		{"0/100001", Spec{}, "N must be between 1 and 100000"},
		{"1", Spec{}, "want I/N"},
		{"a/4", Spec{}, "want I/N"},
		{"1/4/8", Spec{}, "want I/N"},
		{"", Spec{}, "want I/N"},
	}
	for _, tt := range tests {
		t.Run(tt.in, func(t *testing.T) {
			got, err := Parse(tt.in)
			if tt.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
					t.Fatalf("Parse(%q) = %v, %v; want an error containing %q", tt.in, got, err, tt.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if diff := cmp.Diff(tt.want, got); diff != "" {
				t.Errorf("Parse(%q) (-want +got):\n%s", tt.in, diff)
			}
			if got.String() != strings.TrimSpace(tt.in) {
				t.Errorf("String() = %q", got.String())
			}
		})
	}
}

// TestOfGolden pins the assignment: a change here would make shards
// written by one version unmergeable with another's.
func TestOfGolden(t *testing.T) {
	var got []int
	for id := 1; id <= 12; id++ {
		got = append(got, Of(reel.MovieID(fmt.Sprint(id)), 4))
	}
	want := []int{2, 0, 2, 1, 2, 3, 1, 3, 1, 2, 1, 3}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("Of(1..12, 4) (-want +got):\n%s", diff)
	}
}

// TestOfPartitions: every movie is in exactly one slice, slices are about
// even, and growing N moves few movies (the consistent-hash property).
func TestOfPartitions(t *testing.T) {
	const movies = 20000
	for _, n := range []int{1, 2, 3, 4, 7, 16} {
		counts := make([]int, n)
		moved := 0
		for id := range movies {
			mid := reel.MovieID(fmt.Sprint(id))
			s := Of(mid, n)
			if s < 0 || s >= n {
				t.Fatalf("Of(%s, %d) = %d", mid, n, s)
			}
			counts[s]++
			owners := 0
			for i := range n {
				if (Spec{i, n}).Owns(mid) {
					owners++
				}
			}
			if owners != 1 {
				t.Fatalf("movie %s owned by %d of %d slices", mid, owners, n)
			}
			if Of(mid, n+1) != s {
				moved++
			}
		}
		for i, c := range counts {
			if want := movies / n; c < want*9/10 || c > want*11/10 {
				t.Errorf("N=%d: slice %d has %d movies, want %d ± 10%%", n, i, c, want)
			}
		}
		// Jump hashing moves 1/(N+1) of the movies in expectation.
		if want := movies / (n + 1); moved > want*12/10 {
			t.Errorf("N=%d -> %d moved %d movies, want about %d", n, n+1, moved, want)
		}
	}
	if !(Spec{}).Owns("42") {
		t.Error("the zero Spec does not own a movie")
	}
}

func BenchmarkOf(b *testing.B) {
	for b.Loop() {
		Of("123456", 64)
	}
}

// TestJumpVectors checks jump against published vectors of the paper's
// algorithm (the test cases of Microsoft's JumpConsistentHash).
func TestJumpVectors(t *testing.T) {
	for _, tc := range []struct {
		key  uint64
		n    int
		want int
	}{
		{10863919174838991, 11, 6},
		{2016238256797177309, 11, 3},
		{0, 1, 0},
		{0, 100, 0},
	} {
		if got := jump(tc.key, tc.n); got != tc.want {
			t.Errorf("jump(%d, %d) = %d, want %d", tc.key, tc.n, got, tc.want)
		}
	}
}
