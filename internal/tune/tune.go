package tune

import (
	"cmp"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"runtime"
	"slices"
	"sync"

	"github.com/reelmatch/reelmatch/internal/embed"
	"github.com/reelmatch/reelmatch/internal/encoder/builtin"
	"github.com/reelmatch/reelmatch/internal/heads"
	"github.com/reelmatch/reelmatch/internal/reel"
)

// ErrBadOptions is wrapped by Run for a grid it cannot score.
var ErrBadOptions = errors.New("bad tune options")

// Features are the encoder settings a grid point uses. They are set for
// the builtin encoder only (its text tower is refitted per fold); other
// encoders are scored on their cached features and leave them empty.
type Features struct {
	// TextInput is "clean" or "raw" (embed --text-input).
	TextInput string `json:"text_input,omitempty"`
	// TextDim is the number of LSA components kept (embed --text-dim).
	TextDim int `json:"text_dim,omitempty"`
}

// String is the features as grids print them.
func (f Features) String() string {
	if f == (Features{}) {
		return "cached features"
	}
	return fmt.Sprintf("text %s, %d-d", f.TextInput, f.TextDim)
}

// MLPSetting is what the MLP grid varies; everything else is the base
// configuration (Options.MLP).
type MLPSetting struct {
	Dropout       float64 `json:"dropout"`
	AverageEpochs int     `json:"average_epochs"`
}

// Setting is one point of the grid: features and heads.
type Setting struct {
	Features Features `json:"features"`
	// Heads is heads.KindMLP, heads.KindLinear or heads.KindCCA.
	Heads  string              `json:"heads"`
	Linear *heads.LinearConfig `json:"linear,omitempty"`
	MLP    *MLPSetting         `json:"mlp,omitempty"`
}

// String is the setting as grids print it.
func (s Setting) String() string {
	var h string
	switch {
	case s.Linear != nil:
		h = s.Heads + " " + s.Linear.String()
	case s.MLP != nil:
		h = fmt.Sprintf("mlp dropout %g, average %d", s.MLP.Dropout, s.MLP.AverageEpochs)
	default:
		h = s.Heads
	}
	return s.Features.String() + "; " + h
}

// Point is one setting's cross-validated score: the mean rank percentile
// per direction and their mean, as mean ± sd over folds.
type Point struct {
	Setting
	PosterToIntro heads.Stat `json:"poster_to_intro"`
	IntroToPoster heads.Stat `json:"intro_to_poster"`
	Mean          heads.Stat `json:"mean"`
	// Folds holds each fold's mean of both directions.
	Folds []float64 `json:"folds"`
}

// Version is the tune file's format version.
const Version = 1

// Result is what Run found; `reelmatch tune` saves it as the tune file,
// which train, embed and run then follow. It holds nothing measured on
// the test split.
type Result struct {
	Version int    `json:"version"`
	Encoder string `json:"encoder"`
	// Folds, Seed and Pairs describe the cross-validation: Pairs training
	// movies split into Folds folds drawn from Seed.
	Folds int   `json:"folds"`
	Seed  int64 `json:"seed"`
	Pairs int   `json:"pairs"`
	// TrainSHA256 digests the training split the grid was scored on
	// (TrainDigest); a tune file for another training split is stale.
	TrainSHA256 string `json:"train_sha256"`
	// ImageFingerprint identifies the poster features the grid was scored
	// on (and, for encoders without Features, TextFingerprint the intro
	// features).
	ImageFingerprint string `json:"image_fingerprint"`
	TextFingerprint  string `json:"text_fingerprint,omitempty"`
	// MLP is the base MLP configuration the MLP grid varied.
	MLP *heads.Config `json:"mlp,omitempty"`
	// ValFraction is the MLP's validation share of each fold's training part.
	ValFraction float64 `json:"val_fraction"`
	Grid        []Point `json:"grid"`
	// Chosen is the best point of Grid (the first of equals), copied.
	Chosen Point `json:"chosen"`
}

