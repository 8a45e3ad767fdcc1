package report

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"math"
	"math/rand/v2"
	"path/filepath"
	"slices"
	"strings"
	"time"

	"github.com/reelmatch/reelmatch/internal/atomicfile"
	"github.com/reelmatch/reelmatch/internal/dataset"
	"github.com/reelmatch/reelmatch/internal/evalrun"
	"github.com/reelmatch/reelmatch/internal/heads"
	"github.com/reelmatch/reelmatch/internal/inputfile"
	"github.com/reelmatch/reelmatch/internal/metrics"
	"github.com/reelmatch/reelmatch/internal/reel"
	"github.com/reelmatch/reelmatch/internal/search"
	"github.com/reelmatch/reelmatch/internal/vecmath"
	"github.com/reelmatch/reelmatch/internal/workdir"
)

// exampleHits is how many neighbours each example lists: the seed's
// qualitative study shows the top 5.
const exampleHits = 5

// Options say what Build puts in the report and where its notes go.
type Options struct {
	// Examples is the number of posters, and as many intros, in each run's
	// qualitative study (0 for none).
	Examples int
	// Seed draws the examples and the heat-map sample.
	Seed int64
	// HeatmapSize is the number of held-out movies in the distance heat
	// map (0 for none).
	HeatmapSize int

	// Notef prints a notice (a split evaluated in memory); nil drops it.
	Notef func(format string, args ...any)
	// Warnf prints a warning (a poster left out); nil drops it.
	Warnf func(format string, args ...any)
	// Debugf prints detail for -v; nil drops it.
	Debugf func(format string, args ...any)
}

func (o Options) notef(format string, args ...any) {
	if o.Notef != nil {
		o.Notef(format, args...)
	}
}

func (o Options) warnf(format string, args ...any) {
	if o.Warnf != nil {
		o.Warnf(format, args...)
	}
}

func (o Options) debugf(format string, args ...any) {
	if o.Debugf != nil {
		o.Debugf(format, args...)
	}
}

// Written describes a report WriteFile wrote.
type Written struct {
	Out   string
	Bytes int
	Runs  []string
}

// WriteFile builds the report of the named runs of work (Build), renders
// it and writes it to out atomically.
func WriteFile(ctx context.Context, work workdir.Dir, runs []string, out string, opts Options) (*Written, error) {
	d, err := Build(ctx, work, runs, opts)
	if err != nil {
		return nil, err
	}
	var buf bytes.Buffer
	if err := Render(&buf, *d); err != nil {
		return nil, err
	}
	if err := atomicfile.WriteFile(out, buf.Bytes(), 0o644); err != nil {
		return nil, fmt.Errorf("write report: %w", err)
	}
	w := &Written{Out: out, Bytes: buf.Len()}
	for _, r := range d.Runs {
		w.Runs = append(w.Runs, r.Encoder)
	}
	return w, nil
}

// Build fills Data from a WORK folder: its manifest and the named runs
// (folders of WORK/runs), in the order given. Ranks come from the saved
// distance matrix and metrics from the saved eval json when they still
// describe the run; otherwise the split is evaluated in memory and a notice
// says so. Nothing in WORK is written.
func Build(ctx context.Context, work workdir.Dir, names []string, opts Options) (*Data, error) {
	man, err := dataset.Load(work.Manifest())
	if err != nil {
		return nil, err
	}
	if len(names) == 0 {
		return nil, fmt.Errorf("%w in %s: run `reelmatch train --work %s --encoder NAME` first", evalrun.ErrNoRun, work, work)
	}
	abs, err := filepath.Abs(string(work))
	if err != nil {
		abs = string(work)
	}
	d := &Data{
		Generated: time.Now(),
		WorkDir:   abs,
		Movies:    len(man.Movies),
		Train:     len(man.Split(reel.SplitTrain)),
		Test:      len(man.Split(reel.SplitTest)),
		Settings: map[string]string{
			"runs":         strings.Join(names, ", "),
			"examples":     fmt.Sprint(opts.Examples),
			"seed":         fmt.Sprint(opts.Seed),
			"heatmap size": fmt.Sprint(opts.HeatmapSize),
		},
	}
	opts.debugf("report: work=%s runs=%v examples=%d seed=%d heatmap-size=%d", work, names, opts.Examples, opts.Seed, opts.HeatmapSize)
	b := &builder{work: work, opts: opts, thumbs: map[reel.MovieID][]byte{}}
	for _, name := range names {
		if err := ctx.Err(); err != nil {
			return nil, err
		}
		run, settings, err := b.run(name)
		if err != nil {
			return nil, fmt.Errorf("report on run %s: %w", name, err)
		}
		d.Runs = append(d.Runs, run)
		for k, v := range settings {
			d.Settings[name+" "+k] = v
		}
	}
	if err := b.compare(d, b.encoder); err != nil {
		return nil, fmt.Errorf("report: compare runs: %w", err)
	}
	d.Leaks = dataset.FindLeaks(man.Movies)
	return d, nil
}

