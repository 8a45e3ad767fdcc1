package evalrun

import (
	"cmp"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"slices"
	"sort"
	"strings"

	"github.com/reelmatch/reelmatch/internal/atomicfile"
	"github.com/reelmatch/reelmatch/internal/dataset"
	"github.com/reelmatch/reelmatch/internal/embcache"
	"github.com/reelmatch/reelmatch/internal/heads"
	"github.com/reelmatch/reelmatch/internal/inputfile"
	"github.com/reelmatch/reelmatch/internal/metrics"
	"github.com/reelmatch/reelmatch/internal/reel"
	"github.com/reelmatch/reelmatch/internal/safetensors"
	"github.com/reelmatch/reelmatch/internal/workdir"
)

// Split names accepted by eval and search.
const (
	SplitTest  = "test"
	SplitAll   = "all"
	SplitTrain = "train"
)

// Splits lists the accepted split names, default first.
var Splits = []string{SplitTest, SplitAll, SplitTrain}

// AllProtocolNote is the label shown wherever split "all" is reported.
const AllProtocolNote = "split all: the seed's protocol, training pairs included — not a held-out measure"

// SplitNote says what a split holds, in parentheses after its name in a
// heading: " (held out)" for test.
func SplitNote(split string) string {
	switch split {
	case SplitTest:
		return " (held out)"
	case SplitAll:
		return " (training pairs included)"
	case SplitTrain:
		return " (the training pairs)"
	}
	return ""
}

// ErrNoRun is wrapped when WORK holds no trained run.
var ErrNoRun = errors.New("no trained run")

// CheckSplit returns an error naming the accepted splits for anything else.
func CheckSplit(split string) error {
	if !slices.Contains(Splits, split) {
		return fmt.Errorf("unknown split %q (want %s)", split, strings.Join(Splits, ", "))
	}
	return nil
}

// ErrAmbiguousRun is wrapped when no run was named and WORK holds several
// that could be meant.
var ErrAmbiguousRun = errors.New("several runs")

// ErrEmptySplit is wrapped when a split to evaluate has no movies (every
// kept movie listed in train.txt leaves the test split empty).
var ErrEmptySplit = errors.New("has no movies")

// RunInfo describes one run folder of WORK, from its config.json.
type RunInfo struct {
	// Name is the run's folder name under WORK/runs.
	Name string `json:"name"`
	// Encoder is the encoder whose features the run was trained on.
	Encoder string `json:"encoder"`
	// Heads is the head kind (heads.KindMLP, ...).
	Heads string `json:"heads"`
}

// Main reports whether r is its encoder's main run (workdir.MainRun).
func (r RunInfo) Main() bool { return r.Name == workdir.MainRun(r.Encoder) }

// String is "NAME (ENCODER, HEADS)", as run lists print it.
func (r RunInfo) String() string { return fmt.Sprintf("%s (%s, heads %s)", r.Name, r.Encoder, r.Heads) }

// ListRuns describes every run in work (folders holding a config.json),
// sorted by name. A run saved before runs were named has no encoder in its
// config.json; its folder name is the encoder.
func ListRuns(work workdir.Dir) ([]RunInfo, error) {
	entries, err := os.ReadDir(work.Runs())
	if errors.Is(err, fs.ErrNotExist) {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("list runs: %w", err)
	}
	var runs []RunInfo
	for _, e := range entries {
		// Hidden entries are a train's temporary folders (see
		// atomicfile.WriteDir); a run name never starts with a dot.
		if !e.IsDir() || strings.HasPrefix(e.Name(), ".") {
			continue
		}
		if _, err := os.Stat(work.RunConfig(e.Name())); err != nil {
			continue
		}
		s, err := heads.ReadSettings(work.Run(e.Name()))
		if err != nil {
			return nil, fmt.Errorf("run %s: %w", e.Name(), err)
		}
		runs = append(runs, RunInfo{Name: e.Name(), Encoder: cmp.Or(s.Encoder, e.Name()), Heads: s.Heads})
	}
	sort.Slice(runs, func(i, j int) bool { return runs[i].Name < runs[j].Name })
	return runs, nil
}

// Runs lists the names of the runs in work, sorted.
func Runs(work workdir.Dir) ([]string, error) {
	runs, err := ListRuns(work)
	if err != nil {
		return nil, err
	}
	names := make([]string, len(runs))
	for i, r := range runs {
		names[i] = r.Name
	}
	return names, nil
}

