package main

import (
	"errors"
	"io/fs"
	"os"

	"github.com/spf13/pflag"

	"github.com/reelmatch/reelmatch/internal/evalrun"
	"github.com/reelmatch/reelmatch/internal/workdir"
)

// addDataFlag registers --data, the dataset folder, defaulting to
// REELMATCH_DATA.
func addDataFlag(f *pflag.FlagSet, p *string) {
	f.StringVar(p, "data", envOr("REELMATCH_DATA", ""), "dataset folder holding info.csv, poster/ and train.txt")
}

// checkData rejects an empty --data, and one that is not a folder, as a
// usage error (exit 2) naming verb or the path.
func checkData(verb, data string) error {
	if data == "" {
		return usagef("%s needs --data DIR (or REELMATCH_DATA), the folder holding info.csv, poster/ and train.txt", verb)
	}
	st, err := os.Stat(data)
	switch {
	case errors.Is(err, fs.ErrNotExist):
		return usagef("--data %s: no such folder (pass the folder holding info.csv, poster/ and train.txt)", data)
	case err != nil:
		return usagef("--data %s: %v", data, errors.Unwrap(err))
	case !st.IsDir():
		return usagef("--data %s is a file: pass the folder holding info.csv, poster/ and train.txt", data)
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

// existingWorkDir is workDir for the commands that read a WORK that
// prepare (or run) made: a --work that is not a folder is a usage error.
func existingWorkDir(verb, work string) (workdir.Dir, error) {
	dir, err := workDir(verb, work)
	if err != nil {
		return "", err
	}
	if st, err := os.Stat(work); err != nil || !st.IsDir() {
		return "", usagef("--work %s: no such folder (reelmatch run --data DIR --work %s makes one)", work, work)
	}
	return dir, nil
}

// addRunFlags registers --work, --encoder and --run for the commands that
// read a trained run. --run defaults to REELMATCH_RUN, --encoder to
// REELMATCH_ENCODER; with neither, the run is the only one in WORK or the
// only main run (see resolveRun). what says what the run is for
// ("evaluate").
func addRunFlags(f *pflag.FlagSet, work, enc, run *string, what string) {
	addWorkFlag(f, work, "WORK folder holding the manifest, features and runs")
	f.StringVar(enc, "encoder", envOr("REELMATCH_ENCODER", ""), "encoder whose main run to "+what+" (default: the only one in WORK)")
	addRunNameFlag(f, run, "run to "+what+", a folder of WORK/runs (default: the encoder's main run)")
}

// addRunNameFlag registers --run, defaulting to REELMATCH_RUN.
func addRunNameFlag(f *pflag.FlagSet, run *string, usage string) {
	f.StringVar(run, "run", envOr("REELMATCH_RUN", ""), usage)
}

// resolveRun returns the WORK folder and the name of the run that --work,
// --encoder and --run (see addRunFlags) select for verb. A malformed run
// name, a run of another encoder than --encoder, and several runs none of
// which is clearly meant are usage errors (exit 2) that list the runs.
func resolveRun(verb, work, enc, run string) (workdir.Dir, string, error) {
	dir, err := existingWorkDir(verb, work)
	if err != nil {
		return "", "", err
	}
	if run != "" {
		if err := workdir.CheckRunName(run); err != nil {
			return "", "", usagef("--run: %v", err)
		}
	}
	name, err := evalrun.ResolveRun(dir, run, enc)
	if errors.Is(err, evalrun.ErrAmbiguousRun) {
		return "", "", usagef("%s: %v", verb, err)
	}
	if err != nil {
		return "", "", err
	}
	return dir, name, nil
}
