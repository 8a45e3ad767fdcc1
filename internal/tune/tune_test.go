package tune

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/reelmatch/reelmatch/internal/dataset"
	"github.com/reelmatch/reelmatch/internal/embcache"
	"github.com/reelmatch/reelmatch/internal/embed"
	"github.com/reelmatch/reelmatch/internal/encoder"
	"github.com/reelmatch/reelmatch/internal/encoder/builtin"
	"github.com/reelmatch/reelmatch/internal/heads"
	"github.com/reelmatch/reelmatch/internal/reel"
	"github.com/reelmatch/reelmatch/internal/synth"
	"github.com/reelmatch/reelmatch/internal/workdir"
)

// synthData embeds a synthetic catalogue of n movies with the builtin
// encoder and returns its training split as Data and its test split as
// Held.
func synthData(t testing.TB, n int) (Data, Held) {
	t.Helper()
	dir := t.TempDir()
	data := filepath.Join(dir, "data")
	if err := synth.Write(data, n, 3); err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	man, _, err := dataset.Prepare(ctx, data, dataset.Options{})
	if err != nil {
		t.Fatal(err)
	}
	work := workdir.Dir(filepath.Join(dir, "work"))
	enc, err := encoder.New(builtin.Name, encoder.Config{})
	if err != nil {
		t.Fatal(err)
	}
	sum, err := embed.Run(ctx, work, man, enc, embed.Options{})
	if err != nil {
		t.Fatal(err)
	}
	f, err := embcache.Load(sum.Features)
	if err != nil {
		t.Fatal(err)
	}
	rows := func(split reel.Split) ([]reel.Movie, [][]float32, [][]float32) {
		movies := man.Split(split)
		img, txt, err := f.Rows(dataset.IDs(movies))
		if err != nil {
			t.Fatal(err)
		}
		return movies, img, txt
	}
	d := Data{Encoder: builtin.Name, ImageFingerprint: f.ImageFingerprint}
	d.Movies, d.Image, d.Text = rows(reel.SplitTrain)
	var h Held
	h.Movies, h.Image, h.Text = rows(reel.SplitTest)
	return d, h
}

// smallOptions is a grid that runs in about a second.
func smallOptions() Options {
	o := DefaultOptions()
	o.Folds = 3
	o.TextInputs, o.TextDims = []string{embed.TextClean}, []int{8, 16}
	o.Lambdas, o.Shrinks, o.CCADims = []float64{1, 30}, []float64{0.5}, []int{4, 8}
	o.MLP.Hidden, o.MLP.EmbedDim, o.MLP.Epochs = []int{16}, 8, 3
	o.Dropouts, o.Windows = []float64{0.1}, []int{1, 3}
	return o
}

