package main

import (
	"github.com/spf13/pflag"

	"github.com/reelmatch/reelmatch/internal/evalrun"
	"github.com/reelmatch/reelmatch/internal/workdir"
)

// addDataFlag registers --data, the dataset folder, defaulting to
// REELMATCH_DATA.
func addDataFlag(f *pflag.FlagSet, p *string) {
	f.StringVar(p, "data", envOr("REELMATCH_DATA", ""), "dataset folder holding info.csv, poster/ and train.txt")
}

// checkData rejects an empty --data as a usage error naming verb.
func checkData(verb, data string) error {
	if data == "" {
		return usagef("%s needs --data DIR (or REELMATCH_DATA), the folder holding info.csv, poster/ and train.txt", verb)
	}
	return nil
}

// addWorkFlag registers --work, defaulting to REELMATCH_WORK, else "work".
func addWorkFlag(f *pflag.FlagSet, p *string, usage string) {
	f.StringVar(p, "work", envOr("REELMATCH_WORK", "work"), usage)
}

// workDir returns --work as a WORK folder. An empty one is a usage error
// naming verb: it would otherwise silently mean the current folder.
func workDir(verb, work string) (workdir.Dir, error) {
	if work == "" {
		return "", usagef("%s needs --work WORK (or REELMATCH_WORK)", verb)
	}
	return workdir.Dir(work), nil
}

// addRunFlags registers --work and --encoder for the commands that read a
// trained run. --encoder defaults to REELMATCH_ENCODER, else to the only run
// in WORK (see resolveRun); what says what the run is for ("evaluate").
func addRunFlags(f *pflag.FlagSet, work, enc *string, what string) {
	addWorkFlag(f, work, "WORK folder holding the manifest, features and runs")
	f.StringVar(enc, "encoder", envOr("REELMATCH_ENCODER", ""), "which run to "+what+" (default: the only one in WORK)")
}

// resolveRun returns the WORK folder and the encoder name of the run that
// --work and --encoder (see addRunFlags) select for verb.
func resolveRun(verb, work, enc string) (workdir.Dir, string, error) {
	dir, err := workDir(verb, work)
	if err != nil {
		return "", "", err
	}
	name, err := evalrun.ResolveEncoder(dir, enc)
	if err != nil {
		return "", "", err
	}
	return dir, name, nil
}
