package heads

import (
	"context"
	"errors"
	"fmt"
	"math"
	"math/rand/v2"
	"slices"
	"time"

	"github.com/reelmatch/reelmatch/internal/metrics"
	"github.com/reelmatch/reelmatch/internal/vecmath"
)

// Pairs are matching rows of poster and intro features: Img[i] goes with
// Txt[i].
type Pairs struct {
	Img, Txt [][]float32
}

// TrainOptions observe a training run; they do not change its result.
type TrainOptions struct {
	// OnBatch, when set, is called after every training step with the steps
	// done and the steps per epoch (for a progress bar).
	OnBatch func(done, total int)
	// OnEpoch, when set, is called after every epoch with its statistics.
	OnEpoch func(EpochStats)
}

// ValMetrics are the validation scores of one epoch, computed in eval mode
// on the validation pairs (taken from the training split, never the test
// split).
type ValMetrics struct {
	// Loss is the contrastive loss over consecutive batches of BatchSize
	// validation pairs, averaged, so it is comparable with the training loss.
	Loss float64 `json:"loss"`
	// MeanRankPercentile and R10 are per direction (metrics conventions).
	PosterToIntroMRP float64 `json:"poster_to_intro_mean_rank_percentile"`
	IntroToPosterMRP float64 `json:"intro_to_poster_mean_rank_percentile"`
	PosterToIntroR10 float64 `json:"poster_to_intro_r10"`
	IntroToPosterR10 float64 `json:"intro_to_poster_r10"`
	// Score is the mean of the two mean rank percentiles: the early-stopping
	// criterion, chance 0.5.
	Score float64 `json:"score"`
}

// EpochStats is one epoch of History.
type EpochStats struct {
	Epoch       int         `json:"epoch"` // 1-based
	LR          float64     `json:"lr"`
	TrainLoss   float64     `json:"train_loss"` // mean over the epoch's batches, training mode
	Temperature float64     `json:"temperature"`
	Val         *ValMetrics `json:"val,omitempty"`
	Seconds     float64     `json:"seconds"`
}

// History is the per-epoch record of a training run.
type History struct {
	Epochs []EpochStats `json:"epochs"`
	// BestEpoch (1-based) is the epoch whose weights were kept; with
	// weight averaging, the last epoch averaged.
	BestEpoch int `json:"best_epoch"`
	// AverageFrom (1-based) is the first epoch averaged into the kept
	// weights (Config.AverageEpochs); 0 without averaging.
	AverageFrom int `json:"average_from,omitempty"`
	// Kept is the validation score of the kept weights, when there was
	// validation.
	Kept *ValMetrics `json:"kept,omitempty"`
	// StoppedEarly says patience ran out before Config.Epochs.
	StoppedEarly bool `json:"stopped_early"`
}

// ErrNoPairs is returned by Train when there is nothing to train on.
var ErrNoPairs = errors.New("no training pairs")

// ErrDiverged is returned by Train when the loss or the kept weights are
// not finite numbers.
var ErrDiverged = errors.New("training diverged")

// Train fits both heads on matching rows imgTrain[i], txtTrain[i] with CLIP's
// loss and Adam, one StepLR step per epoch. With cfg.AverageEpochs above 1
// the kept weights are the mean of the last AverageEpochs epochs'; otherwise
// the best epoch's by validation mean rank percentile (the last without val
// pairs). With val pairs every epoch is scored on them, and cfg.Patience
// stops early. With cfg.PreciseBN the BatchNorm statistics of every scored
// epoch and of the kept weights are recomputed over the training pairs.
// Input sizes come from the data. The returned Model's Settings hold cfg and
// the epoch counts; callers add the encoder and fingerprint before Save.
func Train(ctx context.Context, imgTrain, txtTrain [][]float32, val *Pairs, cfg Config, opts TrainOptions) (*Model, *History, error) {
	m, h, _, err := train(ctx, imgTrain, txtTrain, val, cfg, opts, nil)
	return m, h, err
}