// builder fills Runs from one WORK folder, sharing poster thumbnails
// between runs.
type builder struct {
	work   workdir.Dir
	opts   Options
	thumbs map[reel.MovieID][]byte
	// encoder is the first run's encoder, whose runs compare puts side by
	// side.
	encoder string
	// splits memoises split by run and split name, so the comparison does
	// not evaluate (or note) a split twice.
	splits map[[2]string]splitOut
}

// splitOut is what split returns.
type splitOut struct {
	s   *Split
	res *evalrun.Result
	ids []reel.MovieID
	D   [][]float32
}

// run builds one run's section and returns the settings to list for it.
func (b *builder) run(name string) (Run, map[string]string, error) {
	space, err := evalrun.Load(b.work, name)
	if err != nil {
		return Run{}, nil, err
	}
	run := Run{Encoder: name, Heads: space.Heads.Settings.Heads}
	if b.encoder == "" {
		b.encoder = space.Encoder
	}
	var testD [][]float32
	var testIDs []reel.MovieID
	for _, split := range []string{evalrun.SplitTest, evalrun.SplitAll} {
		s, _, ids, D, err := b.split(space, split)
		if err != nil {
			return Run{}, nil, err
		}
		if s == nil {
			continue
		}
		run.Splits = append(run.Splits, *s)
		if split == evalrun.SplitTest {
			testIDs, testD = ids, D
		}
	}
	if run.Epochs, err = readEpochs(b.work.History(name)); err != nil {
		return Run{}, nil, err
	}
	if len(run.Epochs) == 0 {
		b.opts.debugf("report: %s has no %s: no loss curve", name, filepath.Base(b.work.History(name)))
	}
	if len(testIDs) > 0 {
		if err := b.examples(&run, space); err != nil {
			return Run{}, nil, err
		}
		run.Heatmap, run.HeatmapNames = heatmapSample(space, testIDs, testD, b.opts.HeatmapSize, b.opts.Seed)
		run.Distances = pairDistances(testD)
	}
	st := space.Heads.Settings
	settings := map[string]string{"encoder": space.Encoder, "heads": st.Heads}
	if t := st.Tuned; t != nil {
		settings["tuned"] = fmt.Sprintf("settings chosen by reelmatch tune (WORK/%s): %d-fold cross-validation on the training split, mean rank pct %.3f ± %.3f over folds",
			t.File, t.Folds, t.Mean.Mean, t.Mean.SD)
	}
	if l, cv := st.Linear, st.CV; l != nil && cv != nil && cv.Chosen < len(cv.Grid) {
		p := cv.Grid[cv.Chosen]
		settings["heads config"] = fmt.Sprintf("%s, chosen among %d by %d-fold cross-validation on the %d training pairs (mean rank pct %.3f ± %.3f over folds)",
			l, len(cv.Grid), cv.Folds, cv.Pairs, p.Mean.Mean, p.Mean.SD)
	} else if l != nil {
		settings["heads config"] = l.String()
	} else if !space.Heads.IsIdentity() {
		cfg, _ := json.Marshal(st.Config)
		settings["heads config"] = string(cfg)
		kept := fmt.Sprintf("kept the weights of epoch %d", st.BestEpoch)
		if st.AverageFrom > 0 && st.AverageFrom < st.BestEpoch {
			kept = fmt.Sprintf("kept the mean of the weights of epochs %d-%d", st.AverageFrom, st.BestEpoch)
		}
		settings["training"] = fmt.Sprintf("%d train pairs, %d validation pairs, %d epochs run, %s", st.TrainPairs, st.ValPairs, st.EpochsRun, kept)
	}
	if fi := space.Features; fi != nil {
		settings["features"] = fmt.Sprintf("text input %s, fingerprint %.12s", fi.TextInput, fi.Fingerprint)
	}
	return run, settings, nil
}

