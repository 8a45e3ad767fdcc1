package heads

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"math"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/reelmatch/reelmatch/internal/metrics"
)

// smallConfig trains quickly on synthPairs.
func smallConfig() Config {
	cfg := DefaultConfig()
	cfg.Hidden, cfg.EmbedDim = []int{32, 32, 32}, 16
	cfg.Epochs, cfg.Patience = 4, 0
	cfg.InputDropout, cfg.Dropout = 0.2, 0.1
	return cfg
}

func trainSmall(t *testing.T, cfg Config, img, txt [][]float32, val *Pairs) (*Model, *History) {
	t.Helper()
	m, h, err := Train(context.Background(), img, txt, val, cfg, TrainOptions{})
	if err != nil {
		t.Fatal(err)
	}
	return m, h
}

// TestReproducible trains twice with the same seed and data and compares
// the checkpoint files byte for byte; another seed must differ.
func TestReproducible(t *testing.T) {
	img, txt := synthPairs(200, 24, 20, 6, 0.3, 1)
	val := &Pairs{Img: img[160:], Txt: txt[160:]}
	save := func(cfg Config) (weights, settings []byte) {
		m, _ := trainSmall(t, cfg, img[:160], txt[:160], val)
		dir := t.TempDir()
		if err := m.Save(dir); err != nil {
			t.Fatal(err)
		}
		w, err := os.ReadFile(filepath.Join(dir, WeightsFile))
		if err != nil {
			t.Fatal(err)
		}
		s, err := os.ReadFile(filepath.Join(dir, SettingsFile))
		if err != nil {
			t.Fatal(err)
		}
		return w, s
	}
	cfg := smallConfig()
	cfg.LearnTemperature, cfg.Standardize = true, true
	w1, s1 := save(cfg)
	w2, s2 := save(cfg)
	if !bytes.Equal(w1, w2) || !bytes.Equal(s1, s2) {
		t.Fatalf("same seed gave different checkpoints (weights equal %v, settings equal %v)", bytes.Equal(w1, w2), bytes.Equal(s1, s2))
	}
	cfg.Seed = 2
	w3, _ := save(cfg)
	if bytes.Equal(w1, w3) {
		t.Fatal("seeds 1 and 2 gave identical weights: the seed is not used")
	}
}

// TestCheckpointRoundTrip saves, loads and projects again; it also checks
// the tensor names are the PyTorch reference's.
func TestCheckpointRoundTrip(t *testing.T) {
	img, txt := synthPairs(120, 24, 20, 6, 0.3, 2)
	for _, tc := range []struct {
		name string
		cfg  func(*Config)
	}{
		{"default", func(*Config) {}},
		{"standardized, learned temperature", func(c *Config) { c.Standardize, c.LearnTemperature = true, true }},
		{"no hidden layers", func(c *Config) { c.Hidden = nil }},
	} {
		t.Run(tc.name, func(t *testing.T) {
			cfg := smallConfig()
			cfg.Epochs = 2
			tc.cfg(&cfg)
			m, _ := trainSmall(t, cfg, img, txt, nil)
			m.Settings.Encoder, m.Settings.Fingerprint = "fake", "f00d"
			got := saveAndLoad(t, m)
			a1, b1, err := m.Project(img, txt)
			if err != nil {
				t.Fatal(err)
			}
			a2, b2, err := got.Project(img, txt)
			if err != nil {
				t.Fatal(err)
			}
			if diff := cmp.Diff(a1, a2); diff != "" {
				t.Errorf("poster projection changed by the round trip:\n%s", diff)
			}
			if diff := cmp.Diff(b1, b2); diff != "" {
				t.Errorf("intro projection changed by the round trip:\n%s", diff)
			}
			names := got.w.tensors()
			want := len(cfg.Hidden)*6 + 2 // Linear weight, bias and BatchNorm weight, bias, running mean, var per layer
			for _, prefix := range []string{"img.net.", "txt.net."} {
				n := 0
				for name := range names {
					if strings.HasPrefix(name, prefix) && !strings.HasSuffix(name, "num_batches_tracked") {
						n++
					}
				}
				if n != want {
					t.Errorf("%s*: %d float tensors, want %d", prefix, n, want)
				}
			}
			last := linearName(imgPrefix, len(cfg.Hidden), "weight")
			if x := names[last]; !cmp.Equal(x.Shape, []int{cfg.EmbedDim, lastIn(cfg, 24)}) {
				t.Errorf("%s has shape %v", last, x.Shape)
			}
		})
	}
}