// TrainWindows trains once on imgTrain, txtTrain without validation pairs
// and returns one model per averaging window: models[i] is exactly the
// model Train would return with cfg.AverageEpochs = windows[i] (the mean
// of the last windows[i] epochs' weights, BatchNorm statistics recomputed
// with cfg.PreciseBN, standardisation folded in). A window longer than the
// run averages every epoch. The training trajectory does not depend on the
// window, so `reelmatch tune` scores several windows for the price of one
// run. Windows must be at least 1.
func TrainWindows(ctx context.Context, imgTrain, txtTrain [][]float32, cfg Config, windows []int, opts TrainOptions) ([]*Model, error) {
	if len(windows) == 0 {
		return nil, fmt.Errorf("%w: no averaging windows", ErrBadConfig)
	}
	for _, w := range windows {
		if w < 1 {
			return nil, fmt.Errorf("%w: averaging window %d must be at least 1", ErrBadConfig, w)
		}
	}
	cfg.AverageEpochs = slices.Max(windows)
	if cfg.AverageEpochs == 1 {
		cfg.AverageEpochs = 2 // keep the averaging path; a window of one is the last epoch
	}
	_, _, models, err := train(ctx, imgTrain, txtTrain, nil, cfg, opts, windows)
	return models, err
}

// train is Train, plus one model per window in windows (see TrainWindows).
func train(ctx context.Context, imgTrain, txtTrain [][]float32, val *Pairs, cfg Config, opts TrainOptions, windows []int) (*Model, *History, []*Model, error) {
	if err := checkPairs("training", imgTrain, txtTrain); err != nil {
		return nil, nil, nil, err
	}
	cfg.ImageDim, cfg.TextDim = len(imgTrain[0]), len(txtTrain[0])
	if len(imgTrain) < 2 {
		return nil, nil, nil, fmt.Errorf("%w: one pair cannot train a contrastive loss, need at least 2", ErrNoPairs)
	}
	if err := cfg.Validate(); err != nil {
		return nil, nil, nil, err
	}
	if val != nil && len(val.Img) == 0 && len(val.Txt) == 0 {
		val = nil
	}
	if val != nil {
		if err := checkPairs("validation", val.Img, val.Txt); err != nil {
			return nil, nil, nil, err
		}
		if len(val.Img[0]) != cfg.ImageDim || len(val.Txt[0]) != cfg.TextDim {
			return nil, nil, nil, fmt.Errorf("validation features are %d/%d-d, training features %d/%d-d",
				len(val.Img[0]), len(val.Txt[0]), cfg.ImageDim, cfg.TextDim)
		}
	}

	var imgStd, txtStd *standardizer
	if cfg.Standardize {
		imgStd, txtStd = newStandardizer(imgTrain), newStandardizer(txtTrain)
		imgTrain, txtTrain = imgStd.apply(imgTrain), txtStd.apply(txtTrain)
		if val != nil {
			val = &Pairs{Img: imgStd.apply(val.Img), Txt: txtStd.apply(val.Txt)}
		}
	}

	tr, err := newTrainer(cfg, newWeights(cfg, cfg.Seed))
	if err != nil {
		return nil, nil, nil, err
	}
	defer tr.close()

	n := len(imgTrain)
	batch := min(cfg.BatchSize, n)
	steps := n / batch // drop_last: see Config.BatchSize
	averaging := cfg.AverageEpochs > 1
	shuffle := rand.New(rand.NewPCG(uint64(cfg.Seed), 0x5487_ff1e))
	perm := make([]int, n)
	for i := range perm {
		perm[i] = i
	}
	imgBuf := make([]float32, batch*cfg.ImageDim)
	txtBuf := make([]float32, batch*cfg.TextDim)

	hist := &History{}
	var best *weights
	var recent []*weights // the last AverageEpochs epochs' weights, oldest first
	bestScore, sinceBest := math.Inf(-1), 0
	for epoch := range cfg.Epochs {
		if err := ctx.Err(); err != nil {
			return nil, nil, nil, err
		}
		start := time.Now()
		lr := cfg.lrAt(epoch)
		if err := tr.setLR(lr); err != nil {
			return nil, nil, nil, fmt.Errorf("set learning rate: %w", err)
		}
		shuffle.Shuffle(n, func(i, j int) { perm[i], perm[j] = perm[j], perm[i] })
		var lossSum float64
		for s := range steps {
			if err := ctx.Err(); err != nil {
				return nil, nil, nil, err
			}
			for k, idx := range perm[s*batch : (s+1)*batch] {
				copy(imgBuf[k*cfg.ImageDim:], imgTrain[idx])
				copy(txtBuf[k*cfg.TextDim:], txtTrain[idx])
			}
			loss, err := tr.trainStep(imgBuf, txtBuf, batch)
			if err != nil {
				return nil, nil, nil, fmt.Errorf("epoch %d: %w", epoch+1, err)
			}
			lossSum += float64(loss)
			if opts.OnBatch != nil {
				opts.OnBatch(s+1, steps)
			}
		}
		w, err := tr.weights()
		if err != nil {
			return nil, nil, nil, err
		}
		if averaging {
			if len(recent) == cfg.AverageEpochs {
				recent = recent[1:]
			}
			recent = append(recent, w)
		}
		st := EpochStats{Epoch: epoch + 1, LR: lr, TrainLoss: lossSum / float64(steps),
			Temperature: math.Exp(-float64(w.LogitScale))}
		// Score and keep the epoch as it would be saved.
		if cfg.PreciseBN && (val != nil || !averaging) {
			w = w.clone()
			w.preciseBN(imgTrain, txtTrain)
		}
		if val != nil {
			if st.Val, err = validate(cfg, w, val); err != nil {
				return nil, nil, nil, fmt.Errorf("epoch %d: validate: %w", epoch+1, err)
			}
		}
		st.Seconds = time.Since(start).Seconds()
		hist.Epochs = append(hist.Epochs, st)
		if opts.OnEpoch != nil {
			opts.OnEpoch(st)
		}
		// Keep the best epoch by validation score; without validation, the last.
		if st.Val == nil || st.Val.Score > bestScore {
			if !averaging {
				best, hist.BestEpoch = w, epoch+1
			}
			sinceBest = 0
			if st.Val != nil {
				bestScore = st.Val.Score
			}
		} else if sinceBest++; cfg.Patience > 0 && sinceBest >= cfg.Patience {
			hist.StoppedEarly = true
			break
		}
	}
	var kept *ValMetrics
	if averaging {
		best = averageWeights(recent)
		if cfg.PreciseBN {
			best.preciseBN(imgTrain, txtTrain)
		}
		hist.BestEpoch = len(hist.Epochs)
		hist.AverageFrom = hist.BestEpoch - len(recent) + 1
		if val != nil {
			var err error
			if kept, err = validate(cfg, best, val); err != nil {
				return nil, nil, nil, fmt.Errorf("validate the averaged weights: %w", err)
			}
		}
	} else if val != nil {
		kept = hist.Epochs[hist.BestEpoch-1].Val
	}
	hist.Kept = kept

	// The windows' models, built like best above before folding.
	var extra []*Model
	for _, w := range windows {
		ws := recent[max(0, len(recent)-w):]
		avg := averageWeights(ws)
		if cfg.PreciseBN {
			avg.preciseBN(imgTrain, txtTrain)
		}
		if cfg.Standardize {
			imgStd.fold(&avg.Img.Linears[0])
			txtStd.fold(&avg.Txt.Linears[0])
		}
		wc := cfg
		wc.AverageEpochs = w
		em := newModel(wc, avg)
		em.Settings.TrainPairs = n
		em.Settings.EpochsRun = len(hist.Epochs)
		em.Settings.BestEpoch = len(hist.Epochs)
		em.Settings.AverageFrom = len(hist.Epochs) - len(ws) + 1
		extra = append(extra, em)
	}

	if cfg.Standardize {
		imgStd.fold(&best.Img.Linears[0])
		txtStd.fold(&best.Txt.Linears[0])
	}
	if err := best.check(); err != nil {
		return nil, nil, nil, fmt.Errorf("%w: the kept weights are not finite (%w): lower the learning rate or check the features", ErrDiverged, err)
	}
	m := newModel(cfg, best)
	m.Settings.TrainPairs = n
	m.Settings.EpochsRun = len(hist.Epochs)
	m.Settings.BestEpoch = hist.BestEpoch
	m.Settings.AverageFrom = hist.AverageFrom
	if val != nil {
		m.Settings.ValPairs = len(val.Img)
		m.Settings.Validation = kept
	}
	return m, hist, extra, nil
}