// split returns one split's metrics and ranks, the evaluation they come
// from, and the ids and D behind them; nil when the split has no movies. The saved distance matrix is used
// when it still describes the run (same movies, and its diagonal matches the
// current heads), the saved eval json when its scores agree with that
// matrix (it may carry bootstrap intervals); anything else is recomputed in
// memory and noted. Nothing in WORK is rewritten.
func (b *builder) split(space *evalrun.Space, split string) (*Split, *evalrun.Result, []reel.MovieID, [][]float32, error) {
	key := [2]string{space.Run, split}
	if o, ok := b.splits[key]; ok {
		return o.s, o.res, o.ids, o.D, nil
	}
	s, res, ids, D, err := b.evalSplit(space, split)
	if err != nil {
		return nil, nil, nil, nil, err
	}
	if b.splits == nil {
		b.splits = map[[2]string]splitOut{}
	}
	b.splits[key] = splitOut{s, res, ids, D}
	return s, res, ids, D, nil
}

// evalSplit is split without the memo.
func (b *builder) evalSplit(space *evalrun.Space, split string) (*Split, *evalrun.Result, []reel.MovieID, [][]float32, error) {
	idx, err := space.Subset(split)
	if err != nil {
		return nil, nil, nil, nil, err
	}
	if len(idx) == 0 {
		return nil, nil, nil, nil, nil
	}
	name := space.Run
	ids, D, derr := evalrun.LoadDistance(b.work.Distance(name, split))
	if derr != nil || !currentDistance(space, idx, ids, D) {
		ev, err := space.Evaluate(split, evalrun.Options{})
		if err != nil {
			return nil, nil, nil, nil, err
		}
		ids, D = ev.IDs, ev.D
	}
	p2i, i2p := metrics.Queries(D, metrics.PosterToIntro), metrics.Queries(D, metrics.IntroToPoster)
	res, rerr := evalrun.ReadResult(b.work, name, split)
	if rerr != nil || res.N != len(ids) || !sameScores(res.PosterToIntro, metrics.Summarize(p2i)) || !sameScores(res.IntroToPoster, metrics.Summarize(i2p)) {
		b.opts.notef("report: %s has no current %s: evaluated split %s in memory (run `reelmatch eval --work %s --run %s --split %s` to save it)",
			name, filepath.Base(b.work.Eval(name, split)), split, b.work, name, split)
		bo := metrics.BootstrapOptions{}.WithDefaults()
		rep := metrics.EvaluateCI(D, bo)
		res = &evalrun.Result{Run: name, Encoder: space.Encoder, Split: split, N: rep.N, PosterToIntro: rep.PosterToIntro, IntroToPoster: rep.IntroToPoster, Chance: rep.Chance, Bootstrap: &bo}
	}
	s := &Split{
		Name:   split,
		N:      res.N,
		P2I:    direction(res.PosterToIntro, p2i),
		I2P:    direction(res.IntroToPoster, i2p),
		Chance: map[string]float64{"r1": res.Chance.R1, "r5": res.Chance.R5, "r10": res.Chance.R10},
	}
	if split == evalrun.SplitAll {
		// The template prints "all:" before the note already.
		s.Note = strings.TrimPrefix(evalrun.AllProtocolNote, "split all: ")
	}
	return s, res, ids, D, nil
}

