package heads

import (
	"context"
	"errors"
	"math"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
	"github.com/google/go-cmp/cmp/cmpopts"
)

// TestFitLinearRetrieves fits both closed-form heads on pairs that share a
// latent signal and checks that held-out pairs find each other far above
// chance, and that the heads survive Save and Load unchanged.
func TestFitLinearRetrieves(t *testing.T) {
	img, txt := synthPairs(400, 30, 20, 6, 0.5, 3)
	for _, tc := range []struct {
		kind string
		c    LinearConfig
		out  int
	}{
		{KindLinear, LinearConfig{Lambda: 0.1}, 20},
		{KindCCA, LinearConfig{Shrink: 0.3, Dim: 8}, 8},
	} {
		t.Run(tc.kind, func(t *testing.T) {
			m, err := FitLinear(tc.kind, img[:300], txt[:300], tc.c)
			if err != nil {
				t.Fatal(err)
			}
			if m.Settings.Heads != tc.kind || m.Settings.Config.EmbedDim != tc.out || m.Settings.TrainPairs != 300 ||
				m.Settings.Linear == nil || *m.Settings.Linear != tc.c {
				t.Errorf("settings %+v", m.Settings)
			}
			s, err := ScorePairs(m, img[300:], txt[300:])
			if err != nil {
				t.Fatal(err)
			}
			if s.PosterToIntro < 0.9 || s.IntroToPoster < 0.9 {
				t.Errorf("held-out mean rank percentile %.3f / %.3f, want > 0.9", s.PosterToIntro, s.IntroToPoster)
			}
			back := saveAndLoad(t, m)
			a1, b1, _ := m.Project(img[300:], txt[300:])
			a2, b2, err := back.Project(img[300:], txt[300:])
			if err != nil {
				t.Fatal(err)
			}
			if diff := cmp.Diff([][][]float32{a1, b1}, [][][]float32{a2, b2}); diff != "" {
				t.Errorf("projection after Load differs (-saved +loaded):\n%s", diff)
			}
		})
	}
}

// TestRidgeMatchesNormalEquations checks the saved poster tower against the
// ridge solution computed directly: standardise, solve
// (XᵀX + λnI) W = XᵀY, map, normalise.
func TestRidgeMatchesNormalEquations(t *testing.T) {
	img, txt := synthPairs(60, 5, 3, 2, 0.3, 9)
	const lambda = 0.5
	m, err := FitLinear(KindLinear, img, txt, LinearConfig{Lambda: lambda})
	if err != nil {
		t.Fatal(err)
	}
	std := func(rows [][]float32) [][]float64 {
		s := newStandardizer(rows)
		out := make([][]float64, len(rows))
		for i, r := range rows {
			out[i] = make([]float64, len(r))
			for j, v := range r {
				out[i][j] = (float64(v) - s.mean[j]) * s.scale[j]
			}
		}
		return out
	}
	x, y := std(img), std(txt)
	n, dx, dy := len(x), len(x[0]), len(y[0])
	// Gauss-Jordan on the 5x5 system, one right-hand side per intro feature.
	a := make([][]float64, dx)
	for i := range dx {
		a[i] = make([]float64, dx+dy)
		for j := range dx {
			for r := range n {
				a[i][j] += x[r][i] * x[r][j]
			}
		}
		a[i][i] += lambda * float64(n)
		for j := range dy {
			for r := range n {
				a[i][dx+j] += x[r][i] * y[r][j]
			}
		}
	}
	for c := range dx {
		p := a[c][c]
		for j := range a[c] {
			a[c][j] /= p
		}
		for r := range dx {
			if r != c {
				f := a[r][c]
				for j := range a[r] {
					a[r][j] -= f * a[c][j]
				}
			}
		}
	}
	got, _, err := m.Project(img[:3], nil)
	if err != nil {
		t.Fatal(err)
	}
	for r := range 3 {
		want := make([]float64, dy)
		var norm float64
		for j := range dy {
			for i := range dx {
				want[j] += x[r][i] * a[i][dx+j]
			}
			norm += want[j] * want[j]
		}
		for j := range dy {
			if d := math.Abs(want[j]/math.Sqrt(norm) - float64(got[r][j])); d > 1e-5 {
				t.Errorf("row %d feature %d: got %g, want %g", r, j, got[r][j], want[j]/math.Sqrt(norm))
			}
		}
	}
}

