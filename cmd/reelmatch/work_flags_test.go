package main

import (
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
	"github.com/spf13/pflag"
)

// TestEmptyFolderFlagIsUsageError passes an empty --work or --data to every
// command that shares addWorkFlag/addDataFlag: each stops with exit 2 and
// names the flag, rather than reading or writing the current folder.
func TestEmptyFolderFlagIsUsageError(t *testing.T) {
	t.Setenv("REELMATCH_DATA", "")
	data := t.TempDir()
	cases := []struct {
		name string
		args []string
		want string
	}{
		{"prepare work", []string{"prepare", "--data", data, "--work", ""}, "prepare needs --work WORK"},
		{"prepare data", []string{"prepare", "--data", "", "--work", t.TempDir()}, "prepare needs --data DIR"},
		{"run work", []string{"run", "--data", data, "--work", ""}, "run needs --work WORK"},
		{"run data", []string{"run", "--work", t.TempDir()}, "run needs --data DIR"},
		{"embed", []string{"embed", "--work", ""}, "embed needs --work WORK"},
		{"eval", []string{"eval", "--work", ""}, "eval needs --work WORK"},
		{"search", []string{"search", "--work", "", "--intro", "1"}, "search needs --work WORK"},
		{"report", []string{"report", "--work", ""}, "report needs --work WORK"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			_, stderr, code := runCLI(t, tc.args...)
			if code != exitUsage || !strings.Contains(stderr, tc.want) {
				t.Errorf("exit %d, stderr %q; want exit %d and %q", code, stderr, exitUsage, tc.want)
			}
		})
	}
}

// TestRunFlagsFromEnvironment checks that the run-reading commands take
// --work, --encoder and --run from REELMATCH_WORK, REELMATCH_ENCODER and
// REELMATCH_RUN, and that a flag beats the variable.
func TestRunFlagsFromEnvironment(t *testing.T) {
	t.Setenv("REELMATCH_WORK", "envwork")
	t.Setenv("REELMATCH_ENCODER", "envenc")
	t.Setenv("REELMATCH_RUN", "envrun")
	cases := []struct {
		name                       string
		args                       []string
		wantWork, wantEnc, wantRun string
	}{
		{"environment", nil, "envwork", "envenc", "envrun"},
		{"flags", []string{"--work", "w", "--encoder", "e", "--run", "r"}, "w", "e", "r"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			var work, enc, run string
			fs := pflag.NewFlagSet("test", pflag.ContinueOnError)
			addRunFlags(fs, &work, &enc, &run, "test")
			if err := fs.Parse(tc.args); err != nil {
				t.Fatal(err)
			}
			if diff := cmp.Diff([3]string{tc.wantWork, tc.wantEnc, tc.wantRun}, [3]string{work, enc, run}); diff != "" {
				t.Errorf("work, encoder, run (-want +got):\n%s", diff)
			}
		})
	}
}
