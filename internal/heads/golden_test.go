package heads

import (
	"fmt"
	"math"
	"sort"
	"strings"
	"testing"

	"github.com/gomlx/gomlx/core/graph"
	"github.com/gomlx/gomlx/core/tensors"
	"github.com/gomlx/gomlx/ml/model"

	"github.com/reelmatch/reelmatch/internal/safetensors"
)

// goldenTol is the fixture README's tolerance for outputs computed from
// the same inputs, relative to each tensor's scale.
const goldenTol = 1e-4

// goldenConfig is the toy setting testdata/golden.safetensors was made
// with (see its metadata): image 12-d, text 10-d, hidden 16,12,8, out 6,
// dropout 0, Adam lr 1e-3, StepLR step 2 gamma 0.1 after every batch.
func goldenConfig() Config {
	return Config{ImageDim: 12, TextDim: 10, Hidden: []int{16, 12, 8}, EmbedDim: 6,
		Temperature: 0.07, LR: 1e-3, LRStep: 2, LRGamma: 0.1, BatchSize: 8, Epochs: 1, Seed: 1}
}

func loadGolden(t testing.TB) *safetensors.File {
	t.Helper()
	f, err := safetensors.ReadFile("testdata/golden.safetensors")
	if err != nil {
		t.Fatal(err)
	}
	return f
}

func mustTensor(t testing.TB, f *safetensors.File, name string) safetensors.Tensor {
	t.Helper()
	x, err := f.Tensor(name)
	if err != nil {
		t.Fatal(err)
	}
	return x
}

// gradients returns the loss and the gradient of every trainable weight by
// PyTorch name for one batch, in training mode, without taking a step (the
// running statistics are still updated, as a PyTorch forward pass does).
func (t *trainer) gradients(img, txt []float32, n int) (loss float32, grads map[string][]float32, err error) {
	defer recoverError(&err, "gradients")
	be, err := backend()
	if err != nil {
		return 0, nil, err
	}
	var names []string
	exec, err := model.NewExec(be, t.store, func(scope *model.Scope, imgX, txtX *graph.Node) []*graph.Node {
		loss := t.lossGraph(scope, imgX, txtX)
		g := imgX.Graph()
		names = names[:0]
		for v := range scope.IterVariables() {
			if v.Trainable && v.InUseByGraph(g) {
				names = append(names, t.names[v])
			}
		}
		return append([]*graph.Node{loss}, scope.BuildTrainableVariablesGradientsGraph(loss)...)
	})
	if err != nil {
		return 0, nil, err
	}
	defer exec.Finalize()
	out, err := exec.Call(
		tensors.FromFlatDataAndDimensions(img, n, t.cfg.ImageDim),
		tensors.FromFlatDataAndDimensions(txt, n, t.cfg.TextDim))
	if err != nil {
		return 0, nil, err
	}
	grads = map[string][]float32{}
	for i, name := range names {
		grads[name] = tensors.MustCopyFlatData[float32](out[i+1])
	}
	return tensors.MustCopyFlatData[float32](out[0])[0], grads, nil
}

// closeTo reports the worst element of got against want, relative to
// want's largest magnitude (at least 1e-3, so near-zero tensors are judged
// absolutely).
func closeTo(got, want []float32, tol float64) error {
	if len(got) != len(want) {
		return fmt.Errorf("length %d, want %d", len(got), len(want))
	}
	scale := 1e-3
	for _, w := range want {
		scale = math.Max(scale, math.Abs(float64(w)))
	}
	worst, at := 0.0, 0
	for i := range got {
		if d := math.Abs(float64(got[i]) - float64(want[i])); d > worst || math.IsNaN(d) {
			worst, at = d, i
		}
	}
	if worst > tol*scale || math.IsNaN(worst) {
		return fmt.Errorf("element %d: got %g, want %g (|diff| %.3g > %.3g)", at, got[at], want[at], worst, tol*scale)
	}
	return nil
}