// Data is what the grid is scored on: the training split only.
type Data struct {
	Encoder string
	// Movies are the training movies, Image and Text their cached feature
	// rows in the same order (Text is unused for the builtin encoder, whose
	// intro features are refitted per fold from the movies' texts).
	Movies           []reel.Movie
	Image, Text      [][]float32
	ImageFingerprint string
	TextFingerprint  string
}

// Options are the grid and the cross-validation.
type Options struct {
	Folds int
	Seed  int64
	// Heads lists the head kinds to score, in tie-break order.
	Heads []string
	// TextInputs and TextDims span the builtin encoder's text settings.
	TextInputs []string
	TextDims   []int
	// Lambdas, Shrinks and CCADims span the closed-form heads.
	Lambdas []float64
	Shrinks []float64
	CCADims []int
	// MLP is the base MLP configuration; Dropouts x Windows span its grid
	// (dropout after hidden layers, and the weight-averaging window).
	MLP      heads.Config
	Dropouts []float64
	Windows  []int
	// ValFraction is the share of each fold's training part held out as
	// train holds out its validation slice (it is not scored; the MLP
	// trains on the rest, as `train` does).
	ValFraction float64
	// Step, when set, is called after each unit of work with the units
	// done and the total (for a progress bar).
	Step func(done, total int)
	// Logf, when set, receives a line per stage.
	Logf func(format string, args ...any)
}

// DefaultOptions is the default grid: it runs in a few minutes on 2 cores
// on 2,600 training movies (docs/training.md).
func DefaultOptions() Options {
	return Options{
		Folds:       heads.DefaultFolds,
		Seed:        1,
		Heads:       []string{heads.KindMLP, heads.KindLinear, heads.KindCCA},
		TextInputs:  []string{embed.TextClean, embed.TextRaw},
		TextDims:    []int{32, 64, 96, 128, 192, 256},
		Lambdas:     heads.DefaultRidgeLambdas,
		Shrinks:     heads.DefaultCCAShrinks,
		CCADims:     heads.DefaultCCADims,
		MLP:         heads.DefaultConfig(),
		Dropouts:    []float64{0.1, 0.2},
		Windows:     []int{5, 10, 15, 20},
		ValFraction: 0.1,
	}
}

// isBuiltin reports whether d's intro features are refitted per fold.
func (d *Data) isBuiltin() bool { return d.Encoder == builtin.Name }

// check rejects options that cannot be scored, naming the setting.
func (o *Options) check(d *Data) error {
	bad := func(format string, args ...any) error {
		return fmt.Errorf("%w: %s", ErrBadOptions, fmt.Sprintf(format, args...))
	}
	if len(o.Heads) == 0 {
		return bad("no head kinds to score")
	}
	for _, k := range o.Heads {
		if k != heads.KindMLP && !heads.IsLinearKind(k) {
			return bad("head kind %q cannot be tuned (want mlp, linear or cca)", k)
		}
	}
	if d.isBuiltin() {
		if len(o.TextInputs) == 0 || len(o.TextDims) == 0 {
			return bad("the builtin encoder needs at least one text input and one text dimension")
		}
		for _, in := range o.TextInputs {
			if in != embed.TextClean && in != embed.TextRaw {
				return bad("text input %q (want clean or raw)", in)
			}
		}
		for _, dim := range o.TextDims {
			if err := builtin.TextDimRange.Check(dim); err != nil {
				return bad("text dimension %v", err)
			}
		}
	}
	for _, kind := range o.Heads {
		if !heads.IsLinearKind(kind) {
			continue
		}
		grid := o.linearGrid(kind)
		if len(grid) == 0 {
			return bad("no %s settings", kind)
		}
		for _, c := range grid {
			if err := c.Validate(kind); err != nil {
				return err
			}
		}
	}
	if slices.Contains(o.Heads, heads.KindMLP) {
		if len(o.Dropouts) == 0 || len(o.Windows) == 0 {
			return bad("the mlp grid needs at least one dropout and one averaging window")
		}
		for _, w := range o.Windows {
			if w < 1 || w > o.MLP.Epochs {
				return bad("averaging window %d must be in [1, %d] (the epochs)", w, o.MLP.Epochs)
			}
		}
		for _, p := range o.Dropouts {
			c := o.MLP
			c.Dropout, c.ImageDim, c.TextDim = p, 1, 1
			if err := c.Validate(); err != nil {
				return err
			}
		}
		if o.ValFraction < 0 || o.ValFraction >= 1 {
			return bad("validation fraction %g must be in [0, 1)", o.ValFraction)
		}
	}
	return nil
}

