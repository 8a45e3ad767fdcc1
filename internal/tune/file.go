package tune

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"math"
	"os"
	"path/filepath"
	"slices"

	"github.com/reelmatch/reelmatch/internal/atomicfile"
	"github.com/reelmatch/reelmatch/internal/embed"
	"github.com/reelmatch/reelmatch/internal/encoder/builtin"
	"github.com/reelmatch/reelmatch/internal/heads"
	"github.com/reelmatch/reelmatch/internal/inputfile"
)

// ErrNoFile is wrapped by Load when there is no tune file.
var ErrNoFile = errors.New("no tune file")

// Save writes r as indented JSON to path, atomically.
func (r *Result) Save(path string) error {
	b, err := json.MarshalIndent(r, "", "  ")
	if err != nil {
		return fmt.Errorf("encode tune result: %w", err)
	}
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		return fmt.Errorf("save tune result: %w", err)
	}
	if err := atomicfile.WriteFile(path, append(b, '\n'), 0o644); err != nil {
		return fmt.Errorf("save tune result: %w", err)
	}
	return nil
}

// Load reads and checks a tune file (a regular file within inputfile's
// config cap). A missing file wraps ErrNoFile; a damaged one is an error
// naming the file and the field, and saying to rerun tune.
func Load(path string) (*Result, error) {
	b, err := inputfile.ReadFile(context.Background(), path, inputfile.Config)
	if errors.Is(err, fs.ErrNotExist) {
		return nil, fmt.Errorf("%w %s", ErrNoFile, path)
	}
	if err != nil {
		return nil, fmt.Errorf("read tune file: %w", err)
	}
	var r Result
	if err := json.Unmarshal(b, &r); err != nil {
		return nil, fmt.Errorf("tune file %s: %w: rerun `reelmatch tune`", path, err)
	}
	if err := r.check(); err != nil {
		return nil, fmt.Errorf("tune file %s: %w: rerun `reelmatch tune`", path, err)
	}
	return &r, nil
}

// check validates what train, embed and run take from a tune file.
func (r *Result) check() error {
	if r.Version != Version {
		return fmt.Errorf("format version %d, this build reads %d", r.Version, Version)
	}
	if r.Encoder == "" {
		return errors.New(`"encoder" is empty`)
	}
	if len(r.Grid) == 0 {
		return errors.New(`"grid" is empty`)
	}
	for i, p := range append(slices.Clone(r.Grid), r.Chosen) {
		where := fmt.Sprintf("grid[%d]", i)
		if i == len(r.Grid) {
			where = "chosen"
		}
		for _, v := range append([]float64{p.Mean.Mean, p.Mean.SD, p.PosterToIntro.Mean, p.IntroToPoster.Mean}, p.Folds...) {
			if math.IsNaN(v) || math.IsInf(v, 0) || v < 0 || v > 1 {
				return fmt.Errorf("%s: score %v is not in [0, 1]", where, v)
			}
		}
		if err := r.checkSetting(p.Setting); err != nil {
			return fmt.Errorf("%s: %w", where, err)
		}
	}
	return nil
}

// checkSetting validates one setting.
func (r *Result) checkSetting(s Setting) error {
	if f := s.Features; f != (Features{}) {
		if r.Encoder != builtin.Name {
			return fmt.Errorf("text settings for encoder %s, which has none", r.Encoder)
		}
		if f.TextInput != embed.TextClean && f.TextInput != embed.TextRaw {
			return fmt.Errorf("text input %q (want clean or raw)", f.TextInput)
		}
		if err := builtin.TextDimRange.Check(f.TextDim); err != nil {
			return fmt.Errorf("text dimension %w", err)
		}
	}
	switch {
	case heads.IsLinearKind(s.Heads):
		if s.Linear == nil {
			return fmt.Errorf("%s heads without their \"linear\" settings", s.Heads)
		}
		return s.Linear.Validate(s.Heads)
	case s.Heads == heads.KindMLP:
		if s.MLP == nil || r.MLP == nil {
			return errors.New(`mlp heads without their "mlp" settings`)
		}
		cfg, err := MLPConfig(r, s)
		if err != nil {
			return err
		}
		cfg.ImageDim, cfg.TextDim = 1, 1
		if err := cfg.Validate(); err != nil {
			return err
		}
		if s.MLP.AverageEpochs < 1 {
			return fmt.Errorf("mlp averaging window %d must be at least 1", s.MLP.AverageEpochs)
		}
		if r.ValFraction < 0 || r.ValFraction >= 1 {
			return fmt.Errorf("validation fraction %g must be in [0, 1)", r.ValFraction)
		}
		return nil
	}
	return fmt.Errorf("heads %q (want mlp, linear or cca)", s.Heads)
}

// Stale says why r no longer describes the training split whose digest is
// trainSHA256 and whose poster features have imageFingerprint (empty: r
// applies).
func (r *Result) Stale(trainSHA256, imageFingerprint string) string {
	switch {
	case r.TrainSHA256 != trainSHA256:
		return "the training split changed since tune ran"
	case imageFingerprint != "" && r.ImageFingerprint != imageFingerprint:
		return "the poster features changed since tune ran"
	}
	return ""
}