// saveAndLoad saves m in a fresh folder, loads it back and checks that
// the settings survived.
func saveAndLoad(t *testing.T, m *Model) *Model {
	t.Helper()
	dir := t.TempDir()
	if err := m.Save(dir); err != nil {
		t.Fatal(err)
	}
	back, err := Load(dir)
	if err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff(m.Settings, back.Settings); diff != "" {
		t.Errorf("settings after Load (-saved +loaded):\n%s", diff)
	}
	return back
}

func TestKFold(t *testing.T) {
	folds, err := KFold(23, 5, 1)
	if err != nil {
		t.Fatal(err)
	}
	seen := make([]int, 23)
	for _, f := range folds {
		if n := len(f.Val); n < 4 || n > 5 {
			t.Errorf("fold of %d rows, want 4 or 5", n)
		}
		if len(f.Train)+len(f.Val) != 23 {
			t.Errorf("fold covers %d rows", len(f.Train)+len(f.Val))
		}
		for _, i := range f.Val {
			seen[i]++
		}
	}
	for i, c := range seen {
		if c != 1 {
			t.Errorf("row %d scored in %d folds, want 1", i, c)
		}
	}
	again, _ := KFold(23, 5, 1)
	if diff := cmp.Diff(folds, again); diff != "" {
		t.Errorf("same seed, other folds:\n%s", diff)
	}
	other, _ := KFold(23, 5, 2)
	if cmp.Equal(folds, other) {
		t.Error("another seed gave the same folds")
	}
	for _, tc := range []struct{ n, k int }{{10, 1}, {9, 5}} {
		if _, err := KFold(tc.n, tc.k, 1); err == nil {
			t.Errorf("KFold(%d, %d) accepted", tc.n, tc.k)
		}
	}
}

// TestSelectLinear checks the cross-validation report: every setting
// scored on every fold, the chosen one the best mean, and a choice that
// matters (a vanishing ridge penalty with more features than pairs
// overfits; one CCA component misses most of the signal).
func TestSelectLinear(t *testing.T) {
	for _, tc := range []struct {
		kind  string
		n     int
		grid  []LinearConfig
		worst int
	}{
		{KindLinear, 100, []LinearConfig{{Lambda: 1e-6}, {Lambda: 0.3}, {Lambda: 3}}, 0},
		{KindCCA, 200, []LinearConfig{{Shrink: 0.3, Dim: 1}, {Shrink: 0.3, Dim: 6}, {Shrink: 0.7, Dim: 6}}, 0},
	} {
		t.Run(tc.kind, func(t *testing.T) {
			img, txt := synthPairs(tc.n, 90, 16, 6, 0.8, 4)
			rep, err := SelectLinear(context.Background(), tc.kind, img, txt, tc.grid, 4, 7)
			if err != nil {
				t.Fatal(err)
			}
			if rep.Folds != 4 || rep.Pairs != tc.n || len(rep.Grid) != len(tc.grid) {
				t.Fatalf("report %+v", rep)
			}
			for i, p := range rep.Grid {
				if len(p.Folds) != 4 || p.Setting != tc.grid[i] || p.Mean.SD <= 0 {
					t.Errorf("grid point %d: %+v", i, p)
				}
				if p.Mean.Mean > rep.Grid[rep.Chosen].Mean.Mean {
					t.Errorf("point %d scores %.4f above the chosen %.4f", i, p.Mean.Mean, rep.Grid[rep.Chosen].Mean.Mean)
				}
			}
			if rep.Chosen == tc.worst || rep.Grid[tc.worst].Mean.Mean >= rep.Grid[rep.Chosen].Mean.Mean-0.01 {
				t.Errorf("chosen %d (%.4f), worst setting %d scored %.4f: the grid did not matter",
					rep.Chosen, rep.Grid[rep.Chosen].Mean.Mean, tc.worst, rep.Grid[tc.worst].Mean.Mean)
			}
			again, err := SelectLinear(context.Background(), tc.kind, img, txt, tc.grid, 4, 7)
			if err != nil {
				t.Fatal(err)
			}
			if diff := cmp.Diff(rep, again); diff != "" {
				t.Errorf("not deterministic:\n%s", diff)
			}
		})
	}
}