// standardizer shifts and scales each feature to zero mean and unit
// variance.
type standardizer struct {
	mean, scale []float64 // scale = 1/std (1 for constant features)
}

func newStandardizer(rows [][]float32) *standardizer {
	dim := len(rows[0])
	s := &standardizer{mean: make([]float64, dim), scale: make([]float64, dim)}
	for _, r := range rows {
		for j, v := range r {
			s.mean[j] += float64(v)
		}
	}
	for j := range s.mean {
		s.mean[j] /= float64(len(rows))
	}
	variance := make([]float64, dim)
	for _, r := range rows {
		for j, v := range r {
			d := float64(v) - s.mean[j]
			variance[j] += d * d
		}
	}
	for j := range variance {
		std := math.Sqrt(variance[j] / float64(len(rows)))
		s.scale[j] = 1
		if std > 1e-8 {
			s.scale[j] = 1 / std
		}
	}
	return s
}

func (s *standardizer) apply(rows [][]float32) [][]float32 {
	out := make([][]float32, len(rows))
	for i, r := range rows {
		o := make([]float32, len(r))
		for j, v := range r {
			o[j] = float32((float64(v) - s.mean[j]) * s.scale[j])
		}
		out[i] = o
	}
	return out
}

// fold rewrites l, trained on standardised input, to take raw input:
// W((x-μ)·k) + b = (W·k)x + (b - W(μ·k)).
func (s *standardizer) fold(l *linear) {
	for o := range l.Out {
		row := l.W[o*l.In : (o+1)*l.In]
		shift := float64(l.B[o])
		for j := range row {
			w := float64(row[j]) * s.scale[j]
			shift -= w * s.mean[j]
			row[j] = float32(w)
		}
		l.B[o] = float32(shift)
	}
}