func goldenBatch(t testing.TB, f *safetensors.File, i int) (img, txt []float32) {
	return mustTensor(t, f, fmt.Sprintf("img_x%d", i)).F32, mustTensor(t, f, fmt.Sprintf("txt_x%d", i)).F32
}

func goldenTrainer(t testing.TB, f *safetensors.File) *trainer {
	t.Helper()
	w, err := weightsFromTensors(f.Tensors, goldenConfig())
	if err != nil {
		t.Fatal(err)
	}
	tr, err := newTrainer(goldenConfig(), w)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(tr.close)
	return tr
}

// TestGoldenGradients checks the first step's loss and every gradient
// against PyTorch's autograd.
func TestGoldenGradients(t *testing.T) {
	f := loadGolden(t)
	tr := goldenTrainer(t, f)
	img, txt := goldenBatch(t, f, 0)
	loss, grads, err := tr.gradients(img, txt, 8)
	if err != nil {
		t.Fatal(err)
	}
	if err := closeTo([]float32{loss}, mustTensor(t, f, "losses").F32[:1], goldenTol); err != nil {
		t.Errorf("loss: %v", err)
	}
	var want []string
	for _, n := range f.Names() {
		if strings.HasPrefix(n, "grad0.") {
			want = append(want, strings.TrimPrefix(n, "grad0."))
		}
	}
	var got []string
	for n := range grads {
		got = append(got, n)
	}
	sort.Strings(got)
	if strings.Join(got, ",") != strings.Join(want, ",") {
		t.Fatalf("gradient names:\n got %v\nwant %v", got, want)
	}
	for _, n := range want {
		err := closeTo(grads[n], mustTensor(t, f, "grad0."+n).F32, goldenTol)
		if preBNBias(n) {
			// Zero in exact arithmetic (see biasDriftTol): both sides are
			// rounding noise.
			err = closeAbs(grads[n], mustTensor(t, f, "grad0."+n).F32, 1e-6)
		}
		if err != nil {
			t.Errorf("grad %s: %v", n, err)
		}
	}
}

// Adam turns a mathematically zero gradient into a full step: a Linear
// bias followed by BatchNorm has zero gradient (the normalisation removes
// it), so its float32 rounding noise (about 1e-7, in both frameworks, with
// different signs) is normalised by Adam into steps of about ±lr. Those
// biases, and the running means that average them, therefore drift apart
// from PyTorch's by up to the sum of the learning rates, while every other
// tensor matches to goldenTol. driftTol bounds that drift for the three
// golden steps (lr 1e-3, 1e-3, 1e-4 on each side).
const (
	biasDriftTol = 2 * (1e-3 + 1e-3 + 1e-4) * 1.1
	meanDriftTol = bnMomentum*(1-bnMomentum)*2e-3 + bnMomentum*4e-3 + 1e-4
)

// preBNBias reports whether name is a Linear bias followed by BatchNorm
// (net.0, net.4, net.8 in the three-hidden-layer reference).
func preBNBias(name string) bool {
	for _, i := range []int{0, 4, 8} {
		if strings.HasSuffix(name, fmt.Sprintf("net.%d.bias", i)) {
			return true
		}
	}
	return false
}