// ResolveRun returns the name of the run that run and encoder select in
// work:
//
//   - run set: that run; it must exist, and when encoder is set too it
//     must be of that encoder;
//   - encoder set: the encoder's main run (workdir.MainRun);
//   - neither: the only run in work, else the only main run among several
//     (baselines and controls of one encoder beside its main run); anything
//     else wraps ErrAmbiguousRun and lists the runs.
//
// No run at all wraps ErrNoRun. Every error says what to do.
func ResolveRun(work workdir.Dir, run, encoder string) (string, error) {
	runs, err := ListRuns(work)
	if err != nil {
		return "", err
	}
	find := func(name string) (RunInfo, bool) {
		for _, r := range runs {
			if r.Name == name {
				return r, true
			}
		}
		return RunInfo{}, false
	}
	switch {
	case run != "":
		r, ok := find(run)
		if !ok {
			return "", fmt.Errorf("%w named %s in %s (runs there: %s): train it with `reelmatch train --work %s --run %s`",
				ErrNoRun, run, work, listRuns(runs), work, run)
		}
		if encoder != "" && encoder != r.Encoder {
			return "", fmt.Errorf("%w: run %s was trained on encoder %s, not %s (drop --encoder or REELMATCH_ENCODER, or pick another run)",
				ErrAmbiguousRun, run, r.Encoder, encoder)
		}
		return run, nil
	case encoder != "":
		name := workdir.MainRun(encoder)
		if _, ok := find(name); !ok {
			return "", fmt.Errorf("%w for encoder %s in %s (runs there: %s): run `reelmatch train --work %s --encoder %s` first, or choose a run with --run",
				ErrNoRun, encoder, work, listRuns(runs), work, encoder)
		}
		return name, nil
	}
	switch len(runs) {
	case 0:
		return "", fmt.Errorf("%w in %s: run `reelmatch train --work %s --encoder NAME` first", ErrNoRun, work, work)
	case 1:
		return runs[0].Name, nil
	}
	var main []string
	for _, r := range runs {
		if r.Main() {
			main = append(main, r.Name)
		}
	}
	if len(main) == 1 {
		return main[0], nil
	}
	return "", fmt.Errorf("%w in %s: %s; choose one with --run NAME", ErrAmbiguousRun, work, listRuns(runs))
}

// listRuns names runs for a message.
func listRuns(runs []RunInfo) string {
	if len(runs) == 0 {
		return "none"
	}
	parts := make([]string, len(runs))
	for i, r := range runs {
		parts[i] = r.String()
	}
	return strings.Join(parts, ", ")
}

// Space is every movie of a manifest projected by one run's heads: Image[i]
// and Text[i] are the L2-normalised vectors of Movies[i] (manifest order).
type Space struct {
	// Run is the run's name (its folder under WORK/runs), Encoder the
	// encoder its heads were trained on.
	Run      string
	Encoder  string
	Manifest *dataset.Manifest
	Features *embcache.Features
	Heads    *heads.Model
	Movies   []reel.Movie
	Image    [][]float32 // [n][embedDim], unit rows
	Text     [][]float32 // [n][embedDim], unit rows
}

// Load reads the manifest, the feature cache and the heads of the named
// run in work and projects every movie. The run's config.json says which
// encoder's features it takes. Stale or missing pieces are errors that name
// the command to rerun.
func Load(work workdir.Dir, run string) (*Space, error) {
	return load(work, run, embcache.Load)
}

// LoadMapped is Load with the feature cache memory-mapped (embcache.Map):
// for a process that loads one run and keeps it, as serve does, so that
// the raw encoder features (n × (image + text dims) float32, 11 GiB at 1M
// movies of ResNet-50 + DistilBERT) stay file-backed pages instead of heap.
func LoadMapped(work workdir.Dir, run string) (*Space, error) {
	return load(work, run, embcache.Map)
}

func load(work workdir.Dir, run string, loadFeatures func(string) (*embcache.Features, error)) (*Space, error) {
	man, err := dataset.Load(work.Manifest())
	if err != nil {
		return nil, err
	}
	settings, err := heads.ReadSettings(work.Run(run))
	if err != nil {
		if errors.Is(err, heads.ErrNoCheckpoint) {
			return nil, fmt.Errorf("%w named %s in %s: run `reelmatch train --work %s --run %s` first", ErrNoRun, run, work, work, run)
		}
		return nil, err
	}
	encoder := cmp.Or(settings.Encoder, run)
	if err := checkTrainSplit(work, run, settings, man); err != nil {
		return nil, err
	}
	feats, err := loadFeatures(work.Features(encoder))
	if err != nil {
		return nil, err
	}
	model, err := heads.Load(work.Run(run))
	if err != nil {
		if errors.Is(err, heads.ErrNoCheckpoint) {
			return nil, fmt.Errorf("%w named %s in %s: run `reelmatch train --work %s --run %s` first", ErrNoRun, run, work, work, run)
		}
		return nil, err
	}
	if fp := model.Settings.Fingerprint; fp != "" && feats.Fingerprint != "" && fp != feats.Fingerprint {
		return nil, fmt.Errorf("heads in %s were trained on other %s features than the cache now holds: rerun `reelmatch train --work %s --encoder %s --run %s`", work.Run(run), encoder, work, encoder, run)
	}
	space, err := Project(encoder, man, feats, model)
	if err != nil {
		return nil, err
	}
	space.Run = run
	return space, nil
}