// checkPairs rejects empty, unequal or ragged feature sets, naming the
// first bad row.
func checkPairs(what string, img, txt [][]float32) error {
	if len(img) == 0 || len(txt) == 0 {
		return fmt.Errorf("%w: the %s split is empty", ErrNoPairs, what)
	}
	if len(img) != len(txt) {
		return fmt.Errorf("%s pairs: %d poster rows but %d intro rows", what, len(img), len(txt))
	}
	for side, rows := range map[string][][]float32{"poster": img, "intro": txt} {
		dim := len(rows[0])
		if dim == 0 {
			return fmt.Errorf("%s %s features are empty", what, side)
		}
		for i, r := range rows {
			if len(r) != dim {
				return fmt.Errorf("%s %s features row %d: %d values, row 0 has %d", what, side, i, len(r), dim)
			}
			if j := vecmath.FirstNonFinite(r); j >= 0 {
				return fmt.Errorf("%s %s features row %d: value %d is %v", what, side, i, j, r[j])
			}
		}
	}
	return nil
}

func flatten(rows [][]float32) []float32 {
	if len(rows) == 0 {
		return nil
	}
	out := make([]float32, 0, len(rows)*len(rows[0]))
	for _, r := range rows {
		out = append(out, r...)
	}
	return out
}

