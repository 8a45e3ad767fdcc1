package heads

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"math"
	"os"
	"path/filepath"
	"runtime"
	"sync"

	"github.com/reelmatch/reelmatch/internal/atomicfile"
	"github.com/reelmatch/reelmatch/internal/inputfile"
	"github.com/reelmatch/reelmatch/internal/safetensors"
	"github.com/reelmatch/reelmatch/internal/vecmath"
)

// Head kinds, as `reelmatch train --heads` names them.
const (
	// KindMLP is the trained two-tower MLP.
	KindMLP = "mlp"
	// KindIdentity projects nothing and only L2-normalises, for encoders
	// whose towers already share a space (CLIP).
	KindIdentity = "none"
	// KindLinear is a ridge-regression map from poster to intro features,
	// fitted in closed form (head_linear.go): a baseline for the MLP.
	KindLinear = "linear"
	// KindCCA is regularised canonical correlation analysis, fitted in
	// closed form (head_linear.go): a baseline for the MLP.
	KindCCA = "cca"
)

// DefaultKind is the head kind train uses unless told otherwise (or told
// by a tune file): regularised CCA scored best in `reelmatch tune`'s 5-fold
// cross-validation on the MovieLens training split, ahead of the ridge map
// and of the MLP in 4 of 5 folds (docs/training.md).
const DefaultKind = KindCCA

// Kinds lists the head kinds `train --heads` accepts.
var Kinds = []string{KindMLP, KindLinear, KindCCA, KindIdentity}

// IsLinearKind reports whether kind is fitted in closed form by FitLinear.
func IsLinearKind(kind string) bool { return kind == KindLinear || kind == KindCCA }

// File names inside a run folder; they match internal/workdir.
const (
	WeightsFile  = "heads.safetensors"
	SettingsFile = "config.json"
)

// ErrNoCheckpoint is returned by Load when the run folder holds no
// settings file.
var ErrNoCheckpoint = errors.New("no trained heads")

// ErrDamaged is wrapped by Load when the weights do not match the checksum
// config.json recorded, or hold values no training produces.
var ErrDamaged = errors.New("damaged heads")

// Settings is what config.json holds beside the weights: the head settings
// and where the run came from. Train fills Config and the training counts;
// the caller fills Encoder, Fingerprint and the data choices before Save.
type Settings struct {
	// Run is the run's name (its folder under WORK/runs; the encoder's name
	// for its main run).
	Run string `json:"run,omitempty"`
	// Heads is one of Kinds.
	Heads string `json:"heads"`
	// Config is the architecture and, for KindMLP, the training recipe.
	// Linear heads fill only the sizes (no hidden layers, EmbedDim the
	// output size); their settings are in Linear.
	Config Config `json:"config"`
	// Linear is the chosen setting of a KindLinear or KindCCA head.
	Linear *LinearConfig `json:"linear,omitempty"`
	// CV is the cross-validation that chose it, when train ran one.
	CV *CVReport `json:"cv,omitempty"`
	// Tuned says the settings came from a tune file.
	Tuned *Tuned `json:"tuned,omitempty"`
	// Encoder and Fingerprint identify the features the heads were trained
	// on (encoder name and feature cache fingerprint): a run's name alone
	// is enough to load it.
	Encoder     string `json:"encoder"`
	Fingerprint string `json:"fingerprint"`
	TextInput   string `json:"text_input,omitempty"`
	// TrainPairs and ValPairs count the pairs used; ValFraction is the share
	// of the training split held out for early stopping.
	TrainPairs   int     `json:"train_pairs"`
	ValPairs     int     `json:"val_pairs"`
	ValFraction  float64 `json:"val_fraction"`
	ShufflePairs bool    `json:"shuffle_pairs,omitempty"`
	// EpochsRun is how many epochs ran; BestEpoch (1-based) is the epoch
	// whose weights were kept, by validation mean rank percentile (the last
	// epoch when there is no validation), or with weight averaging the last
	// epoch averaged and AverageFrom the first.
	EpochsRun   int `json:"epochs_run"`
	BestEpoch   int `json:"best_epoch"`
	AverageFrom int `json:"average_from,omitempty"`
	// Validation is the kept weights' validation score, when there was one.
	Validation *ValMetrics `json:"validation,omitempty"`
	// HeadsSHA256 is the hex SHA-256 of heads.safetensors as Save wrote it
	// (empty for identity heads): Load refuses a weights file that does not
	// match, so flipped bytes, swapped rows or another run's file are
	// caught.
	HeadsSHA256 string `json:"heads_sha256,omitempty"`
	// TrainSplit is the fingerprint of the training split the heads were
	// fitted on (dataset.Manifest.SplitFingerprint), filled by the caller:
	// readers refuse a manifest whose training split changed since, which
	// would put training movies in the test split.
	TrainSplit string `json:"train_split_sha256,omitempty"`
}