func TestRunScoresTheGrid(t *testing.T) {
	d, held := synthData(t, 150)
	o := smallOptions()
	var steps []int
	o.Step = func(done, total int) { steps = append(steps, done, total) }
	r, err := Run(context.Background(), d, o)
	if err != nil {
		t.Fatal(err)
	}
	// 2 text dims x (2 ridge + 2 cca) + 1 dropout x 2 windows.
	if len(r.Grid) != 10 {
		t.Fatalf("grid of %d points, want 10", len(r.Grid))
	}
	for i, p := range r.Grid {
		if len(p.Folds) != 3 {
			t.Errorf("point %d (%s): %d fold scores", i, p.Setting, len(p.Folds))
		}
		if p.Mean.Mean > r.Chosen.Mean.Mean {
			t.Errorf("point %d (%s) scores %.4f above the chosen %.4f", i, p.Setting, p.Mean.Mean, r.Chosen.Mean.Mean)
		}
	}
	mlp := r.Grid[len(r.Grid)-1]
	if mlp.Heads != heads.KindMLP || mlp.MLP == nil || mlp.MLP.AverageEpochs != 3 {
		t.Errorf("last point %+v, want the mlp with window 3", mlp.Setting)
	}
	// The synthetic genres are easy: every scored setting is far above chance.
	if r.Chosen.Mean.Mean < 0.8 {
		t.Errorf("chosen %s scores %.3f, want > 0.8", r.Chosen.Setting, r.Chosen.Mean.Mean)
	}
	if r.Pairs != len(d.Movies) || r.TrainSHA256 != TrainDigest(d.Movies) || r.Folds != 3 {
		t.Errorf("result header %+v", r)
	}
	// 3 folds x 1 text input, then 3 folds x 1 dropout.
	if len(steps) != 12 || steps[len(steps)-2] != 6 || steps[len(steps)-1] != 6 {
		t.Errorf("progress %v, want 6 steps of 6", steps)
	}

	again, err := Run(context.Background(), d, smallOptions())
	if err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff(r, again); diff != "" {
		t.Errorf("a second run differs:\n%s", diff)
	}

	path := filepath.Join(t.TempDir(), "tune", "builtin.json")
	if err := r.Save(path); err != nil {
		t.Fatal(err)
	}
	back, err := Load(path)
	if err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff(r, back); diff != "" {
		t.Errorf("tune file round trip (-saved +loaded):\n%s", diff)
	}
	if why := back.Stale(TrainDigest(d.Movies), d.ImageFingerprint); why != "" {
		t.Errorf("fresh file reported stale: %s", why)
	}
	if why := back.Stale(TrainDigest(d.Movies[1:]), d.ImageFingerprint); why == "" {
		t.Error("a changed training split was not noticed")
	}

	rep, err := Test(context.Background(), d, held, r)
	if err != nil {
		t.Fatal(err)
	}
	if rep.N != len(held.Movies) || rep.PosterToIntro.CI == nil || rep.PosterToIntro.MeanRankPercentile < 0.7 {
		t.Errorf("test report n=%d, p2i %+v", rep.N, rep.PosterToIntro)
	}
}

// TestFitKinds fits every setting of a grid on the whole training split:
// each gives heads of its kind, the MLP with its dropout and window.
func TestFitKinds(t *testing.T) {
	d, _ := synthData(t, 80)
	o := smallOptions()
	o.Folds = 2
	r, err := Run(context.Background(), d, o)
	if err != nil {
		t.Fatal(err)
	}
	for _, p := range r.Grid {
		m, _, err := Fit(context.Background(), d, r, p.Setting)
		if err != nil {
			t.Fatalf("%s: %v", p.Setting, err)
		}
		if m.Settings.Heads != p.Heads {
			t.Errorf("%s: fitted %s heads", p.Setting, m.Settings.Heads)
		}
		if p.MLP != nil && (m.Settings.Config.Dropout != p.MLP.Dropout || m.Settings.Config.AverageEpochs != p.MLP.AverageEpochs) {
			t.Errorf("%s: fitted config %+v", p.Setting, m.Settings.Config)
		}
	}
}

func TestRunRefusesBadOptions(t *testing.T) {
	d, _ := synthData(t, 40)
	for _, tc := range []struct {
		name string
		edit func(*Options)
		want string
	}{
		{"no heads", func(o *Options) { o.Heads = nil }, "no head kinds"},
		{"identity heads", func(o *Options) { o.Heads = []string{heads.KindIdentity} }, "cannot be tuned"},
		{"text input", func(o *Options) { o.TextInputs = []string{"lower"} }, `text input "lower"`},
		{"text dim", func(o *Options) { o.TextDims = []int{4} }, "text dimension"},
		{"lambda", func(o *Options) { o.Lambdas = []float64{-1} }, "ridge lambda"},
		{"window", func(o *Options) { o.Windows = []int{99} }, "averaging window 99"},
		{"folds", func(o *Options) { o.Folds = 30 }, "cannot make 30 folds"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			o := smallOptions()
			tc.edit(&o)
			if _, err := Run(context.Background(), d, o); err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Errorf("err %v, want one containing %q", err, tc.want)
			}
		})
	}
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if _, err := Run(ctx, d, smallOptions()); !errors.Is(err, context.Canceled) {
		t.Errorf("cancelled: err %v", err)
	}
}