// linearGrid is the grid of one closed-form kind.
func (o *Options) linearGrid(kind string) []heads.LinearConfig {
	switch kind {
	case heads.KindLinear:
		return heads.LinearGrid(kind, o.Lambdas, nil, nil)
	case heads.KindCCA:
		return heads.LinearGrid(kind, nil, o.Shrinks, o.CCADims)
	}
	return nil
}

// featureGrid is the list of feature settings to score.
func (o *Options) featureGrid(d *Data) []Features {
	if !d.isBuiltin() {
		return []Features{{}}
	}
	var out []Features
	for _, in := range o.TextInputs {
		for _, dim := range o.TextDims {
			out = append(out, Features{TextInput: in, TextDim: dim})
		}
	}
	return out
}

// TrainDigest digests the training movies' ids, intros and posters, so a
// tune file can tell whether it was made on the current training split.
func TrainDigest(movies []reel.Movie) string {
	h := sha256.New()
	for _, m := range movies {
		fmt.Fprintf(h, "%d:%s|%s|%s|", len(m.ID), m.ID, m.IntroHash, m.PosterHash)
		c := sha256.Sum256([]byte(m.CleanIntro))
		h.Write(c[:])
	}
	return hex.EncodeToString(h.Sum(nil))
}

// foldData is one fold's rows: the poster side is shared by every text
// setting; texts holds the fitted text tower per text input.
type foldData struct {
	fold     heads.Fold
	trI, vaI [][]float32
	texts    map[string]*builtin.TextFit
}

// textRows returns the fold's training and validation intro features for
// f: the cached rows, or the fold's own builtin fit at f's dimension.
func (fd *foldData) textRows(d *Data, f Features) (tr, va [][]float32, err error) {
	if !d.isBuiltin() {
		return heads.Pick(d.Text, fd.fold.Train), heads.Pick(d.Text, fd.fold.Val), nil
	}
	fit := fd.texts[f.TextInput]
	if tr, err = fit.Encode(movieTexts(d.Movies, fd.fold.Train, f.TextInput), f.TextDim); err != nil {
		return nil, nil, err
	}
	if va, err = fit.Encode(movieTexts(d.Movies, fd.fold.Val, f.TextInput), f.TextDim); err != nil {
		return nil, nil, err
	}
	return tr, va, nil
}

// movieTexts returns the texts the builtin encoder reads for movies[idx].
func movieTexts(movies []reel.Movie, idx []int, input string) []string {
	out := make([]string, len(idx))
	for k, i := range idx {
		out[k] = embed.MovieText(movies[i], input)
	}
	return out
}