// Model is a pair of trained heads ready for inference (eval mode:
// BatchNorm uses its running statistics, no dropout). Project is safe for
// concurrent use.
type Model struct {
	Settings Settings

	w        *weights // nil for the identity
	img, txt []folded
}

// folded is one inference layer: y = x Wᵀ + b, with the BatchNorm that
// followed the Linear folded into W and b, then ReLU unless last.
type folded struct {
	in, out int
	// w is W [out, in] in vecmath's panel layout, [ceil(out/8)][in][8]:
	// vecmath.DotPanels then computes eight outputs per AVX2 instruction,
	// about 5x faster than one vecmath.Dot per output (vecmath
	// BenchmarkScan), and a row's outputs do not depend on the batch it
	// came in, so a query projects exactly as the catalogue did.
	w    []float32
	b    []float32
	relu bool
}

// Identity returns heads that only L2-normalise (for `--heads none`).
func Identity() *Model {
	return &Model{Settings: Settings{Heads: KindIdentity}}
}

// newModel wraps trained weights for inference.
func newModel(cfg Config, w *weights) *Model {
	return &Model{Settings: Settings{Heads: KindMLP, Config: cfg}, w: w, img: fold(w.Img), txt: fold(w.Txt)}
}

// IsIdentity reports whether m projects nothing.
func (m *Model) IsIdentity() bool { return m.w == nil }

func fold(t tower) []folded {
	var out []folded
	for i, l := range t.Linears {
		w := append([]float32(nil), l.W...) // [out, in]
		f := folded{in: l.In, out: l.Out, b: append([]float32(nil), l.B...)}
		if i < len(t.BNs) {
			bn := t.BNs[i]
			f.relu = true
			for o := range l.Out {
				s := float64(bn.Gamma[o]) / math.Sqrt(float64(bn.Var[o])+bnEps)
				row := w[o*l.In : (o+1)*l.In]
				for j := range row {
					row[j] = float32(float64(row[j]) * s)
				}
				f.b[o] = float32((float64(l.B[o])-float64(bn.Mean[o]))*s + float64(bn.Beta[o]))
			}
		}
		f.w = make([]float32, vecmath.PanelLen(l.Out, l.In))
		for o := range l.Out {
			vecmath.SetPanelRow(f.w, o, w[o*l.In:(o+1)*l.In])
		}
		out = append(out, f)
	}
	return out
}

// Project maps poster features img [n][ImageDim] and intro features txt
// [m][TextDim] into the shared space and returns L2-normalised rows. Either
// side may be empty. A row of the wrong length is an error naming the side
// and both sizes. The inputs are not modified.
func (m *Model) Project(img, txt [][]float32) (imgOut, txtOut [][]float32, err error) {
	if m.w == nil {
		return vecmath.NormalizeRows(img), vecmath.NormalizeRows(txt), nil
	}
	if imgOut, err = forwardRows(m.img, img, "poster"); err != nil {
		return nil, nil, err
	}
	if txtOut, err = forwardRows(m.txt, txt, "intro"); err != nil {
		return nil, nil, err
	}
	return imgOut, txtOut, nil
}

// rowBlock is how many rows one goroutine projects per turn.
const rowBlock = 16