// ErrSplitChanged is wrapped by Load when the manifest's training split is
// not the one the run was trained on.
var ErrSplitChanged = errors.New("stale run")

// checkTrainSplit refuses a run whose heads were fitted on another training
// split than the manifest holds now (train.txt edited and prepare rerun,
// or the manifest edited): its test split could hold training movies.
// Identity heads fitted nothing and pass.
func checkTrainSplit(work workdir.Dir, run string, s heads.Settings, man *dataset.Manifest) error {
	if s.Heads == heads.KindIdentity {
		return nil
	}
	if s.TrainSplit == man.SplitFingerprint(reel.SplitTrain) {
		return nil
	}
	what := "another training split than " + work.Manifest() + " holds now (train.txt or the manifest changed after training)"
	if s.TrainSplit == "" {
		what = "a training split it did not record (written by an older reelmatch)"
	}
	return fmt.Errorf("%w: run %s was trained on %s: rerun `reelmatch train --work %s --run %s`", ErrSplitChanged, run, what, work, run)
}

// Project builds a Space from loaded pieces; its Run is the encoder's main
// run until the caller names another.
func Project(encoder string, man *dataset.Manifest, feats *embcache.Features, model *heads.Model) (*Space, error) {
	movies := man.Movies
	img, txt, err := feats.Rows(dataset.IDs(movies))
	if err != nil {
		return nil, err
	}
	pi, pt, err := model.Project(img, txt)
	if err != nil {
		return nil, fmt.Errorf("project %s features through the heads: %w (rerun `reelmatch train --encoder %s`)", encoder, err, encoder)
	}
	return &Space{Run: workdir.MainRun(encoder), Encoder: encoder, Manifest: man, Features: feats, Heads: model, Movies: movies, Image: pi, Text: pt}, nil
}

// Subset returns the indices into s.Movies of one split, in manifest order.
func (s *Space) Subset(split string) ([]int, error) {
	if err := CheckSplit(split); err != nil {
		return nil, err
	}
	var idx []int
	for i, m := range s.Movies {
		if split == SplitAll || string(m.Split) == split {
			idx = append(idx, i)
		}
	}
	return idx, nil
}

// withoutLeaks drops from idx (indices into s.Movies) the test movies that
// leak from the training split, returning the rest and the dropped ids.
func (s *Space) withoutLeaks(idx []int) ([]int, []reel.MovieID) {
	leaked := dataset.LeakedTestIDs(dataset.FindLeaks(s.Movies))
	if len(leaked) == 0 {
		return idx, nil
	}
	drop := make(map[reel.MovieID]bool, len(leaked))
	for _, id := range leaked {
		drop[id] = true
	}
	kept := make([]int, 0, len(idx))
	var excluded []reel.MovieID
	for _, i := range idx {
		if id := s.Movies[i].ID; drop[id] {
			excluded = append(excluded, id)
		} else {
			kept = append(kept, i)
		}
	}
	return kept, excluded
}

// Result is one evaluation, as eval_<split>.json and `eval --json` hold it.
type Result struct {
	// Run names the run (its folder under WORK/runs); Encoder is the
	// encoder its heads take.
	Run           string         `json:"run"`
	Encoder       string         `json:"encoder"`
	Split         string         `json:"split"`
	N             int            `json:"n"`
	PosterToIntro metrics.Scores `json:"poster_to_intro"`
	IntroToPoster metrics.Scores `json:"intro_to_poster"`
	Chance        metrics.Chance `json:"chance"`
	// Bootstrap says how the 95% intervals in each direction's "ci" were
	// made: queries resampled with replacement, gallery fixed, percentile
	// method.
	Bootstrap *metrics.BootstrapOptions `json:"bootstrap,omitempty"`
	// ExcludedLeaks are the test movies Options.ExcludeLeaks left out
	// because their intro or poster also appears in the training split
	// (dataset.FindLeaks); absent when nothing was left out.
	ExcludedLeaks []reel.MovieID `json:"excluded_leaks,omitempty"`
}