func TestLinearErrors(t *testing.T) {
	img, txt := synthPairs(20, 4, 3, 2, 0.3, 1)
	nan := Pick(img, []int{0, 1, 2, 3})
	nan[2] = []float32{0, float32(math.NaN()), 0, 0}
	for _, tc := range []struct {
		name string
		kind string
		img  [][]float32
		c    LinearConfig
		want string
	}{
		{"zero lambda", KindLinear, img, LinearConfig{}, "ridge lambda must be in (0, 1e+06]"},
		{"infinite lambda", KindLinear, img, LinearConfig{Lambda: math.Inf(1)}, "ridge lambda must be a finite number"},
		{"shrink 1", KindCCA, img, LinearConfig{Shrink: 1, Dim: 2}, "cca shrink must be in [0, 1)"},
		{"no components", KindCCA, img, LinearConfig{Shrink: 0.5}, "cca dim must be"},
		{"not linear", KindMLP, img, LinearConfig{Lambda: 1}, "not a linear head kind"},
		{"NaN feature", KindLinear, nan, LinearConfig{Lambda: 1}, "row 2: value 1 is NaN"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := FitLinear(tc.kind, tc.img, txt[:len(tc.img)], tc.c)
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Errorf("err %v, want one containing %q", err, tc.want)
			}
		})
	}
	if _, err := SelectLinear(context.Background(), KindLinear, img, txt, nil, 5, 1); !errors.Is(err, ErrBadConfig) {
		t.Errorf("empty grid: err %v", err)
	}
}

// TestLinearCheckpointLayout pins the tensor names and shapes of a saved
// linear head: the MLP heads' names with no hidden layers.
func TestLinearCheckpointLayout(t *testing.T) {
	img, txt := synthPairs(40, 6, 5, 2, 0.3, 2)
	m, err := FitLinear(KindCCA, img, txt, LinearConfig{Shrink: 0.5, Dim: 3})
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	if err := m.Save(dir); err != nil {
		t.Fatal(err)
	}
	got := map[string][]int{}
	for name, tensor := range m.w.tensors() {
		got[name] = tensor.Shape
	}
	want := map[string][]int{
		"img.net.0.weight": {3, 6}, "img.net.0.bias": {3},
		"txt.net.0.weight": {3, 5}, "txt.net.0.bias": {3},
		"logit_scale": {},
	}
	if diff := cmp.Diff(want, got, cmpopts.EquateEmpty()); diff != "" {
		t.Errorf("tensors (-want +got):\n%s", diff)
	}
	if _, err := os.Stat(filepath.Join(dir, WeightsFile)); err != nil {
		t.Error(err)
	}
}

// TestTrainWindows checks that each model of one TrainWindows run is the
// model Train gives with that averaging window, tensor for tensor.
func TestTrainWindows(t *testing.T) {
	img, txt := synthPairs(120, 12, 10, 4, 0.3, 5)
	cfg := smallConfig()
	windows := []int{1, 2, 4, 10}
	models, err := TrainWindows(context.Background(), img, txt, cfg, windows, TrainOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if len(models) != len(windows) {
		t.Fatalf("%d models for %d windows", len(models), len(windows))
	}
	for i, w := range windows {
		c := cfg
		c.AverageEpochs = w
		want, _ := trainSmall(t, c, img, txt, nil)
		if diff := cmp.Diff(want.w.tensors(), models[i].w.tensors()); diff != "" {
			t.Errorf("window %d: weights differ from Train's (-Train +TrainWindows):\n%s", w, diff)
		}
		if models[i].Settings.Config.AverageEpochs != w {
			t.Errorf("window %d: settings say %d", w, models[i].Settings.Config.AverageEpochs)
		}
	}
	if _, err := TrainWindows(context.Background(), img, txt, cfg, []int{0}, TrainOptions{}); !errors.Is(err, ErrBadConfig) {
		t.Errorf("window 0: err %v", err)
	}
}
