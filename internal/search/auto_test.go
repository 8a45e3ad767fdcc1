package search

import "testing"

func TestAutoKind(t *testing.T) {
	for _, tt := range []struct {
		n, dim int
		want   string
	}{
		{3242, 128, KindExact}, // the real set at the heads' default size
		{3242, 2048, KindExact},
		{131_072, 128, KindExact},
		{131_073, 128, KindInt8},
		{1_000_000, 128, KindInt8},
		{262_144, 512, KindInt8},
		{1_000_000, 512, KindInt8},
		{1 << 20, 512, KindInt8},
		{1<<20 + 1, 512, KindHNSW},
		{4 << 20, 128, KindInt8},
		{4<<20 + 1, 128, KindHNSW},
		{1_000_000, 1024, KindHNSW},
		{0, 0, KindExact},
	} {
		if got := AutoKind(tt.n, tt.dim); got != tt.want {
			t.Errorf("AutoKind(%d, %d) = %q, want %q", tt.n, tt.dim, got, tt.want)
		}
	}
}

// TestAutoSmallIsTheIndex checks that a catalogue of the tests' size is
// searched by the exact index itself, so results cannot change.
func TestAutoSmallIsTheIndex(t *testing.T) {
	x, _ := seededIndex(t, 300, 16, 1, 21)
	s, err := Auto(x)
	if err != nil {
		t.Fatal(err)
	}
	if s != Searcher(x) {
		t.Fatalf("Auto returned %T, want the *Index itself", s)
	}
	// From parallelMin on, exact is served through a Batcher (same hits,
	// TestBatcherConcurrent).
	big, _ := seededIndex(t, parallelMin, 4, 1, 22)
	if s, _ := Auto(big); s.Kind() != KindExact {
		t.Errorf("Auto of %d 4-d vectors is %s, want exact", big.Len(), s.Kind())
	} else if _, ok := s.(*Batcher); !ok {
		t.Errorf("Auto of %d vectors is %T, want a *Batcher", big.Len(), s)
	}
}

// TestAutoBuildsEachKind lowers the thresholds to reach Auto's int8 and
// hnsw branches on small data, and checks that each answers.
func TestAutoBuildsEachKind(t *testing.T) {
	defer func(e, i int64) { autoExactMax, autoInt8Max = e, i }(autoExactMax, autoInt8Max)
	autoExactMax, autoInt8Max = 1000*16, 2000*16
	x, queries := seededIndex(t, 1500, 16, 4, 23)
	y, _ := seededIndex(t, 2500, 16, 1, 24)
	for _, tt := range []struct {
		x    *Index
		want string
	}{{x, KindInt8}, {y, KindHNSW}} {
		s, err := Auto(tt.x)
		if err != nil {
			t.Fatal(err)
		}
		if s.Kind() != tt.want || s.Len() != tt.x.Len() {
			t.Fatalf("Auto: %s of %d, want %s of %d", s.Kind(), s.Len(), tt.want, tt.x.Len())
		}
		for _, q := range queries {
			want, _ := tt.x.Search(q, 1)
			got, err := s.Search(q, 1)
			if err != nil || len(got) != 1 || got[0].ID != want[0].ID {
				t.Errorf("%s: nearest %v (%v), exact %v", tt.want, got, err, want)
			}
		}
	}
}