// Options tune Evaluate.
type Options struct {
	// Bootstrap configures the intervals every Result carries (zero: 1000
	// resamples of the queries, seed 1, 95%).
	Bootstrap metrics.BootstrapOptions
	// ExcludeLeaks leaves out of the test split every movie that shares an
	// intro or a poster with a training movie (dataset.FindLeaks). Other
	// splits hold the training pairs anyway and are not changed.
	ExcludeLeaks bool
}

// Evaluation is a Result with the matrix it came from.
type Evaluation struct {
	Result Result
	// IDs are the movies of the split, rows and columns of D.
	IDs []reel.MovieID
	// D is [n posters][n intros], 1 - cos.
	D [][]float32

	// heads are the settings of the heads evaluated, for Save's check.
	heads heads.Settings
}

// Evaluate scores one split of s.
func (s *Space) Evaluate(split string, o Options) (*Evaluation, error) {
	idx, err := s.Subset(split)
	if err != nil {
		return nil, err
	}
	var excluded []reel.MovieID
	if o.ExcludeLeaks && split == SplitTest {
		idx, excluded = s.withoutLeaks(idx)
	}
	if len(idx) == 0 {
		return nil, fmt.Errorf("split %s of run %s %w (check train.txt, then rerun `reelmatch prepare`)", split, s.Run, ErrEmptySplit)
	}
	img, txt := make([][]float32, len(idx)), make([][]float32, len(idx))
	ids := make([]reel.MovieID, len(idx))
	for k, i := range idx {
		img[k], txt[k], ids[k] = s.Image[i], s.Text[i], s.Movies[i].ID
	}
	D := metrics.Distance(img, txt)
	bo := o.Bootstrap.WithDefaults()
	rep := metrics.EvaluateCI(D, bo)
	return &Evaluation{
		Result: Result{Run: s.Run, Encoder: s.Encoder, Split: split, N: rep.N, PosterToIntro: rep.PosterToIntro, IntroToPoster: rep.IntroToPoster, Chance: rep.Chance,
			Bootstrap: &bo, ExcludedLeaks: excluded},
		IDs:   ids,
		D:     D,
		heads: s.Heads.Settings,
	}, nil
}

// ErrRunReplaced is wrapped by Save when the run folder no longer holds
// the heads that were evaluated.
var ErrRunReplaced = errors.New("run replaced during eval")

// Save writes eval_<split>.json and distance_<split>.safetensors into the
// run folder, each atomically.
func (e *Evaluation) Save(work workdir.Dir) error {
	r := e.Result
	b, err := json.MarshalIndent(r, "", "  ")
	if err != nil {
		return fmt.Errorf("encode eval result: %w", err)
	}
	run := cmp.Or(r.Run, workdir.MainRun(r.Encoder))
	// A train of the same run may have swapped its folder in since the
	// heads were loaded (or the run was removed): their scores must not
	// land beside other heads, nor recreate a run folder holding only them.
	now, err := heads.ReadSettings(work.Run(run))
	if err != nil || now.Heads != e.heads.Heads || now.HeadsSHA256 != e.heads.HeadsSHA256 || now.TrainSplit != e.heads.TrainSplit {
		return fmt.Errorf("%w: %s no longer holds the heads evaluated (trained again or removed meanwhile): run `reelmatch eval --work %s --run %s` again",
			ErrRunReplaced, work.Run(run), work, run)
	}
	if err := atomicfile.WriteFile(work.Eval(run, r.Split), append(b, '\n'), 0o644); err != nil {
		return fmt.Errorf("save eval result: %w", err)
	}
	if err := SaveDistance(work.Distance(run, r.Split), r.Encoder, r.Split, e.IDs, e.D); err != nil {
		return err
	}
	return nil
}

// Distance file layout: one F32 tensor "distance" [n, n] (rows posters,
// columns intros) and metadata naming the ids of both axes.
const (
	tensorDistance = "distance"
	metaIDs        = "ids"
	metaEncoder    = "encoder"
	metaSplit      = "split"
	metaLayout     = "layout"
	layoutNote     = "rows posters, columns intros, D = 1 - cosine; ids name both axes"
)