func lastIn(cfg Config, in int) int {
	if len(cfg.Hidden) == 0 {
		return in
	}
	return cfg.Hidden[len(cfg.Hidden)-1]
}

// TestProjectMatchesGraph checks the plain-Go inference against the GoMLX
// eval graph within 1e-5, for trained BatchNorm statistics.
func TestProjectMatchesGraph(t *testing.T) {
	img, txt := synthPairs(96, 24, 20, 6, 0.3, 3)
	cfg := smallConfig()
	cfg.ImageDim, cfg.TextDim = 24, 20
	tr, err := newTrainer(cfg, newWeights(cfg, 7))
	if err != nil {
		t.Fatal(err)
	}
	defer tr.close()
	for s := range 3 {
		lo, hi := s*32, (s+1)*32
		if _, err := tr.trainStep(flatten(img[lo:hi]), flatten(txt[lo:hi]), 32); err != nil {
			t.Fatal(err)
		}
	}
	w, err := tr.weights()
	if err != nil {
		t.Fatal(err)
	}
	m := newModel(cfg, w)
	gotImg, gotTxt, err := m.Project(img, txt)
	if err != nil {
		t.Fatal(err)
	}
	for _, side := range []struct {
		name string
		got  [][]float32
		rows [][]float32
		dim  int
		exec bool
	}{{"poster", gotImg, img, 24, true}, {"intro", gotTxt, txt, 20, false}} {
		e := tr.evalTxt
		if side.exec {
			e = tr.evalImg
		}
		flat, err := tr.project(e, flatten(side.rows), len(side.rows), side.dim)
		if err != nil {
			t.Fatal(err)
		}
		want := unflattenRows(flat, len(side.rows))
		for i := range want {
			normalizeInPlace(want[i])
			if err := closeAbs(side.got[i], want[i], 1e-5); err != nil {
				t.Fatalf("%s row %d: %v", side.name, i, err)
			}
		}
	}
}

// TestShufflePairsControl trains on pairs whose sides are linear images of
// one latent vector: true pairs must beat chance clearly on held-out pairs,
// and shuffled training pairs must land at chance.
func TestShufflePairsControl(t *testing.T) {
	img, txt := synthPairs(700, 32, 24, 8, 0.2, 4)
	trainImg, trainTxt := img[:500], txt[:500]
	testImg, testTxt := img[500:], txt[500:]
	cfg := smallConfig()
	cfg.Epochs, cfg.Standardize = 10, true
	score := func(m *Model) float64 {
		a, b, err := m.Project(testImg, testTxt)
		if err != nil {
			t.Fatal(err)
		}
		r := metrics.Evaluate(metrics.Distance(a, b))
		return (r.PosterToIntro.MeanRankPercentile + r.IntroToPoster.MeanRankPercentile) / 2
	}
	real, _ := trainSmall(t, cfg, trainImg, trainTxt, nil)
	shuffled, _ := trainSmall(t, cfg, trainImg, ShufflePairs(trainTxt, 9), nil)
	realScore, shuffledScore := score(real), score(shuffled)
	// 200 held-out queries: a chance mean rank percentile has a standard
	// deviation of about 0.29/sqrt(200) = 0.02 per direction.
	if realScore < 0.85 {
		t.Errorf("true pairs: held-out mean rank percentile %.3f, want >= 0.85", realScore)
	}
	if math.Abs(shuffledScore-0.5) > 0.06 {
		t.Errorf("shuffled pairs: held-out mean rank percentile %.3f, want 0.5 ± 0.06 (chance)", shuffledScore)
	}
	t.Logf("held-out mean rank percentile: true pairs %.3f, shuffled %.3f", realScore, shuffledScore)
}