// diagonalTolerance absorbs the float32 rounding between the blocked kernel
// eval used and a single dot product; a retrained head moves the diagonal
// by orders of magnitude more.
const diagonalTolerance = 1e-4

// currentDistance reports whether a saved D belongs to the split's movies
// (idx into space.Movies) and to the current heads: same ids in order, and
// each true pair's distance as the projected vectors give it now.
func currentDistance(space *evalrun.Space, idx []int, ids []reel.MovieID, D [][]float32) bool {
	if len(ids) != len(idx) {
		return false
	}
	for k, i := range idx {
		if ids[k] != space.Movies[i].ID {
			return false
		}
		d := 1 - vecmath.Dot(vecmath.Normalized(space.Image[i]), vecmath.Normalized(space.Text[i]))
		if math.Abs(float64(d-D[k][k])) > diagonalTolerance {
			return false
		}
	}
	return true
}

// sameScores compares the point values of two directions' scores (not the
// intervals), within the rounding of a JSON round trip.
func sameScores(a, b metrics.Scores) bool {
	near := func(x, y float64) bool { return math.Abs(x-y) <= 1e-9*math.Max(1, math.Abs(x)) }
	return a.MedianRank == b.MedianRank && near(a.R1, b.R1) && near(a.R5, b.R5) && near(a.R10, b.R10) &&
		near(a.MeanRank, b.MeanRank) && near(a.MRR, b.MRR) && near(a.Top1Acc, b.Top1Acc) && near(a.MeanRankPercentile, b.MeanRankPercentile)
}

// direction converts one direction's scores and per-query outcomes.
func direction(s metrics.Scores, qs []metrics.Query) Direction {
	d := Direction{
		R1: s.R1, R5: s.R5, R10: s.R10, MedianRank: s.MedianRank, MeanRank: s.MeanRank,
		MRR: s.MRR, Top1Acc: s.Top1Acc, MeanRankPercentile: s.MeanRankPercentile,
		Ranks: make([]int, len(qs)),
	}
	for i, q := range qs {
		d.Ranks[i] = q.Rank
	}
	if c := s.CI; c != nil {
		// Only the fractions the report shows as percentages.
		d.CI = map[string][2]float64{"r1": c.R1, "r5": c.R5, "r10": c.R10, "mean_rank_percentile": c.MeanRankPercentile}
	}
	return d
}

// readEpochs reads the loss curve from history.json; a missing file (heads
// none, or a run trained before histories were saved) is no curve.
func readEpochs(path string) ([]Epoch, error) {
	raw, err := inputfile.ReadFile(context.Background(), path, inputfile.Config)
	if errors.Is(err, fs.ErrNotExist) {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("read training history: %w", err)
	}
	var h heads.History
	if err := json.Unmarshal(raw, &h); err != nil {
		return nil, fmt.Errorf("read training history %q: %w (rerun `reelmatch train`)", path, err)
	}
	out := make([]Epoch, len(h.Epochs))
	for i, e := range h.Epochs {
		out[i] = Epoch{Epoch: e.Epoch, TrainLoss: e.TrainLoss, ValLoss: math.NaN(), ValMRP: math.NaN()}
		if h.AverageFrom > 0 {
			out[i].Averaged = e.Epoch >= h.AverageFrom && e.Epoch <= h.BestEpoch
		} else {
			out[i].Kept = e.Epoch == h.BestEpoch
		}
		if e.Val != nil {
			out[i].ValLoss, out[i].ValMRP = e.Val.Loss, e.Val.Score
		}
	}
	return out, nil
}