// Run scores the grid by cross-validation over d (the training split) and
// returns every point and the chosen one. It reads nothing but d.
func Run(ctx context.Context, d Data, o Options) (*Result, error) {
	if err := o.check(&d); err != nil {
		return nil, err
	}
	n := len(d.Movies)
	if len(d.Image) != n || (!d.isBuiltin() && len(d.Text) != n) {
		return nil, fmt.Errorf("%w: %d training movies but %d poster and %d intro rows", ErrBadOptions, n, len(d.Image), len(d.Text))
	}
	folds, err := heads.KFold(n, o.Folds, o.Seed)
	if err != nil {
		return nil, err
	}
	feats := o.featureGrid(&d)
	var linearKinds []string
	for _, k := range o.Heads {
		if heads.IsLinearKind(k) {
			linearKinds = append(linearKinds, k)
		}
	}
	mlp := slices.Contains(o.Heads, heads.KindMLP)
	inputs := 1
	if d.isBuiltin() {
		inputs = len(o.TextInputs)
	}
	total := len(folds) * inputs
	if mlp {
		total += len(folds) * len(o.Dropouts)
	}
	var mu sync.Mutex
	done := 0
	step := func() {
		mu.Lock()
		defer mu.Unlock()
		done++
		if o.Step != nil {
			o.Step(done, total)
		}
	}
	logf := func(format string, args ...any) {
		if o.Logf != nil {
			o.Logf(format, args...)
		}
	}

	// Stage 1: every feature setting with the closed-form heads, folds in
	// parallel (gonum is single-threaded).
	fds := make([]*foldData, len(folds))
	type key struct {
		f    Features
		kind string
		c    heads.LinearConfig
	}
	linScores := make([]map[key]heads.Score, len(folds))
	linearPoints := 0
	for _, k := range linearKinds {
		linearPoints += len(o.linearGrid(k))
	}
	logf("tune: %d folds of %d training movies; %d feature setting(s) x %d closed-form head setting(s)",
		len(folds), n, len(feats), linearPoints)
	gctx, cancel := context.WithCancel(ctx)
	defer cancel()
	scoreFold := func(fi int, f heads.Fold) error {
		fd := &foldData{fold: f, trI: heads.Pick(d.Image, f.Train), vaI: heads.Pick(d.Image, f.Val), texts: map[string]*builtin.TextFit{}}
		fds[fi] = fd
		linScores[fi] = map[key]heads.Score{}
		side, err := heads.NewPosterSide(fd.trI)
		if err != nil {
			return err
		}
		for ii := range inputs {
			if err := gctx.Err(); err != nil {
				return err
			}
			var in string
			if d.isBuiltin() {
				in = o.TextInputs[ii]
				fit, err := builtin.FitText(gctx, movieTexts(d.Movies, f.Train, in))
				if err != nil {
					return fmt.Errorf("fold %d: %w", fi+1, err)
				}
				fd.texts[in] = fit
			}
			for _, ft := range feats {
				if ft.TextInput != in {
					continue
				}
				trT, vaT, err := fd.textRows(&d, ft)
				if err != nil {
					return err
				}
				for _, kind := range linearKinds {
					fits := map[float64]*heads.LinearFit{}
					for _, c := range o.linearGrid(kind) {
						if err := gctx.Err(); err != nil {
							return err
						}
						fit, ok := fits[c.Shrink]
						if !ok {
							if fit, err = side.Fit(kind, trT, c.Shrink); err != nil {
								return fmt.Errorf("fold %d, %s: %w", fi+1, ft, err)
							}
							fits[c.Shrink] = fit
						}
						m, err := fit.Model(c)
						if err != nil {
							return err
						}
						s, err := heads.ScorePairs(m, fd.vaI, vaT)
						if err != nil {
							return err
						}
						linScores[fi][key{ft, kind, c}] = s
					}
				}
			}
			step()
		}
		return nil
	}
	errs := make([]error, len(folds))
	sem := make(chan struct{}, runtime.GOMAXPROCS(0))
	var wg sync.WaitGroup
	for fi, f := range folds {
		wg.Go(func() {
			sem <- struct{}{}
			defer func() { <-sem }()
			if errs[fi] = scoreFold(fi, f); errs[fi] != nil {
				cancel()
			}
		})
	}
	wg.Wait()
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	for _, err := range errs {
		if err != nil && !errors.Is(err, context.Canceled) {
			return nil, err
		}
	}

	res := &Result{Version: Version, Encoder: d.Encoder, Folds: o.Folds, Seed: o.Seed, Pairs: n,
		TrainSHA256: TrainDigest(d.Movies), ImageFingerprint: d.ImageFingerprint, ValFraction: o.ValFraction}
	if !d.isBuiltin() {
		res.TextFingerprint = d.TextFingerprint
	}
	foldScores := func(get func(fi int) heads.Score) []heads.Score {
		out := make([]heads.Score, len(folds))
		for fi := range folds {
			out[fi] = get(fi)
		}
		return out
	}
	for _, ft := range feats {
		for _, kind := range linearKinds {
			for _, c := range o.linearGrid(kind) {
				lc := c
				res.Grid = append(res.Grid, point(Setting{Features: ft, Heads: kind, Linear: &lc},
					foldScores(func(fi int) heads.Score { return linScores[fi][key{ft, kind, c}] })))
			}
		}
	}

	// Stage 2: the MLP grid on the features the closed-form heads liked
	// best (the encoder's defaults when none were scored).
	if mlp {
		ft := feats[0]
		if d.isBuiltin() {
			ft = Features{TextInput: embed.TextClean, TextDim: builtin.DefaultTextDim}
		}
		if len(res.Grid) > 0 {
			ft = res.Grid[best(res.Grid)].Features
		}
		logf("tune: mlp grid (%d dropout(s) x %d averaging window(s)) on %s", len(o.Dropouts), len(o.Windows), ft)
		mlpScores := make([][][]heads.Score, len(o.Dropouts)) // [dropout][window][fold]
		for di := range o.Dropouts {
			mlpScores[di] = make([][]heads.Score, len(o.Windows))
		}
		for fi, fd := range fds {
			trT, vaT, err := fd.textRows(&d, ft)
			if err != nil {
				return nil, err
			}
			keep, _, err := heads.SplitValidation(len(fd.fold.Train), o.ValFraction, o.MLP.Seed)
			if err != nil {
				return nil, err
			}
			trI, trT := heads.Pick(fd.trI, keep), heads.Pick(trT, keep)
			for di, p := range o.Dropouts {
				cfg := o.MLP
				cfg.Dropout = p
				models, err := heads.TrainWindows(ctx, trI, trT, cfg, o.Windows, heads.TrainOptions{})
				if err != nil {
					return nil, fmt.Errorf("fold %d, mlp dropout %g: %w", fi+1, p, err)
				}
				for wi, m := range models {
					s, err := heads.ScorePairs(m, fd.vaI, vaT)
					if err != nil {
						return nil, err
					}
					mlpScores[di][wi] = append(mlpScores[di][wi], s)
				}
				step()
			}
		}
		base := o.MLP
		res.MLP = &base
		for di, p := range o.Dropouts {
			for wi, w := range o.Windows {
				res.Grid = append(res.Grid, point(Setting{Features: ft, Heads: heads.KindMLP, MLP: &MLPSetting{Dropout: p, AverageEpochs: w}}, mlpScores[di][wi]))
			}
		}
	}
	res.Chosen = res.Grid[bestByKind(res.Grid, o.Heads)]
	return res, nil
}

// point summarises one setting's fold scores.
func point(s Setting, scores []heads.Score) Point {
	var p2i, i2p, mean []float64
	for _, x := range scores {
		p2i, i2p, mean = append(p2i, x.PosterToIntro), append(i2p, x.IntroToPoster), append(mean, x.Mean)
	}
	return Point{Setting: s, PosterToIntro: heads.StatOf(p2i), IntroToPoster: heads.StatOf(i2p), Mean: heads.StatOf(mean), Folds: mean}
}

// best is the index of the point with the highest mean (the first of
// equals).
func best(grid []Point) int {
	b := 0
	for i, p := range grid {
		if p.Mean.Mean > grid[b].Mean.Mean {
			b = i
		}
	}
	return b
}

// bestByKind is best, with ties broken by the order of kinds (then grid
// order).
func bestByKind(grid []Point, kinds []string) int {
	b := 0
	rank := func(p Point) int { return cmp.Or(slices.Index(kinds, p.Heads)+1, len(kinds)+1) }
	for i, p := range grid {
		if p.Mean.Mean > grid[b].Mean.Mean || (p.Mean.Mean == grid[b].Mean.Mean && rank(p) < rank(grid[b])) {
			b = i
		}
	}
	return b
}
