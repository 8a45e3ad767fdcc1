package main

import (
	"errors"
	"fmt"
	"path/filepath"
	"strings"

	"github.com/reelmatch/reelmatch/internal/dataset"
	"github.com/reelmatch/reelmatch/internal/encoder/builtin"
	"github.com/reelmatch/reelmatch/internal/heads"
	"github.com/reelmatch/reelmatch/internal/reel"
	"github.com/reelmatch/reelmatch/internal/tune"
	"github.com/reelmatch/reelmatch/internal/workdir"
)

// loadTuned returns the tune file of encoder in work when there is one and
// it describes the manifest's training split (and, when imageFingerprint is
// set, the cached poster features). A stale file is ignored with a warning
// on stderr that says to rerun tune; a damaged one is an error.
func loadTuned(work workdir.Dir, man *dataset.Manifest, encoder, imageFingerprint string, g *globalOptions) (*tune.Result, string, error) {
	path := work.Tune(encoder)
	r, err := tune.Load(path)
	if errors.Is(err, tune.ErrNoFile) {
		return nil, "", nil
	}
	if err != nil {
		return nil, "", err
	}
	if r.Encoder != encoder {
		return nil, "", fmt.Errorf("tune file %s is for encoder %s, not %s: rerun `reelmatch tune --work %s --encoder %s`", path, r.Encoder, encoder, work, encoder)
	}
	if why := r.Stale(tune.TrainDigest(man.Split(reel.SplitTrain)), imageFingerprint); why != "" {
		fmt.Fprintf(g.stderr, "warning: ignoring %s: %s; rerun `reelmatch tune --work %s --encoder %s`\n", path, why, work, encoder)
		return nil, "", nil
	}
	return r, path, nil
}

// applyTunedFeatures sets the builtin encoder's text settings that were not
// given explicitly (--text-input, --text-dim) from the tune file, and
// returns a note saying so ("" when nothing was taken).
func applyTunedFeatures(o *encoderOptions, r *tune.Result, path string) string {
	f := r.Chosen.Features
	if o.Encoder != builtin.Name || f == (tune.Features{}) {
		return ""
	}
	var took []string
	if o.TextInput == "" {
		o.TextInput = f.TextInput
		took = append(took, f.TextInput+" intros")
	}
	if o.TextDim == 0 {
		o.TextDim = f.TextDim
		took = append(took, fmt.Sprintf("%d LSA components", f.TextDim))
	}
	if len(took) == 0 {
		return ""
	}
	return fmt.Sprintf("text settings chosen by tune (%s): %s", path, joinAnd(took))
}

// applyTunedHeads sets the head kind and its setting from the tune file
// where the flags did not: the kind unless --heads was given, then, when
// the kind is the tuned one, the closed-form setting (unless
// --ridge-lambda/--cca-* were given) or the MLP's dropout and averaging
// window (unless --dropout/--average-epochs were). It reports whether
// anything was taken.
func applyTunedHeads(o *TrainOptions, r *tune.Result) (bool, error) {
	c := r.Chosen
	if !o.changed["heads"] {
		o.Heads = c.Heads
	}
	if o.Heads != c.Heads {
		o.Linear.tuned = nil // a setting of another kind (copied from a run plan's base)
		return false, nil
	}
	took := !o.changed["heads"]
	switch {
	case heads.IsLinearKind(c.Heads) && c.Linear != nil:
		if !o.changed["ridge-lambda"] && !o.changed["cca-shrink"] && !o.changed["cca-dim"] {
			o.Linear.tuned = c.Linear
			took = true
		}
	case c.Heads == heads.KindMLP:
		cfg, err := tune.MLPConfig(r, c.Setting)
		if err != nil {
			return false, err
		}
		if !o.changed["dropout"] {
			o.Config.Dropout, took = cfg.Dropout, true
		}
		if !o.changed["average-epochs"] {
			o.Config.AverageEpochs, took = cfg.AverageEpochs, true
		}
	}
	return took, nil
}

// tunedFeatureMismatch says how the cached features differ from the text
// settings tune chose ("" when they agree).
func tunedFeatureMismatch(r *tune.Result, textInput string, textDim int) string {
	f := r.Chosen.Features
	if f == (tune.Features{}) || (f.TextInput == textInput && f.TextDim == textDim) {
		return ""
	}
	return fmt.Sprintf("tune chose %s intros with %d LSA components but the cached features are %s with %d", f.TextInput, f.TextDim, textInput, textDim)
}

// withFlag returns a copy of changed with name marked as given.
func withFlag(changed map[string]bool, name string) map[string]bool {
	out := make(map[string]bool, len(changed)+1)
	for k, v := range changed {
		out[k] = v
	}
	out[name] = true
	return out
}

// relToWork names path relative to work when it lies inside it (config.json
// then does not depend on where WORK is).
func relToWork(work workdir.Dir, path string) string {
	if rel, err := filepath.Rel(string(work), path); err == nil && !strings.HasPrefix(rel, "..") {
		return rel
	}
	return path
}

func joinAnd(parts []string) string {
	switch len(parts) {
	case 0:
		return ""
	case 1:
		return parts[0]
	}
	s := parts[0]
	for _, p := range parts[1 : len(parts)-1] {
		s += ", " + p
	}
	return s + " and " + parts[len(parts)-1]
}