// forwardRows runs the folded layers over rows and normalises. Up to
// rowBlock rows (a query) run on the caller's goroutine; more are spread
// over every CPU.
func forwardRows(layers []folded, rows [][]float32, side string) ([][]float32, error) {
	if len(rows) == 0 {
		return nil, nil
	}
	in := layers[0].in
	for i, r := range rows {
		if len(r) != in {
			return nil, fmt.Errorf("%s features row %d: have %d values, the heads take %d", side, i, len(r), in)
		}
	}
	out := make([][]float32, len(rows))
	if len(rows) <= rowBlock {
		// A query: starting goroutines would cost more than the work, and
		// a server answering many queries keeps the CPUs busy anyway.
		sc := scratchPool.Get().(*rowScratch)
		for r, x := range rows {
			out[r] = forwardRow(layers, x, sc)
		}
		scratchPool.Put(sc)
		return out, nil
	}
	var wg sync.WaitGroup
	blocks := make(chan int)
	for range runtime.GOMAXPROCS(0) {
		wg.Go(func() {
			sc := scratchPool.Get().(*rowScratch)
			defer scratchPool.Put(sc)
			for start := range blocks {
				for r := start; r < min(start+rowBlock, len(rows)); r++ {
					out[r] = forwardRow(layers, rows[r], sc)
				}
			}
		})
	}
	for start := 0; start < len(rows); start += rowBlock {
		blocks <- start
	}
	close(blocks)
	wg.Wait()
	return out, nil
}

// rowScratch is one goroutine's working memory for forwardRow, reused
// through scratchPool so projecting a query allocates only its output.
type rowScratch struct {
	qb   []float32    // the layer input spread for vecmath.DotPanels
	acts [2][]float32 // layer outputs, alternating, padded to whole panels
}

var scratchPool = sync.Pool{New: func() any { return new(rowScratch) }}

// grow returns buf resliced to n values, reallocated when too small.
func grow(buf []float32, n int) []float32 {
	if cap(buf) < n {
		return make([]float32, n)
	}
	return buf[:n]
}

// forwardRow projects one input row through every layer and returns a new
// unit-length output row.
func forwardRow(layers []folded, x []float32, sc *rowScratch) []float32 {
	for li, l := range layers {
		sc.qb = grow(sc.qb, l.in*vecmath.PanelRows)
		vecmath.SpreadQuery(sc.qb, x)
		y := grow(sc.acts[li%2], vecmath.PanelLen(l.out, 1))
		sc.acts[li%2] = y
		vecmath.DotPanels(sc.qb, l.w, y)
		y = y[:l.out]
		for o, b := range l.b {
			v := y[o] + b
			if l.relu && v < 0 {
				v = 0
			}
			y[o] = v
		}
		x = y
	}
	v := append([]float32(nil), x...)
	normalizeInPlace(v)
	return v
}

func normalizeInPlace(v []float32) {
	n := vecmath.Norm(v)
	if n == 0 {
		return
	}
	inv := 1 / n
	for i := range v {
		v[i] = float32(float64(v[i]) * inv)
	}
}

// Save writes the weights (PyTorch names, safetensors) and config.json into
// runDir, each atomically. Identity heads write only config.json and remove
// stale weights.
func (m *Model) Save(runDir string) error {
	weightsPath := filepath.Join(runDir, WeightsFile)
	m.Settings.HeadsSHA256 = ""
	if m.w == nil {
		if err := os.Remove(weightsPath); err != nil && !errors.Is(err, fs.ErrNotExist) {
			return fmt.Errorf("remove stale heads %q: %w", weightsPath, err)
		}
	} else {
		meta := map[string]string{"format": "pt", "heads": m.Settings.Heads}
		var buf bytes.Buffer
		if err := safetensors.Write(&buf, m.w.tensors(), meta); err != nil {
			return fmt.Errorf("encode heads: %w", err)
		}
		sum := sha256.Sum256(buf.Bytes())
		m.Settings.HeadsSHA256 = hex.EncodeToString(sum[:])
		if err := atomicfile.WriteFile(weightsPath, buf.Bytes(), 0o644); err != nil {
			return fmt.Errorf("save heads: %w", err)
		}
	}
	b, err := json.MarshalIndent(m.Settings, "", "  ")
	if err != nil {
		return fmt.Errorf("encode head settings: %w", err)
	}
	settingsPath := filepath.Join(runDir, SettingsFile)
	if err := atomicfile.WriteFile(settingsPath, append(b, '\n'), 0o644); err != nil {
		return fmt.Errorf("save head settings: %w", err)
	}
	return nil
}