// TestEarlyStoppingKeepsBestEpoch overfits a tiny noisy set so validation
// peaks early, and checks the kept weights are the best epoch's.
func TestEarlyStoppingKeepsBestEpoch(t *testing.T) {
	img, txt := synthPairs(260, 24, 20, 6, 1.5, 5)
	val := &Pairs{Img: img[200:], Txt: txt[200:]}
	cfg := smallConfig()
	cfg.Hidden, cfg.EmbedDim = []int{128, 128, 128}, 32
	cfg.InputDropout, cfg.Dropout, cfg.LR = 0, 0, 3e-3
	cfg.Epochs, cfg.Patience = 40, 3
	cfg.AverageEpochs = 0 // keep the best epoch, not an average
	m, h, err := Train(context.Background(), img[:200], txt[:200], val, cfg, TrainOptions{})
	if err != nil {
		t.Fatal(err)
	}
	best := 0
	for i, e := range h.Epochs {
		if e.Val.Score > h.Epochs[best].Val.Score {
			best = i
		}
	}
	if h.BestEpoch != best+1 {
		t.Fatalf("kept epoch %d, the best validation score was epoch %d", h.BestEpoch, best+1)
	}
	if !h.StoppedEarly || len(h.Epochs) != h.BestEpoch+cfg.Patience {
		t.Fatalf("ran %d epochs, best %d, patience %d, stopped early %v: want best+patience epochs",
			len(h.Epochs), h.BestEpoch, cfg.Patience, h.StoppedEarly)
	}
	if m.Settings.BestEpoch != h.BestEpoch || m.Settings.EpochsRun != len(h.Epochs) {
		t.Errorf("settings say best %d of %d", m.Settings.BestEpoch, m.Settings.EpochsRun)
	}
	// The kept weights score exactly the best epoch's validation score.
	a, b, err := m.Project(val.Img, val.Txt)
	if err != nil {
		t.Fatal(err)
	}
	r := metrics.Evaluate(metrics.Distance(a, b))
	got := (r.PosterToIntro.MeanRankPercentile + r.IntroToPoster.MeanRankPercentile) / 2
	if math.Abs(got-h.Epochs[best].Val.Score) > 1e-3 {
		t.Errorf("kept weights score %.4f on validation, best epoch scored %.4f", got, h.Epochs[best].Val.Score)
	}
	if last := h.Epochs[len(h.Epochs)-1].Val.Score; last >= h.Epochs[best].Val.Score {
		t.Errorf("last epoch %.4f is not worse than the best %.4f", last, h.Epochs[best].Val.Score)
	}
}

// TestTrainRejectsBadInput covers the inputs Train must refuse with a clear
// error instead of a panic.
func TestTrainRejectsBadInput(t *testing.T) {
	img, txt := synthPairs(40, 8, 6, 3, 0.3, 6)
	ragged := append([][]float32{}, img...)
	ragged[3] = ragged[3][:5]
	for _, tc := range []struct {
		name     string
		img, txt [][]float32
		val      *Pairs
		cfg      func(*Config)
		want     string
		sentinel error
	}{
		{name: "empty train split", want: "split is empty", sentinel: ErrNoPairs},
		{name: "one pair", img: img[:1], txt: txt[:1], want: "at least 2", sentinel: ErrNoPairs},
		{name: "unequal sides", img: img, txt: txt[:30], want: "40 poster rows but 30 intro rows"},
		{name: "ragged rows", img: ragged, txt: txt, want: "row 3: 5 values, row 0 has 8"},
		{name: "validation dims mismatch", img: img, txt: txt, val: &Pairs{Img: txt[:5], Txt: txt[:5]}, want: "validation features are 6/6-d, training features 8/6-d"},
		{name: "bad dropout", img: img, txt: txt, cfg: func(c *Config) { c.Dropout = 1 }, want: "dropout", sentinel: ErrBadConfig},
		{name: "batch of one", img: img, txt: txt, cfg: func(c *Config) { c.BatchSize = 1 }, want: "batch", sentinel: ErrBadConfig},
		{name: "zero epochs", img: img, txt: txt, cfg: func(c *Config) { c.Epochs = 0 }, want: "epochs", sentinel: ErrBadConfig},
	} {
		t.Run(tc.name, func(t *testing.T) {
			cfg := smallConfig()
			if tc.cfg != nil {
				tc.cfg(&cfg)
			}
			_, _, err := Train(context.Background(), tc.img, tc.txt, tc.val, cfg, TrainOptions{})
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("error %v, want one containing %q", err, tc.want)
			}
			if tc.sentinel != nil && !errors.Is(err, tc.sentinel) {
				t.Errorf("error %v does not wrap %v", err, tc.sentinel)
			}
		})
	}
}