// validate scores weights w (taking standardised features when the heads
// are) on the validation pairs with the inference code of eval, search and
// serve (Model.Project), so the score is that of the heads as saved.
func validate(cfg Config, w *weights, val *Pairs) (*ValMetrics, error) {
	ra, rb, err := newModel(cfg, w).Project(val.Img, val.Txt)
	if err != nil {
		return nil, err
	}
	rep := metrics.Evaluate(metrics.Distance(ra, rb))
	v := &ValMetrics{
		Loss:             batchedLoss(ra, rb, cfg.BatchSize, logitScaleFactor(cfg, w.LogitScale)),
		PosterToIntroMRP: rep.PosterToIntro.MeanRankPercentile,
		IntroToPosterMRP: rep.IntroToPoster.MeanRankPercentile,
		PosterToIntroR10: rep.PosterToIntro.R10,
		IntroToPosterR10: rep.IntroToPoster.R10,
	}
	v.Score = (v.PosterToIntroMRP + v.IntroToPosterMRP) / 2
	return v, nil
}

// logitScaleFactor is the logit multiplier 1/τ in force.
func logitScaleFactor(cfg Config, logitScale float32) float64 {
	if cfg.LearnTemperature {
		return math.Exp(float64(logitScale))
	}
	return 1 / cfg.Temperature
}

func unflattenRows(flat []float32, n int) [][]float32 {
	dim := len(flat) / n
	rows := make([][]float32, n)
	for i := range rows {
		rows[i] = flat[i*dim : (i+1)*dim : (i+1)*dim]
	}
	return rows
}

// batchedLoss is clipLoss in plain Go over consecutive batches of unit
// rows a, b, averaged over batches (a last batch of one pair is skipped: its
// loss is always 0).
func batchedLoss(a, b [][]float32, batch int, scale float64) float64 {
	var sum float64
	var count int
	for s := 0; s < len(a); s += batch {
		e := min(s+batch, len(a))
		if e-s < 2 {
			continue
		}
		sum += clipLossRows(a[s:e], b[s:e], scale)
		count++
	}
	if count == 0 {
		return 0
	}
	return sum / float64(count)
}

func clipLossRows(a, b [][]float32, scale float64) float64 {
	n := len(a)
	logits := make([]float64, n*n)
	for i := range n {
		for j := range n {
			var d float64
			for k := range a[i] {
				d += float64(a[i][k]) * float64(b[j][k])
			}
			logits[i*n+j] = d * scale
		}
	}
	lse := func(at func(k int) float64) float64 {
		m := math.Inf(-1)
		for k := range n {
			m = math.Max(m, at(k))
		}
		var s float64
		for k := range n {
			s += math.Exp(at(k) - m)
		}
		return m + math.Log(s)
	}
	var rows, cols float64
	for i := range n {
		rows += lse(func(k int) float64 { return logits[i*n+k] }) - logits[i*n+i]
		cols += lse(func(k int) float64 { return logits[k*n+i] }) - logits[i*n+i]
	}
	return (rows + cols) / (2 * float64(n))
}

// SplitValidation picks round(fraction*n) of n training rows, at random
// from seed, for validation, and returns the other indices and the picked
// ones, each in increasing order. A fraction of 0 gives no validation.
func SplitValidation(n int, fraction float64, seed int64) (train, val []int, err error) {
	if err := ValFractionRange.Check(fraction); err != nil {
		return nil, nil, fmt.Errorf("%w: val-fraction %w", ErrBadConfig, err)
	}
	k := int(math.Round(fraction * float64(n)))
	if fraction > 0 && n >= 4 {
		k = max(k, 2) // a contrastive score needs at least two pairs
	}
	if fraction == 0 || n-k < 2 {
		k = 0
	}
	rng := rand.New(rand.NewPCG(uint64(seed), 0x0a1_5b17))
	picked := make([]bool, n)
	for _, i := range rng.Perm(n)[:k] {
		picked[i] = true
	}
	for i := range n {
		if picked[i] {
			val = append(val, i)
		} else {
			train = append(train, i)
		}
	}
	return train, val, nil
}

// ShufflePairs returns rows in an order drawn from seed, breaking the
// pairing with the other side: the `--shuffle-pairs` control, under which
// held-out retrieval must fall to chance.
func ShufflePairs(rows [][]float32, seed int64) [][]float32 {
	rng := rand.New(rand.NewPCG(uint64(seed), 0x5_4ff1e))
	out := make([][]float32, len(rows))
	for i, j := range rng.Perm(len(rows)) {
		out[i] = rows[j]
	}
	return out
}