// examples fills the qualitative study over the held-out gallery, as the
// seed's section 3.2.2 did: random posters with their nearest intros and
// random intros with their nearest posters.
func (b *builder) examples(run *Run, space *evalrun.Space) error {
	if b.opts.Examples == 0 {
		return nil
	}
	gal, err := space.Gallery(evalrun.SplitTest)
	if err != nil {
		return err
	}
	idx, _ := space.Subset(evalrun.SplitTest)
	rng := rand.New(rand.NewPCG(uint64(b.opts.Seed), 0xe8a))
	pick := func() []int {
		perm := rng.Perm(len(idx))
		out := make([]int, 0, b.opts.Examples)
		for _, p := range perm[:min(b.opts.Examples, len(perm))] {
			out = append(out, idx[p])
		}
		return out
	}
	// Posters query the intros, then intros the posters, each side on its
	// own draw of movies.
	sides := []struct {
		nearest func(reel.MovieID, int) ([]reel.Hit, error)
		gallery *search.Index // the other side, for the true match's rank
		query   [][]float32   // this side's vectors, by movie
		out     *[]Query      // where this side's examples go
	}{
		{gal.ByPoster, gal.Intros, space.Image, &run.PosterQueries},
		{gal.ByIntro, gal.Posters, space.Text, &run.IntroQueries},
	}
	for _, side := range sides {
		for _, i := range pick() {
			m := space.Movies[i]
			hits, err := side.nearest(m.ID, exampleHits)
			if err != nil {
				return err
			}
			rank, err := side.gallery.Rank(side.query[i], m.ID)
			if err != nil {
				return err
			}
			*side.out = append(*side.out, b.query(gal, m, rank, hits))
		}
	}
	return nil
}

func (b *builder) query(gal *evalrun.Gallery, m reel.Movie, rank int, hits []reel.Hit) Query {
	q := Query{ID: string(m.ID), Name: m.Name, Intro: m.Intro, Poster: b.thumb(m), TrueRank: rank}
	for _, h := range hits {
		hm, _ := gal.Movie(h.ID)
		q.Hits = append(q.Hits, Hit{ID: string(h.ID), Name: hm.Name, Intro: hm.Intro, Poster: b.thumb(hm), Distance: float64(h.Distance), IsMatch: h.ID == m.ID})
	}
	return q
}

// thumb returns a movie's poster as a small JPEG, made once; an unreadable
// poster is a warning and no picture, not a failed report.
func (b *builder) thumb(m reel.Movie) []byte {
	if t, ok := b.thumbs[m.ID]; ok {
		return t
	}
	t, err := Thumbnail(m.PosterPath, ThumbWidth)
	if err != nil {
		b.opts.warnf("report: poster of movie %s left out: %v", m.ID, err)
	}
	b.thumbs[m.ID] = t
	return t
}

// heatmapSample picks size held-out movies at random (seeded), keeps them
// in manifest order and returns their block of D (rows posters, columns
// intros, so the diagonal holds the true pairs) with their names.
func heatmapSample(space *evalrun.Space, ids []reel.MovieID, D [][]float32, size int, seed int64) ([][]float32, []string) {
	if size <= 0 || len(ids) == 0 {
		return nil, nil
	}
	rng := rand.New(rand.NewPCG(uint64(seed), 0x4ea7))
	pick := rng.Perm(len(ids))[:min(size, len(ids))]
	slices.Sort(pick)
	names := make(map[reel.MovieID]string, len(space.Movies))
	for _, m := range space.Movies {
		names[m.ID] = m.Name
	}
	out := make([][]float32, len(pick))
	labels := make([]string, len(pick))
	for r, i := range pick {
		out[r] = make([]float32, len(pick))
		for c, j := range pick {
			out[r][c] = D[i][j]
		}
		labels[r] = names[ids[i]]
	}
	return out, labels
}

// pairDistances splits D into its diagonal (true pairs) and the rest
// (random pairs).
func pairDistances(D [][]float32) *Distances {
	n := len(D)
	if n == 0 {
		return nil
	}
	d := &Distances{True: make([]float32, 0, n), Random: make([]float32, 0, n*(n-1))}
	for i, row := range D {
		for j, v := range row {
			if i == j {
				d.True = append(d.True, v)
			} else {
				d.Random = append(d.Random, v)
			}
		}
	}
	return d
}
