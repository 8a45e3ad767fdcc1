package evalrun

import (
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"slices"
	"sort"

	"github.com/reelmatch/reelmatch/internal/atomicfile"
	"github.com/reelmatch/reelmatch/internal/dataset"
	"github.com/reelmatch/reelmatch/internal/embcache"
	"github.com/reelmatch/reelmatch/internal/heads"
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

// ErrNoRun is wrapped when WORK holds no trained run.
var ErrNoRun = errors.New("no trained run")

// CheckSplit returns an error naming the accepted splits for anything else.
func CheckSplit(split string) error {
	if !slices.Contains(Splits, split) {
		return fmt.Errorf("unknown split %q (want one of %v)", split, Splits)
	}
	return nil
}

// Runs lists the encoders that have a trained run in work, sorted.
func Runs(work workdir.Dir) ([]string, error) {
	entries, err := os.ReadDir(work.Runs())
	if errors.Is(err, fs.ErrNotExist) {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("list runs: %w", err)
	}
	var names []string
	for _, e := range entries {
		if !e.IsDir() {
			continue
		}
		if _, err := os.Stat(work.RunConfig(e.Name())); err == nil {
			names = append(names, e.Name())
		}
	}
	sort.Strings(names)
	return names, nil
}

// ResolveEncoder returns requested when set; otherwise the only trained run
// in work. No run, or several, is an error that says what to do.
func ResolveEncoder(work workdir.Dir, requested string) (string, error) {
	if requested != "" {
		return requested, nil
	}
	names, err := Runs(work)
	if err != nil {
		return "", err
	}
	switch len(names) {
	case 0:
		return "", fmt.Errorf("%w in %s: run `reelmatch train --work %s --encoder NAME` first", ErrNoRun, work, work)
	case 1:
		return names[0], nil
	}
	return "", fmt.Errorf("%s holds runs for several encoders %v: choose one with --encoder", work, names)
}

// Space is every movie of a manifest projected by one run's heads: Image[i]
// and Text[i] are the L2-normalised vectors of Movies[i] (manifest order).
type Space struct {
	Encoder  string
	Manifest *dataset.Manifest
	Features *embcache.Features
	Heads    *heads.Model
	Movies   []reel.Movie
	Image    [][]float32 // [n][embedDim], unit rows
	Text     [][]float32 // [n][embedDim], unit rows
}

// Load reads the manifest, the feature cache and the heads of encoder's
// run in work and projects every movie. Stale or missing pieces are errors
// that name the command to rerun.
func Load(work workdir.Dir, encoder string) (*Space, error) {
	man, err := dataset.Load(work.Manifest())
	if err != nil {
		return nil, err
	}
	feats, err := embcache.Load(work.Features(encoder))
	if err != nil {
		return nil, err
	}
	model, err := heads.Load(work.Run(encoder))
	if err != nil {
		if errors.Is(err, heads.ErrNoCheckpoint) {
			return nil, fmt.Errorf("%w for encoder %s in %s: run `reelmatch train --work %s --encoder %s` first", ErrNoRun, encoder, work, work, encoder)
		}
		return nil, err
	}
	if fp := model.Settings.Fingerprint; fp != "" && feats.Fingerprint != "" && fp != feats.Fingerprint {
		return nil, fmt.Errorf("heads in %s were trained on other %s features than the cache now holds: rerun `reelmatch train --work %s --encoder %s`", work.Run(encoder), encoder, work, encoder)
	}
	return Project(encoder, man, feats, model)
}

// Project builds a Space from loaded pieces.
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
	return &Space{Encoder: encoder, Manifest: man, Features: feats, Heads: model, Movies: movies, Image: pi, Text: pt}, nil
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
	Encoder       string         `json:"encoder"`
	Split         string         `json:"split"`
	N             int            `json:"n"`
	PosterToIntro metrics.Scores `json:"poster_to_intro"`
	IntroToPoster metrics.Scores `json:"intro_to_poster"`
	Chance        metrics.Chance `json:"chance"`
	// ExcludedLeaks are the test movies Options.ExcludeLeaks left out
	// because their intro or poster also appears in the training split
	// (dataset.FindLeaks); absent when nothing was left out.
	ExcludedLeaks []reel.MovieID `json:"excluded_leaks,omitempty"`
}

// Options tune Evaluate.
type Options struct {
	// CI adds bootstrap 95% intervals.
	CI        bool
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
		return nil, fmt.Errorf("split %s of %s has no movies (check train.txt, then rerun `reelmatch prepare`)", split, s.Encoder)
	}
	img, txt := make([][]float32, len(idx)), make([][]float32, len(idx))
	ids := make([]reel.MovieID, len(idx))
	for k, i := range idx {
		img[k], txt[k], ids[k] = s.Image[i], s.Text[i], s.Movies[i].ID
	}
	D := metrics.Distance(img, txt)
	var rep metrics.Report
	if o.CI {
		rep = metrics.EvaluateCI(D, o.Bootstrap)
	} else {
		rep = metrics.Evaluate(D)
	}
	return &Evaluation{
		Result: Result{Encoder: s.Encoder, Split: split, N: rep.N, PosterToIntro: rep.PosterToIntro, IntroToPoster: rep.IntroToPoster, Chance: rep.Chance, ExcludedLeaks: excluded},
		IDs:    ids,
		D:      D,
	}, nil
}

// Save writes eval_<split>.json and distance_<split>.safetensors into the
// run folder, each atomically.
func (e *Evaluation) Save(work workdir.Dir) error {
	r := e.Result
	b, err := json.MarshalIndent(r, "", "  ")
	if err != nil {
		return fmt.Errorf("encode eval result: %w", err)
	}
	if err := atomicfile.WriteFile(work.Eval(r.Encoder, r.Split), append(b, '\n'), 0o644); err != nil {
		return fmt.Errorf("save eval result: %w", err)
	}
	if err := SaveDistance(work.Distance(r.Encoder, r.Split), r.Encoder, r.Split, e.IDs, e.D); err != nil {
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
	if err := safetensors.WriteFile(path, t, meta); err != nil {
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

// ReadResult reads eval_<split>.json of encoder's run.
func ReadResult(work workdir.Dir, encoder, split string) (*Result, error) {
	path := work.Eval(encoder, split)
	b, err := os.ReadFile(path)
	if errors.Is(err, fs.ErrNotExist) {
		return nil, fmt.Errorf("%s not found: run `reelmatch eval --work %s --encoder %s --split %s` first", path, work, encoder, split)
	}
	if err != nil {
		return nil, fmt.Errorf("read eval result: %w", err)
	}
	var r Result
	if err := json.Unmarshal(b, &r); err != nil {
		return nil, fmt.Errorf("read eval result %q: %w", path, err)
	}
	return &r, nil
}
