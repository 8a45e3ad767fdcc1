package main

import (
	"fmt"
	"os"
	"path/filepath"
	"sync"
	"testing"

	"github.com/reelmatch/reelmatch/internal/synth"
	"github.com/reelmatch/reelmatch/internal/workdir"
)

// synthRoot holds the WORK folders built once per test binary and shared by
// the tests that only read them; TestMain removes it.
var synthRoot string

func TestMain(m *testing.M) {
	if os.Getenv(asCLIEnv) == "1" {
		// A child process started by a command under test (bench search
		// runs each case in one): be reelmatch.
		os.Exit(run(os.Args[1:], os.Stdout, os.Stderr))
	}
	code := m.Run()
	if synthRoot != "" {
		os.RemoveAll(synthRoot)
	}
	if binaryDir != "" {
		os.RemoveAll(binaryDir)
	}
	os.Exit(code)
}

// asCLIEnv makes the test binary run as reelmatch, for commands that
// start this binary again (os.Executable).
const asCLIEnv = "REELMATCH_TEST_AS_CLI"

// synthWorks caches one WORK per movie count.
var synthWorks sync.Map // int -> *synthWorkEntry

type synthWorkEntry struct {
	once sync.Once
	work workdir.Dir
	err  error
}

// synthTestMovies is the size of the WORK most tests share: enough for a
// held-out split of 48 and a 60-poster first page, small enough to build in
// about a second.
const synthTestMovies = 240

// synthWork returns a WORK folder made from a synthetic dataset of n movies
// (seed 1) by `reelmatch run` in-process: prepare, embed with builtin,
// train a few epochs and eval on test and all. It is built once per test
// binary and must not be modified; copy it first (copyWork).
func synthWork(tb testing.TB, n int) workdir.Dir {
	tb.Helper()
	v, _ := synthWorks.LoadOrStore(n, &synthWorkEntry{})
	e := v.(*synthWorkEntry)
	e.once.Do(func() {
		if synthRoot == "" {
			if synthRoot, e.err = os.MkdirTemp("", "reelmatch-test-"); e.err != nil {
				return
			}
		}
		dir := filepath.Join(synthRoot, fmt.Sprint(n))
		data, work := filepath.Join(dir, "data"), filepath.Join(dir, "work")
		if e.err = synth.Write(data, n, 1); e.err != nil {
			return
		}
		// One run only: the control and baselines have their own tests
		// (cmd_run_test.go), and the report and serve tests read one run.
		stdout, stderr, code := runCLI(tb, "run", "-q", "--data", data, "--work", work, "--encoder", "builtin", "--heads", "mlp", "--epochs", "3", "--control=false", "--baselines=false")
		if code != exitOK {
			e.err = fmt.Errorf("reelmatch run: exit %d\nstdout:\n%s\nstderr:\n%s", code, stdout, stderr)
			return
		}
		e.work = workdir.Dir(work)
	})
	if e.err != nil {
		tb.Fatalf("build synthetic WORK of %d movies: %v", n, e.err)
	}
	return e.work
}

// copyWork copies a WORK folder into a fresh temporary folder, for tests
// that change it.
func copyWork(tb testing.TB, src workdir.Dir) workdir.Dir {
	tb.Helper()
	dst := filepath.Join(tb.TempDir(), "work")
	if err := os.CopyFS(dst, os.DirFS(string(src))); err != nil {
		tb.Fatal(err)
	}
	return workdir.Dir(dst)
}
