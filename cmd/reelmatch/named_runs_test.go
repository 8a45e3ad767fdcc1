package main

import (
	"bytes"
	"context"
	"encoding/json"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/reelmatch/reelmatch/internal/dataset"
	"github.com/reelmatch/reelmatch/internal/evalrun"
	"github.com/reelmatch/reelmatch/internal/heads"
	"github.com/reelmatch/reelmatch/internal/reel"
	"github.com/reelmatch/reelmatch/internal/workdir"
)

// TestNamedRuns trains a second run of the builtin encoder beside its main
// run and checks that every run-reading command finds the main run by
// default and the named one with --run alone, and that several runs with no
// clear main run are a usage error listing them.
func TestNamedRuns(t *testing.T) {
	work := copyWork(t, synthWork(t, synthTestMovies))
	w := string(work)
	mainHeads, err := os.ReadFile(work.Heads("builtin"))
	if err != nil {
		t.Fatal(err)
	}
	const named = "builtin.small"
	stdout, stderr, code := runCLI(t, "--json", "train", "--work", w, "--encoder", "builtin", "--run", named,
		"--heads", "mlp", "--epochs", "2", "--hidden", "16", "--embed-dim", "8")
	if code != exitOK {
		t.Fatalf("train --run: exit %d\n%s", code, stderr)
	}
	var tr TrainResult
	if err := json.Unmarshal([]byte(stdout), &tr); err != nil {
		t.Fatal(err)
	}
	if tr.Run != named || tr.Encoder != "builtin" || tr.RunDir != work.Run(named) {
		t.Errorf("train result run %q encoder %q dir %q", tr.Run, tr.Encoder, tr.RunDir)
	}
	st, err := heads.ReadSettings(work.Run(named))
	if err != nil {
		t.Fatal(err)
	}
	if st.Run != named || st.Encoder != "builtin" || st.Heads != heads.KindMLP {
		t.Errorf("config.json run %q encoder %q heads %q", st.Run, st.Encoder, st.Heads)
	}
	if after, _ := os.ReadFile(work.Heads("builtin")); !bytes.Equal(after, mainHeads) {
		t.Error("training a named run changed the main run's heads")
	}

	evalJSON := func(args ...string) evalrun.Result {
		t.Helper()
		stdout, stderr, code := runCLI(t, append([]string{"--json", "-q", "eval", "--work", w}, args...)...)
		if code != exitOK {
			t.Fatalf("eval %v: exit %d\n%s", args, code, stderr)
		}
		var r evalrun.Result
		if err := json.Unmarshal([]byte(stdout), &r); err != nil {
			t.Fatal(err)
		}
		return r
	}
	if r := evalJSON(); r.Run != "builtin" || r.Encoder != "builtin" {
		t.Errorf("eval without --run evaluated run %q (encoder %q), want the main run", r.Run, r.Encoder)
	}
	if r := evalJSON("--encoder", "builtin"); r.Run != "builtin" {
		t.Errorf("eval --encoder builtin evaluated run %q, want the main run", r.Run)
	}
	r := evalJSON("--run", named)
	if r.Run != named || r.Encoder != "builtin" {
		t.Errorf("eval --run evaluated run %q (encoder %q)", r.Run, r.Encoder)
	}
	if saved, err := evalrun.ReadResult(work, named, evalrun.SplitTest); err != nil || saved.Run != named {
		t.Errorf("eval --run saved %+v, %v in its own folder", saved, err)
	}
	if stdout, _, _ := runCLI(t, "-q", "eval", "--work", w, "--run", named); !strings.HasPrefix(stdout, "run builtin.small, encoder builtin, split test") {
		t.Errorf("eval table header: %q", strings.SplitN(stdout, "\n", 2)[0])
	}

	man, err := dataset.Load(work.Manifest())
	if err != nil {
		t.Fatal(err)
	}
	id := string(man.Split(reel.SplitTest)[0].ID)
	stdout, stderr, code = runCLI(t, "--json", "-q", "search", "--work", w, "--run", named, "--intro", id, "-k", "2")
	if code != exitOK {
		t.Fatalf("search --run: exit %d\n%s", code, stderr)
	}
	var sr searchJSON
	if err := json.Unmarshal([]byte(stdout), &sr); err != nil {
		t.Fatal(err)
	}
	if sr.Query.Run != named || sr.Query.Encoder != "builtin" || len(sr.Results) != 2 {
		t.Errorf("search --run: query %+v, %d results", sr.Query, len(sr.Results))
	}

	out := t.TempDir() + "/report.html"
	stdout, stderr, code = runCLI(t, "--json", "-q", "report", "--work", w, "--run", named, "--out", out, "--examples", "1", "--heatmap-size", "4")
	if code != exitOK {
		t.Fatalf("report --run: exit %d\n%s", code, stderr)
	}
	var rep reportJSON
	if err := json.Unmarshal([]byte(stdout), &rep); err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff([]string{named}, rep.Runs); diff != "" {
		t.Errorf("report runs (-want +got):\n%s", diff)
	}

	sv := serveRun(t, ServeOptions{Work: w, Run: named})
	if sv.Run != named || sv.Encoder != "builtin" {
		t.Errorf("serve --run: %+v", sv)
	}
	if sv := serveRun(t, ServeOptions{Work: w}); sv.Run != "builtin" {
		t.Errorf("serve without --run served %q, want the main run", sv.Run)
	}

	// Without the main run, two runs of builtin leave nothing clearly meant.
	if err := os.Rename(work.Run("builtin"), work.Run("builtin.first")); err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		name string
		args []string
		code int
		want []string
	}{
		{"eval ambiguous", []string{"eval", "--work", w}, exitUsage, []string{"builtin.first (builtin, heads mlp)", "builtin.small (builtin, heads mlp)", "--run NAME"}},
		{"search ambiguous", []string{"search", "--work", w, "--intro", id}, exitUsage, []string{"builtin.first", "builtin.small", "--run NAME"}},
		{"report ambiguous", []string{"report", "--work", w, "--out", out}, exitUsage, []string{"builtin.first", "builtin.small", "--run NAME"}},
		{"serve ambiguous", []string{"serve", "--work", w, "--addr", "127.0.0.1:0"}, exitUsage, []string{"builtin.first", "builtin.small", "--run NAME"}},
		{"encoder without main run", []string{"eval", "--work", w, "--encoder", "builtin"}, exitFailure, []string{"no trained run for encoder builtin", "builtin.small", "--run"}},
		{"unknown run", []string{"eval", "--work", w, "--run", "builtin.cca"}, exitFailure, []string{"no trained run named builtin.cca", "builtin.first", "--run builtin.cca"}},
		{"run of another encoder", []string{"eval", "--work", w, "--run", named, "--encoder", "clip-vit-b32"}, exitUsage, []string{"trained on encoder builtin, not clip-vit-b32"}},
		{"bad run name", []string{"eval", "--work", w, "--run", "../x"}, exitUsage, []string{"--run: bad run name", "letters, digits"}},
		{"bad train run name", []string{"train", "--work", w, "--run", "a/b"}, exitUsage, []string{"--run: bad run name"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, stderr, code := runCLI(t, tc.args...)
			if code != tc.code {
				t.Errorf("exit %d, want %d; stderr %q", code, tc.code, stderr)
			}
			for _, f := range tc.want {
				if !strings.Contains(stderr, f) {
					t.Errorf("stderr %q does not contain %q", stderr, f)
				}
			}
			if n := strings.Count(strings.TrimSpace(stderr), "\n"); n > 0 {
				t.Errorf("stderr has %d lines, want one: %q", n+1, stderr)
			}
		})
	}
	if _, err := os.Stat(workdir.Dir(w).Run("a")); err == nil {
		t.Error("a refused --run name created a folder")
	}
}

// serveRun starts serve with opts on a free loopback port under --json,
// returns what it printed once listening, and stops it.
func serveRun(t *testing.T, opts ServeOptions) serveJSON {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	listening := make(chan string, 1)
	opts.Addr = "127.0.0.1:0"
	opts.onListen = func(u string) { listening <- u }
	stdout, stderr := &syncBuffer{}, &syncBuffer{}
	g := &globalOptions{JSON: true, Quiet: true, stdout: stdout, stderr: stderr}
	done := make(chan error, 1)
	go func() { done <- runServe(ctx, opts, g, nil) }()
	select {
	case <-listening:
	case err := <-done:
		t.Fatalf("serve exited before listening: %v\n%s", err, stderr)
	case <-time.After(60 * time.Second):
		t.Fatalf("serve did not listen within 60 s\n%s", stderr)
	}
	cancel()
	if err := <-done; err != nil {
		t.Errorf("serve returned %v after cancel", err)
	}
	var out serveJSON
	if err := json.Unmarshal([]byte(stdout.String()), &out); err != nil {
		t.Fatalf("serve --json stdout %q: %v", stdout, err)
	}
	return out
}