// TestProjectRejectsWrongDims checks a feature row of the wrong size is an
// error naming both sizes, for each side.
func TestProjectRejectsWrongDims(t *testing.T) {
	cfg := smallConfig()
	cfg.ImageDim, cfg.TextDim = 8, 6
	m := newModel(cfg, newWeights(cfg, 1))
	good, _ := synthPairs(2, 8, 6, 3, 0.3, 7)
	_, goodTxt := synthPairs(2, 8, 6, 3, 0.3, 7)
	if _, _, err := m.Project(good, goodTxt); err != nil {
		t.Fatal(err)
	}
	if _, _, err := m.Project(goodTxt, nil); err == nil || !strings.Contains(err.Error(), "poster features row 0: have 6 values, the heads take 8") {
		t.Errorf("poster error: %v", err)
	}
	if _, _, err := m.Project(nil, good); err == nil || !strings.Contains(err.Error(), "intro features row 0: have 8 values, the heads take 6") {
		t.Errorf("intro error: %v", err)
	}
}

// TestIdentity checks `--heads none`: only L2-normalisation, saved and
// loaded without weights.
func TestIdentity(t *testing.T) {
	dir := t.TempDir()
	m := Identity()
	m.Settings.Encoder = "clip"
	if err := m.Save(dir); err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(filepath.Join(dir, WeightsFile)); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("identity heads wrote weights (stat: %v)", err)
	}
	got, err := Load(dir)
	if err != nil {
		t.Fatal(err)
	}
	if !got.IsIdentity() || got.Settings.Encoder != "clip" {
		t.Fatalf("loaded %+v", got.Settings)
	}
	a, b, err := got.Project([][]float32{{3, 4}}, [][]float32{{0, 0, 2}})
	if err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff([][]float32{{0.6, 0.8}}, a); diff != "" {
		t.Errorf("poster (-want +got):\n%s", diff)
	}
	if diff := cmp.Diff([][]float32{{0, 0, 1}}, b); diff != "" {
		t.Errorf("intro (-want +got):\n%s", diff)
	}
}

// TestLoadErrors covers missing and broken run folders.
func TestLoadErrors(t *testing.T) {
	empty := t.TempDir()
	if _, err := Load(empty); !errors.Is(err, ErrNoCheckpoint) || !strings.Contains(err.Error(), "reelmatch train") {
		t.Errorf("empty run folder: %v", err)
	}
	noWeights := t.TempDir()
	if err := os.WriteFile(filepath.Join(noWeights, SettingsFile), []byte(`{"heads":"mlp","config":{"image_dim":8,"text_dim":6,"embed_dim":4,"temperature":0.07}}`), 0o644); err != nil {
		t.Fatal(err)
	}
	if _, err := Load(noWeights); !errors.Is(err, ErrNoCheckpoint) {
		t.Errorf("settings without weights: %v", err)
	}
	// Settings that disagree with the weights name the tensor.
	cfg := smallConfig()
	cfg.ImageDim, cfg.TextDim = 8, 6
	m := newModel(cfg, newWeights(cfg, 1))
	dir := t.TempDir()
	if err := m.Save(dir); err != nil {
		t.Fatal(err)
	}
	m.Settings.Config.ImageDim = 9
	settings, err := json.Marshal(m.Settings)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, SettingsFile), settings, 0o644); err != nil {
		t.Fatal(err)
	}
	if _, err := Load(dir); err == nil || !strings.Contains(err.Error(), `"img.net.0.weight": want float shape [32 9], have [32 8]`) {
		t.Errorf("mismatching settings: %v", err)
	}
}

// TestProjectRowIndependentOfBatch checks that a row projects bit for bit
// the same alone (a search query, run inline) as inside a big batch (the
// catalogue, spread over goroutines), so a query that repeats a catalogue
// intro lands exactly on that intro's vector.
func TestProjectRowIndependentOfBatch(t *testing.T) {
	img, txt := synthPairs(3*rowBlock+5, 24, 20, 6, 0.3, 4)
	cfg := smallConfig()
	cfg.ImageDim, cfg.TextDim = 24, 20
	m := newModel(cfg, newWeights(cfg, 9))
	allImg, allTxt, err := m.Project(img, txt)
	if err != nil {
		t.Fatal(err)
	}
	for i := range img {
		oneImg, oneTxt, err := m.Project(img[i:i+1], txt[i:i+1])
		if err != nil {
			t.Fatal(err)
		}
		if diff := cmp.Diff(allImg[i], oneImg[0]); diff != "" {
			t.Errorf("poster %d alone vs in the batch (-batch +alone):\n%s", i, diff)
		}
		if diff := cmp.Diff(allTxt[i], oneTxt[0]); diff != "" {
			t.Errorf("intro %d alone vs in the batch (-batch +alone):\n%s", i, diff)
		}
	}
}
