package vecmath

import (
	"math"
	"math/rand/v2"
	"testing"
)

func TestDotMatchesFloat64(t *testing.T) {
	rng := rand.New(rand.NewPCG(1, 2))
	for _, n := range []int{0, 1, 3, 7, 8, 15, 16, 17, 31, 64, 100, 256, 2048} {
		a, b := make([]float32, n), make([]float32, n)
		var want float64
		for i := range a {
			a[i], b[i] = rng.Float32()*2-1, rng.Float32()*2-1
			want += float64(a[i]) * float64(b[i])
		}
		got := float64(Dot(a, b))
		if math.Abs(got-want) > 1e-5*math.Max(1, float64(n)/16) {
			t.Errorf("n=%d: Dot = %v, want %v", n, got, want)
		}
		if g := float64(dotGeneric(a, b)); math.Abs(g-want) > 1e-5*math.Max(1, float64(n)/16) {
			t.Errorf("n=%d: dotGeneric = %v, want %v", n, g, want)
		}
	}
}

func TestDotShorterSecond(t *testing.T) {
	if got := Dot([]float32{1, 2, 3}, []float32{4, 5}); got != 14 {
		t.Errorf("Dot over common prefix = %v, want 14", got)
	}
}

func TestNormalizedZeroStaysZero(t *testing.T) {
	got := Normalized([]float32{0, 0, 0})
	for _, x := range got {
		if x != 0 {
			t.Fatalf("Normalized(zero) = %v", got)
		}
	}
	u := Normalized([]float32{3, 4})
	if math.Abs(float64(u[0])-0.6) > 1e-7 || math.Abs(float64(u[1])-0.8) > 1e-7 {
		t.Errorf("Normalized(3,4) = %v, want [0.6 0.8]", u)
	}
}

func TestCosineDistance(t *testing.T) {
	a := [][]float32{{1, 0}, {0, 2}, {0, 0}}
	b := [][]float32{{2, 0}, {-1, 0}, {1, 1}}
	want := [][]float64{
		{0, 2, 1 - 1/math.Sqrt2},
		{1, 1, 1 - 1/math.Sqrt2},
		{1, 1, 1},
	}
	got := CosineDistance(a, b)
	for i := range want {
		for j := range want[i] {
			if math.Abs(float64(got[i][j])-want[i][j]) > 1e-6 {
				t.Errorf("D[%d][%d] = %v, want %v", i, j, got[i][j], want[i][j])
			}
		}
	}
}

func TestCosineDistanceBlockedMatchesPairwise(t *testing.T) {
	rng := rand.New(rand.NewPCG(5, 6))
	for _, dim := range []int{3, 8, 13, 256} {
		a, b := make([][]float32, 5), make([][]float32, 11)
		for _, m := range [][][]float32{a, b} {
			for i := range m {
				m[i] = make([]float32, dim)
				for j := range m[i] {
					m[i][j] = float32(rng.NormFloat64())
				}
			}
		}
		D := CosineDistance(a, b)
		for i := range a {
			for j := range b {
				want := 1 - float64(Dot(Normalized(a[i]), Normalized(b[j])))
				if math.Abs(float64(D[i][j])-want) > 1e-5 {
					t.Errorf("dim %d D[%d][%d] = %v, want %v", dim, i, j, D[i][j], want)
				}
			}
		}
	}
	// Ragged rows fall back to the common prefix.
	D := CosineDistance([][]float32{{1, 0}}, [][]float32{{1, 0}, {1, 0, 5}, {0, 1}, {1, 0}, {1}})
	if D[0][0] != 0 || D[0][2] != 1 {
		t.Errorf("ragged: %v", D)
	}
}

func TestFirstNonFinite(t *testing.T) {
	nan, inf := float32(math.NaN()), float32(math.Inf(1))
	for _, tc := range []struct {
		name string
		v    []float32
		want int
	}{
		{"empty", nil, -1},
		{"finite", []float32{0, -1, math.MaxFloat32, -math.MaxFloat32, math.SmallestNonzeroFloat32}, -1},
		{"nan", []float32{1, 2, nan}, 2},
		{"inf first", []float32{inf, nan}, 0},
		{"-inf", []float32{1, -inf}, 1},
	} {
		if got := FirstNonFinite(tc.v); got != tc.want {
			t.Errorf("%s: FirstNonFinite = %d, want %d", tc.name, got, tc.want)
		}
	}
}
