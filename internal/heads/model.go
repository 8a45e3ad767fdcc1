package heads

import (
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
)

// File names inside a run folder; they match internal/workdir.
const (
	WeightsFile  = "heads.safetensors"
	SettingsFile = "config.json"
)

// ErrNoCheckpoint is returned by Load when the run folder holds no
// settings file.
var ErrNoCheckpoint = errors.New("no trained heads")

// Settings is what config.json holds beside the weights: the head settings
// and where the run came from. Train fills Config and the training counts;
// the caller fills Encoder, Fingerprint and the data choices before Save.
type Settings struct {
	// Heads is KindMLP or KindIdentity.
	Heads  string `json:"heads"`
	Config Config `json:"config"`
	// Encoder and Fingerprint identify the features the heads were trained
	// on (encoder name and feature cache fingerprint).
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
	// epoch when there is no validation).
	EpochsRun int `json:"epochs_run"`
	BestEpoch int `json:"best_epoch"`
	// Validation is the kept epoch's validation score, when there was one.
	Validation *ValMetrics `json:"validation,omitempty"`
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
	w       []float32 // [out, in]
	b       []float32
	relu    bool
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
		f := folded{in: l.In, out: l.Out, w: append([]float32(nil), l.W...), b: append([]float32(nil), l.B...)}
		if i < len(t.BNs) {
			bn := t.BNs[i]
			f.relu = true
			for o := range l.Out {
				s := float64(bn.Gamma[o]) / math.Sqrt(float64(bn.Var[o])+bnEps)
				row := f.w[o*l.In : (o+1)*l.In]
				for j := range row {
					row[j] = float32(float64(row[j]) * s)
				}
				f.b[o] = float32((float64(l.B[o])-float64(bn.Mean[o]))*s + float64(bn.Beta[o]))
			}
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

// rowBlock is how many input rows share one pass over a weight block, so
// both stay in cache.
const rowBlock = 16

// forwardRows runs the folded layers over rows on every CPU and normalises.
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
	var wg sync.WaitGroup
	blocks := make(chan int)
	for range runtime.GOMAXPROCS(0) {
		wg.Go(func() {
			var bufs [2][]float32
			for start := range blocks {
				end := min(start+rowBlock, len(rows))
				x := rows[start:end]
				var y [][]float32
				for li, l := range layers {
					if li == len(layers)-1 {
						y = make([][]float32, len(x))
						for r := range y {
							y[r] = make([]float32, l.out)
						}
					} else {
						y = scratchRows(&bufs[li%2], len(x), l.out)
					}
					l.apply(x, y)
					x = y
				}
				for r, v := range y {
					normalizeInPlace(v)
					out[start+r] = v
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

// scratchRows views buf as n rows of dim floats, growing it as needed.
func scratchRows(buf *[]float32, n, dim int) [][]float32 {
	if cap(*buf) < n*dim {
		*buf = make([]float32, n*dim)
	}
	flat := (*buf)[:n*dim]
	rows := make([][]float32, n)
	for i := range rows {
		rows[i] = flat[i*dim : (i+1)*dim]
	}
	return rows
}

// apply computes y = relu?(x Wᵀ + b) for a block of rows.
func (l folded) apply(x, y [][]float32) {
	for o := range l.out {
		wRow := l.w[o*l.in : (o+1)*l.in]
		b := l.b[o]
		for r := range x {
			v := vecmath.Dot(x[r], wRow) + b
			if l.relu && v < 0 {
				v = 0
			}
			y[r][o] = v
		}
	}
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
	if m.w == nil {
		if err := os.Remove(weightsPath); err != nil && !errors.Is(err, fs.ErrNotExist) {
			return fmt.Errorf("remove stale heads %q: %w", weightsPath, err)
		}
	} else {
		meta := map[string]string{"format": "pt", "heads": KindMLP}
		if err := safetensors.WriteFile(weightsPath, m.w.tensors(), meta); err != nil {
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
	b, err := os.ReadFile(path)
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
	case KindMLP:
	default:
		return nil, fmt.Errorf("head settings %q: unknown heads %q (want %q or %q)",
			filepath.Join(runDir, SettingsFile), s.Heads, KindMLP, KindIdentity)
	}
	path := filepath.Join(runDir, WeightsFile)
	f, err := safetensors.ReadFile(path)
	if err != nil {
		if errors.Is(err, fs.ErrNotExist) {
			return nil, fmt.Errorf("%w: %q is missing: run `reelmatch train` again", ErrNoCheckpoint, path)
		}
		return nil, fmt.Errorf("load heads: %w", err)
	}
	w, err := weightsFromTensors(f.Tensors, s.Config)
	if err != nil {
		return nil, fmt.Errorf("load heads %q: %w", path, err)
	}
	m := newModel(s.Config, w)
	m.Settings = s
	return m, nil
}