// ReadSettings reads a run folder's config.json.
func ReadSettings(runDir string) (Settings, error) {
	var s Settings
	path := filepath.Join(runDir, SettingsFile)
	b, err := inputfile.ReadFile(context.Background(), path, inputfile.Config)
	if errors.Is(err, fs.ErrNotExist) {
		return s, fmt.Errorf("%w in %q: run `reelmatch train` first", ErrNoCheckpoint, runDir)
	}
	if err != nil {
		return s, fmt.Errorf("read head settings: %w", err)
	}
	if err := json.Unmarshal(b, &s); err != nil {
		return s, fmt.Errorf("read head settings %q: %w", path, err)
	}
	return s, nil
}

// Load rebuilds the heads saved in runDir for inference.
func Load(runDir string) (*Model, error) {
	s, err := ReadSettings(runDir)
	if err != nil {
		return nil, err
	}
	switch s.Heads {
	case KindIdentity:
		m := Identity()
		m.Settings = s
		return m, nil
	case KindMLP, KindLinear, KindCCA:
	default:
		return nil, fmt.Errorf("head settings %q: unknown heads %q (want one of %v)",
			filepath.Join(runDir, SettingsFile), s.Heads, Kinds)
	}
	if err := s.Config.validateShape(); err != nil {
		return nil, fmt.Errorf("head settings %q: %w: run `reelmatch train` again", filepath.Join(runDir, SettingsFile), err)
	}
	if IsLinearKind(s.Heads) {
		if s.Linear == nil {
			return nil, fmt.Errorf("head settings %q: %s heads without their \"linear\" settings: run `reelmatch train` again", filepath.Join(runDir, SettingsFile), s.Heads)
		}
		if err := s.Linear.Validate(s.Heads); err != nil {
			return nil, fmt.Errorf("head settings %q: %w: run `reelmatch train` again", filepath.Join(runDir, SettingsFile), err)
		}
		if len(s.Config.Hidden) != 0 {
			return nil, fmt.Errorf("head settings %q: %s heads have no hidden layers, the file lists %d: run `reelmatch train` again", filepath.Join(runDir, SettingsFile), s.Heads, len(s.Config.Hidden))
		}
	}
	path := filepath.Join(runDir, WeightsFile)
	b, err := inputfile.ReadFile(context.Background(), path, inputfile.Weights)
	if err != nil {
		if errors.Is(err, fs.ErrNotExist) {
			return nil, fmt.Errorf("%w: %q is missing: run `reelmatch train` again", ErrNoCheckpoint, path)
		}
		return nil, fmt.Errorf("load heads: %w", err)
	}
	settingsPath := filepath.Join(runDir, SettingsFile)
	if s.HeadsSHA256 == "" {
		return nil, fmt.Errorf("%w: %q records no checksum of %s (written by an older reelmatch): run `reelmatch train` again",
			ErrDamaged, settingsPath, WeightsFile)
	}
	if sum := sha256.Sum256(b); hex.EncodeToString(sum[:]) != s.HeadsSHA256 {
		return nil, fmt.Errorf("%w: %q does not match the checksum %s recorded when it was trained (the file was changed or damaged since): run `reelmatch train` again",
			ErrDamaged, path, SettingsFile)
	}
	f, err := safetensors.Read(bytes.NewReader(b), int64(len(b)))
	if err != nil {
		return nil, fmt.Errorf("load heads %q: %w", path, err)
	}
	w, err := weightsFromTensors(f.Tensors, s.Config)
	if err != nil {
		return nil, fmt.Errorf("load heads %q: %w", path, err)
	}
	if err := w.check(); err != nil {
		return nil, fmt.Errorf("%w: %q: %w: run `reelmatch train` again", ErrDamaged, path, err)
	}
	m := newModel(s.Config, w)
	m.Settings = s
	return m, nil
}