// SaveDistance writes D with its ids as safetensors.
func SaveDistance(path, encoder, split string, ids []reel.MovieID, D [][]float32) error {
	n := len(ids)
	if len(D) != n {
		return fmt.Errorf("save distance matrix: %d rows for %d ids", len(D), n)
	}
	flat := make([]float32, 0, n*n)
	for i, row := range D {
		if len(row) != n {
			return fmt.Errorf("save distance matrix: row %d has %d columns, want %d", i, len(row), n)
		}
		flat = append(flat, row...)
	}
	idJSON, err := json.Marshal(ids)
	if err != nil {
		return fmt.Errorf("save distance matrix: %w", err)
	}
	meta := map[string]string{metaIDs: string(idJSON), metaEncoder: encoder, metaSplit: split, metaLayout: layoutNote}
	t := map[string]safetensors.Tensor{tensorDistance: {Shape: []int{n, n}, F32: flat}}
	if err := safetensors.WriteFile(path, t, safetensors.Seal(t, meta)); err != nil {
		return fmt.Errorf("save distance matrix: %w", err)
	}
	return nil
}

// LoadDistance reads a file written by SaveDistance.
func LoadDistance(path string) (ids []reel.MovieID, D [][]float32, err error) {
	f, err := safetensors.ReadFile(path)
	if err != nil {
		if errors.Is(err, fs.ErrNotExist) {
			return nil, nil, fmt.Errorf("distance matrix %q not found: run `reelmatch eval` first", path)
		}
		return nil, nil, fmt.Errorf("load distance matrix: %w", err)
	}
	// The checksum catches flipped bytes and swapped rows; a NaN would
	// rank arbitrarily.
	if err := f.Verify(); err != nil {
		return nil, nil, fmt.Errorf("distance matrix %q is damaged (%w): run `reelmatch eval` again", path, err)
	}
	if err := f.CheckFinite(); err != nil {
		return nil, nil, fmt.Errorf("distance matrix %q is damaged (%w): run `reelmatch eval` again", path, err)
	}
	if err := json.Unmarshal([]byte(f.Metadata[metaIDs]), &ids); err != nil {
		return nil, nil, fmt.Errorf("load distance matrix %q: metadata %q: %w", path, metaIDs, err)
	}
	t, err := f.Tensor(tensorDistance)
	if err != nil {
		return nil, nil, fmt.Errorf("load distance matrix %q: %w", path, err)
	}
	n := len(ids)
	if len(t.Shape) != 2 || t.Shape[0] != n || t.Shape[1] != n || len(t.F32) != n*n {
		return nil, nil, fmt.Errorf("load distance matrix %q: shape %v does not match %d ids", path, t.Shape, n)
	}
	D = make([][]float32, n)
	for i := range D {
		D[i] = t.F32[i*n : (i+1)*n : (i+1)*n]
	}
	return ids, D, nil
}

// ReadResult reads eval_<split>.json of the named run.
func ReadResult(work workdir.Dir, run, split string) (*Result, error) {
	path := work.Eval(run, split)
	b, err := inputfile.ReadFile(context.Background(), path, inputfile.Config)
	if errors.Is(err, fs.ErrNotExist) {
		return nil, fmt.Errorf("%s not found: run `reelmatch eval --work %s --run %s --split %s` first", path, work, run, split)
	}
	if err != nil {
		return nil, fmt.Errorf("read eval result: %w", err)
	}
	var r Result
	if err := json.Unmarshal(b, &r); err != nil {
		return nil, fmt.Errorf("read eval result %q: %w", path, err)
	}
	if err := r.check(); err != nil {
		return nil, fmt.Errorf("eval result %q is damaged (%w): run `reelmatch eval --work %s --run %s --split %s` again", path, err, work, run, split)
	}
	return &r, nil
}

// check refuses scores no evaluation produces: a rate or percentile
// outside [0, 1], a rank below 1, anything not finite.
func (r *Result) check() error {
	if r.N < 1 {
		return fmt.Errorf("n is %d", r.N)
	}
	for dir, sc := range map[string]metrics.Scores{"poster_to_intro": r.PosterToIntro, "intro_to_poster": r.IntroToPoster} {
		for name, v := range map[string]float64{"r1": sc.R1, "r5": sc.R5, "r10": sc.R10, "mrr": sc.MRR,
			"top1_acc": sc.Top1Acc, "mean_rank_percentile": sc.MeanRankPercentile} {
			if !(v >= 0 && v <= 1) {
				return fmt.Errorf("%s.%s is %v, outside [0, 1]", dir, name, v)
			}
		}
		if !(sc.MeanRank >= 1 && sc.MeanRank <= float64(r.N)) || sc.MedianRank < 1 || sc.MedianRank > r.N {
			return fmt.Errorf("%s ranks (median %d, mean %v) are outside [1, %d]", dir, sc.MedianRank, sc.MeanRank, r.N)
		}
	}
	return nil
}
