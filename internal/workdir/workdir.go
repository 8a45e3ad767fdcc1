// Package workdir names the files a WORK folder holds, so every stage reads
// and writes the same paths. Each stage writes its artifact atomically, so any
// one can run again alone:
//
//	WORK/manifest.json                       prepare: the kept movies (dataset.Manifest)
//	WORK/features/<encoder>.safetensors      embed: cached features (embcache)
//	WORK/features/<encoder>.state            embed: fitted encoder state (builtin TF-IDF/SVD)
//	WORK/runs/<encoder>/heads.safetensors    train: head weights
//	WORK/runs/<encoder>/config.json          train: settings and fingerprints
//	WORK/runs/<encoder>/history.json         train: per-epoch loss and validation metrics
//	WORK/runs/<encoder>/loss.png             train: loss curve
//	WORK/runs/<encoder>/eval_<split>.json    eval: metrics
//	WORK/runs/<encoder>/distance_<split>.safetensors  eval: D = 1 - cos, rows posters, columns intros
package workdir

import (
	"path/filepath"
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

// EncoderState is the fitted state of one encoder (for encoder.Fitter).
func (d Dir) EncoderState(encoder string) string {
	return filepath.Join(string(d), "features", safe(encoder)+".state")
}

// Run is the folder of one trained run (one encoder's heads).
func (d Dir) Run(encoder string) string { return filepath.Join(string(d), "runs", safe(encoder)) }

// Runs is the folder holding every run.
func (d Dir) Runs() string { return filepath.Join(string(d), "runs") }

// Heads, RunConfig, History, LossPlot, Eval and Distance name files in a run folder.
func (d Dir) Heads(encoder string) string     { return filepath.Join(d.Run(encoder), "heads.safetensors") }
func (d Dir) RunConfig(encoder string) string { return filepath.Join(d.Run(encoder), "config.json") }
func (d Dir) History(encoder string) string   { return filepath.Join(d.Run(encoder), "history.json") }
func (d Dir) LossPlot(encoder string) string  { return filepath.Join(d.Run(encoder), "loss.png") }
func (d Dir) Eval(encoder, split string) string {
	return filepath.Join(d.Run(encoder), "eval_"+split+".json")
}
func (d Dir) Distance(encoder, split string) string {
	return filepath.Join(d.Run(encoder), "distance_"+split+".safetensors")
}

// safe keeps a name usable as one path element.
func safe(name string) string {
	return strings.NewReplacer("/", "_", "\\", "_", "..", "_").Replace(name)
}