// TestGoldenTraining runs three Adam steps with StepLR after every batch
// and checks the losses and every parameter and running statistic after the
// steps.
func TestGoldenTraining(t *testing.T) {
	f := loadGolden(t)
	cfg := goldenConfig()
	tr := goldenTrainer(t, f)
	wantLosses := mustTensor(t, f, "losses").F32
	for i := range 3 {
		// The reference steps StepLR after every batch: batch i uses lrAt(i).
		if err := tr.setLR(cfg.lrAt(i)); err != nil {
			t.Fatal(err)
		}
		img, txt := goldenBatch(t, f, i)
		loss, err := tr.trainStep(img, txt, 8)
		if err != nil {
			t.Fatal(err)
		}
		if err := closeTo([]float32{loss}, wantLosses[i:i+1], goldenTol); err != nil {
			t.Errorf("loss %d: %v", i, err)
		}
	}
	w, err := tr.weights()
	if err != nil {
		t.Fatal(err)
	}
	got := w.tensors()
	checked := 0
	for _, n := range f.Names() {
		if !strings.HasPrefix(n, "final.") {
			continue
		}
		name := strings.TrimPrefix(n, "final.")
		want := mustTensor(t, f, n)
		g, ok := got[name]
		if !ok {
			t.Errorf("%s: not produced", name)
			continue
		}
		checked++
		if want.I64 != nil {
			if g.I64 == nil || g.I64[0] != want.I64[0] {
				t.Errorf("%s: got %v, want %v", name, g.I64, want.I64)
			}
			continue
		}
		err := closeTo(g.F32, want.F32, goldenTol)
		switch {
		case preBNBias(name):
			err = closeAbs(g.F32, want.F32, biasDriftTol)
		case strings.HasSuffix(name, "running_mean"):
			err = closeAbs(g.F32, want.F32, meanDriftTol)
		}
		if err != nil {
			t.Errorf("%s: %v", name, err)
		}
	}
	if checked != 46 {
		t.Errorf("checked %d final tensors, want 46", checked)
	}
}

// TestGoldenEval loads PyTorch's weights after the three steps and checks
// the eval-mode outputs on batch 0 through the GoMLX graph, and the
// normalised outputs and distance matrix through Model.Project.
func TestGoldenEval(t *testing.T) {
	f := loadGolden(t)
	cfg := goldenConfig()
	final := map[string]safetensors.Tensor{}
	for name, x := range f.Tensors {
		if rest, ok := strings.CutPrefix(name, "final."); ok {
			final[rest] = x
		}
	}
	w, err := weightsFromTensors(final, cfg)
	if err != nil {
		t.Fatal(err)
	}
	tr, err := newTrainer(cfg, w)
	if err != nil {
		t.Fatal(err)
	}
	defer tr.close()
	img, txt := goldenBatch(t, f, 0)
	gotImg, err := tr.project(tr.evalImg, img, 8, cfg.ImageDim)
	if err != nil {
		t.Fatal(err)
	}
	gotTxt, err := tr.project(tr.evalTxt, txt, 8, cfg.TextDim)
	if err != nil {
		t.Fatal(err)
	}
	if err := closeTo(gotImg, mustTensor(t, f, "eval_img").F32, goldenTol); err != nil {
		t.Errorf("eval_img: %v", err)
	}
	if err := closeTo(gotTxt, mustTensor(t, f, "eval_txt").F32, goldenTol); err != nil {
		t.Errorf("eval_txt: %v", err)
	}
	pi, pt, err := newModel(cfg, w).Project(unflatten(img, 8), unflatten(txt, 8))
	if err != nil {
		t.Fatal(err)
	}
	var dist []float32
	for i := range pi {
		for j := range pt {
			var dot float64
			for k := range pi[i] {
				dot += float64(pi[i][k]) * float64(pt[j][k])
			}
			dist = append(dist, float32(1-dot))
		}
	}
	if err := closeTo(dist, mustTensor(t, f, "eval_distance").F32, goldenTol); err != nil {
		t.Errorf("eval_distance: %v", err)
	}
}

// closeAbs reports the worst element beyond an absolute tolerance.
func closeAbs(got, want []float32, tol float64) error {
	if len(got) != len(want) {
		return fmt.Errorf("length %d, want %d", len(got), len(want))
	}
	for i := range got {
		if d := math.Abs(float64(got[i]) - float64(want[i])); !(d <= tol) {
			return fmt.Errorf("element %d: got %g, want %g (|diff| %.3g > %.3g)", i, got[i], want[i], d, tol)
		}
	}
	return nil
}

func unflatten(flat []float32, n int) [][]float32 {
	dim := len(flat) / n
	rows := make([][]float32, n)
	for i := range rows {
		rows[i] = flat[i*dim : (i+1)*dim]
	}
	return rows
}
