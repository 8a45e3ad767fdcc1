// Package workdir names the files a WORK folder holds, so every stage reads
// and writes the same paths. Each stage writes its artifact atomically, so any
// one can run again alone:
//
//	WORK/manifest.json                       prepare: the kept movies (dataset.Manifest)
//	WORK/features/<encoder>.safetensors      embed: cached features (embcache)
//	WORK/features/<encoder>.state            embed: fitted encoder state (builtin TF-IDF/SVD)
//	WORK/features/<encoder>.shard-I-of-N.safetensors  embed --shard I/N: one slice (embed --merge joins them)
//	WORK/features/<encoder>[.shard-I-of-N].checkpoint  embed: rows of an unfinished run, removed when it ends
//	WORK/runs/<run>/heads.safetensors        train: head weights
//	WORK/runs/<run>/config.json              train: settings, encoder, head kind and fingerprints
//	WORK/runs/<run>/history.json             train: per-epoch loss and validation metrics
//	WORK/runs/<run>/loss.png                 train: loss curve
//	WORK/runs/<run>/eval_<split>.json        eval: metrics
//	WORK/runs/<run>/distance_<split>.safetensors  eval: D = 1 - cos, rows posters, columns intros
//	WORK/tune/<encoder>.json                 tune: settings chosen by cross-validation on the training split
//
// A run is named. The main run of an encoder is named after it (MainRun),
// so WORK/runs/<encoder>/ keeps meaning what it always did; other runs of
// the same encoder (baselines, controls) are named by convention
// "<encoder>.<variant>" (RunName). A run's config.json records its encoder
// and head kind, so a run name alone is enough to load it.
package workdir

import (
	"cmp"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"strings"
)

// Dir is a WORK folder.
type Dir string

// Manifest is the dataset manifest written by prepare.
func (d Dir) Manifest() string { return filepath.Join(string(d), "manifest.json") }

// Features is the feature cache of one encoder.
func (d Dir) Features(encoder string) string {
	return filepath.Join(string(d), "features", safe(encoder)+".safetensors")
}

// FeatureShard is slice index of count of one encoder's feature cache.
func (d Dir) FeatureShard(encoder string, index, count int) string {
	return filepath.Join(string(d), "features", safe(encoder)+shardTag(index, count)+".safetensors")
}

// FeatureShardGlob is the shell pattern of one encoder's shard files, for
// messages.
func (d Dir) FeatureShardGlob(encoder string) string {
	return filepath.Join(string(d), "features", safe(encoder)+".shard-*-of-*.safetensors")
}

// ShardFile is a shard file found by FeatureShards.
type ShardFile struct {
	Path         string
	Index, Count int
}

// FeatureShards lists the shard files of one encoder in d, ordered by count
// then index.
func (d Dir) FeatureShards(encoder string) ([]ShardFile, error) {
	prefix := safe(encoder) + ".shard-"
	entries, err := os.ReadDir(filepath.Join(string(d), "features"))
	if errors.Is(err, fs.ErrNotExist) {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("list shard files: %w", err)
	}
	var out []ShardFile
	for _, e := range entries {
		rest, ok := strings.CutPrefix(e.Name(), prefix)
		if !ok || !e.Type().IsRegular() {
			continue
		}
		var i, n int
		var tail string
		// Sscanf stops at the first mismatch, so check the name it rebuilds.
		if k, _ := fmt.Sscanf(rest, "%d-of-%d%s", &i, &n, &tail); k == 3 && tail == ".safetensors" &&
			e.Name() == safe(encoder)+shardTag(i, n)+".safetensors" {
			out = append(out, ShardFile{Path: filepath.Join(string(d), "features", e.Name()), Index: i, Count: n})
		}
	}
	slices.SortFunc(out, func(a, b ShardFile) int { return cmp.Or(cmp.Compare(a.Count, b.Count), cmp.Compare(a.Index, b.Index)) })
	return out, nil
}

// Checkpoint holds the rows of an unfinished embed of one encoder: of the
// whole cache when count is 0, else of slice index of count.
func (d Dir) Checkpoint(encoder string, index, count int) string {
	tag := ""
	if count > 0 {
		tag = shardTag(index, count)
	}
	return filepath.Join(string(d), "features", safe(encoder)+tag+".checkpoint")
}

func shardTag(index, count int) string { return fmt.Sprintf(".shard-%d-of-%d", index, count) }

// EncoderState is the fitted state of one encoder (for encoder.Fitter).
func (d Dir) EncoderState(encoder string) string {
	return filepath.Join(string(d), "features", safe(encoder)+".state")
}

// Tune is the file `reelmatch tune` writes for one encoder: the settings
// it chose by cross-validation inside the training split.
func (d Dir) Tune(encoder string) string {
	return filepath.Join(string(d), "tune", safe(encoder)+".json")
}

// Run is the folder of one named run (see MainRun and RunName).
func (d Dir) Run(run string) string { return filepath.Join(string(d), "runs", safe(run)) }

// Runs is the folder holding every run.
func (d Dir) Runs() string { return filepath.Join(string(d), "runs") }

// Heads, RunConfig, History, LossPlot, Eval and Distance name files in a run folder.
func (d Dir) Heads(run string) string     { return filepath.Join(d.Run(run), "heads.safetensors") }
func (d Dir) RunConfig(run string) string { return filepath.Join(d.Run(run), "config.json") }
func (d Dir) History(run string) string   { return filepath.Join(d.Run(run), "history.json") }
func (d Dir) LossPlot(run string) string  { return filepath.Join(d.Run(run), "loss.png") }
func (d Dir) Eval(run, split string) string {
	return filepath.Join(d.Run(run), "eval_"+split+".json")
}
func (d Dir) Distance(run, split string) string {
	return filepath.Join(d.Run(run), "distance_"+split+".safetensors")
}

// MainRun is the name of an encoder's main run: the encoder's own name, the
// folder train wrote before runs were named.
func MainRun(encoder string) string { return encoder }

// RunName is the conventional name of another run of encoder:
// "<encoder>.<variant>", e.g. "builtin.linear", "builtin.shuffled".
func RunName(encoder, variant string) string { return encoder + "." + variant }

// maxRunName bounds a run name: it is one path element.
const maxRunName = 100

// ErrBadRunName is wrapped by CheckRunName.
var ErrBadRunName = errors.New("bad run name")

// CheckRunName accepts a run name made of letters, digits, '.', '-' and
// '_', starting with a letter or digit, at most 100 bytes: it becomes one
// folder name under WORK/runs on every system.
func CheckRunName(name string) error {
	if name == "" {
		return fmt.Errorf("%w: the name is empty", ErrBadRunName)
	}
	if len(name) > maxRunName {
		return fmt.Errorf("%w %q: longer than %d characters", ErrBadRunName, name, maxRunName)
	}
	for i, r := range name {
		alnum := r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9'
		if !alnum && (i == 0 || r != '.' && r != '-' && r != '_') {
			return fmt.Errorf("%w %q: use letters, digits, '.', '-' and '_', starting with a letter or digit (e.g. builtin.linear)", ErrBadRunName, name)
		}
	}
	return nil
}

// safe keeps a name usable as one path element.
func safe(name string) string {
	return strings.NewReplacer("/", "_", "\\", "_", "..", "_").Replace(name)
}