func TestLoadRefusesDamagedFiles(t *testing.T) {
	dir := t.TempDir()
	good := `{"version":1,"encoder":"builtin","folds":5,"seed":1,"pairs":10,"train_sha256":"x","image_fingerprint":"y","val_fraction":0.1,
"grid":[{"features":{"text_input":"clean","text_dim":64},"heads":"linear","linear":{"lambda":3},"poster_to_intro":{"mean":0.6,"sd":0.01},"intro_to_poster":{"mean":0.6,"sd":0.01},"mean":{"mean":0.6,"sd":0.01},"folds":[0.6]}],
"chosen":{"features":{"text_input":"clean","text_dim":64},"heads":"linear","linear":{"lambda":3},"poster_to_intro":{"mean":0.6,"sd":0.01},"intro_to_poster":{"mean":0.6,"sd":0.01},"mean":{"mean":0.6,"sd":0.01},"folds":[0.6]}}`
	write := func(name, s string) string {
		p := filepath.Join(dir, name)
		if err := os.WriteFile(p, []byte(s), 0o644); err != nil {
			t.Fatal(err)
		}
		return p
	}
	if _, err := Load(write("good.json", good)); err != nil {
		t.Fatalf("good file: %v", err)
	}
	for _, tc := range []struct {
		name, old, new, want string
	}{
		{"version", `"version":1`, `"version":9`, "format version 9"},
		{"lambda", `"lambda":3},"poster`, `"lambda":-3},"poster`, "ridge lambda"},
		{"text dim", `"text_dim":64},"heads":"linear","linear":{"lambda":3},"poster_to_intro":{"mean":0.6,"sd":0.01},"intro_to_poster":{"mean":0.6,"sd":0.01},"mean":{"mean":0.6,"sd":0.01},"folds":[0.6]}}`, `"text_dim":999},"heads":"linear","linear":{"lambda":3},"poster_to_intro":{"mean":0.6,"sd":0.01},"intro_to_poster":{"mean":0.6,"sd":0.01},"mean":{"mean":0.6,"sd":0.01},"folds":[0.6]}}`, "chosen: text dimension"},
		{"score", `"folds":[0.6]}]`, `"folds":[7]}]`, "grid[0]: score 7"},
		{"heads", `"heads":"linear","linear":{"lambda":3},"poster_to_intro":{"mean":0.6,"sd":0.01},"intro_to_poster":{"mean":0.6,"sd":0.01},"mean":{"mean":0.6,"sd":0.01},"folds":[0.6]}}`, `"heads":"mlp","poster_to_intro":{"mean":0.6,"sd":0.01},"intro_to_poster":{"mean":0.6,"sd":0.01},"mean":{"mean":0.6,"sd":0.01},"folds":[0.6]}}`, "mlp heads without"},
		{"json", `"grid"`, `"grid`, "rerun `reelmatch tune`"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if !strings.Contains(good, tc.old) {
				t.Fatalf("fixture lacks %q", tc.old)
			}
			_, err := Load(write(tc.name+".json", strings.Replace(good, tc.old, tc.new, 1)))
			if err == nil || !strings.Contains(err.Error(), tc.want) || !strings.Contains(err.Error(), tc.name+".json") {
				t.Errorf("err %v, want one naming the file and containing %q", err, tc.want)
			}
		})
	}
	if _, err := Load(filepath.Join(dir, "none.json")); !errors.Is(err, ErrNoFile) {
		t.Errorf("missing file: err %v", err)
	}
	if _, err := Load(dir); err == nil || !strings.Contains(err.Error(), "not a regular file") {
		t.Errorf("folder: err %v", err)
	}
}
