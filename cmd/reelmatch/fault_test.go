package main

// Fault tests: the real reelmatch binary, run as a subprocess, is killed
// (SIGKILL, SIGTERM, SIGINT) at several points of `train` and `prepare`.
// Whatever the point, the previous result must be intact byte for byte (or,
// when the kill came after the swap, the new result complete), and a rerun
// must give the bytes of an uninterrupted run with no leftovers.

import (
	"encoding/json"
	"io/fs"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/reelmatch/reelmatch/internal/reeltest"
	"github.com/reelmatch/reelmatch/internal/synth"
)

var (
	binaryOnce sync.Once
	binaryDir  string // removed by TestMain
	binaryPath string
	binaryErr  error
)

// reelmatchBinary returns the path of an executable that is the reelmatch
// command: a two-line script that re-executes this test binary as the CLI
// (hostileCLIEnv, as the hostile harness does), so the code under test is
// exactly package main and nothing is built. The script execs, so the
// process a test signals is the CLI itself.
func reelmatchBinary(t testing.TB) string {
	t.Helper()
	binaryOnce.Do(func() {
		self, err := os.Executable()
		if err != nil {
			binaryErr = err
			return
		}
		if binaryDir, err = os.MkdirTemp("", "reelmatch-bin-"); err != nil {
			binaryErr = err
			return
		}
		binaryPath = filepath.Join(binaryDir, "reelmatch")
		script := "#!/bin/sh\n" + hostileCLIEnv + "=1 exec '" + strings.ReplaceAll(self, "'", `'\''`) + "' \"$@\"\n"
		binaryErr = os.WriteFile(binaryPath, []byte(script), 0o755)
	})
	if binaryErr != nil {
		t.Fatalf("reelmatch executable: %v", binaryErr)
	}
	return binaryPath
}

// snapshot reads every file under dir (relative path -> content). In
// history.json the per-epoch "seconds" are zeroed: they are wall-clock
// times, the only bytes two identical runs do not share.
func snapshot(t *testing.T, dir string) map[string]string {
	t.Helper()
	out := map[string]string{}
	err := filepath.WalkDir(dir, func(path string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		b, err := os.ReadFile(path)
		if err != nil {
			return err
		}
		rel, _ := filepath.Rel(dir, path)
		if d.Name() == "history.json" {
			b = zeroSeconds(t, b)
		}
		out[rel] = string(b)
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	return out
}

func zeroSeconds(t *testing.T, b []byte) []byte {
	t.Helper()
	var h map[string]any
	if err := json.Unmarshal(b, &h); err != nil {
		t.Fatalf("history.json: %v", err)
	}
	epochs, _ := h["epochs"].([]any)
	for _, e := range epochs {
		e.(map[string]any)["seconds"] = 0
	}
	out, err := json.Marshal(h)
	if err != nil {
		t.Fatal(err)
	}
	return out
}

// summary names the differences between two snapshots compactly (the
// files are binary).
func summary(want, got map[string]string) string {
	var diffs []string
	for k, v := range want {
		if g, ok := got[k]; !ok {
			diffs = append(diffs, "missing "+k)
		} else if g != v {
			diffs = append(diffs, "changed "+k)
		}
	}
	for k := range got {
		if _, ok := want[k]; !ok {
			diffs = append(diffs, "extra "+k)
		}
	}
	return strings.Join(diffs, ", ")
}

// fault is one way of stopping a command: a signal, sent after a delay or
// as soon as a file whose name starts with prefix appears in watch.
type fault struct {
	name   string
	signal syscall.Signal
	after  time.Duration
	watch  string // folder to watch; "" to wait for after only
	prefix string
}

// interrupt starts bin with args, stops it as f says and returns its exit
// code (-1 when killed by the signal) and stderr.
func interrupt(t *testing.T, f fault, bin string, args ...string) (int, string) {
	t.Helper()
	cmd := exec.Command(bin, args...)
	var stderr strings.Builder
	cmd.Stderr = &stderr
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	exited := make(chan error, 1)
	go func() { exited <- cmd.Wait() }()
	var err error
	wait := time.NewTimer(f.after)
	defer wait.Stop()
	select {
	case err = <-exited:
	case <-wait.C:
		for f.watch != "" {
			if entries, _ := os.ReadDir(f.watch); containsPrefix(entries, f.prefix) {
				break
			}
			select {
			case err = <-exited:
				return exitCode(t, err), stderr.String()
			default:
			}
			time.Sleep(200 * time.Microsecond)
		}
		cmd.Process.Signal(f.signal)
		err = <-exited
	}
	return exitCode(t, err), stderr.String()
}

func exitCode(t *testing.T, err error) int {
	t.Helper()
	if err == nil {
		return 0
	}
	ee, ok := err.(*exec.ExitError)
	if !ok {
		t.Fatal(err)
	}
	return ee.ExitCode()
}

func containsPrefix(entries []os.DirEntry, prefix string) bool {
	for _, e := range entries {
		if strings.HasPrefix(e.Name(), prefix) {
			return true
		}
	}
	return false
}

// TestTrainFaults kills `train` while it trains and while it writes: the
// previous run stays byte for byte (or the new one is complete, when the
// kill came after the swap), Ctrl-C and SIGTERM exit 130, and a rerun
// matches an uninterrupted run and leaves no temporary folder.
func TestTrainFaults(t *testing.T) {
	bin := reelmatchBinary(t)
	src := synthWork(t, synthTestMovies)
	work := copyWork(t, src)
	runDir := work.Run("builtin")
	before := snapshot(t, string(work))
	prevRun := snapshot(t, runDir)

	// The uninterrupted result, in a copy.
	refWork := copyWork(t, src)
	short := []string{"train", "-q", "--work", "", "--encoder", "builtin", "--epochs", "4", "--seed", "7", "--heads", "mlp"}
	args := func(w string, epochs string) []string {
		a := append([]string(nil), short...)
		a[3], a[7] = w, epochs
		return a
	}
	if _, stderr, code := runBinary(t, bin, args(string(refWork), "4")...); code != exitOK {
		t.Fatalf("reference train: exit %d: %s", code, stderr)
	}
	want := snapshot(t, refWork.Run("builtin"))
	if _, ok := want["eval_test.json"]; ok {
		t.Fatal("the new run kept the previous run's eval results")
	}

	for _, f := range []fault{
		{name: "kill at start", signal: syscall.SIGKILL, after: 20 * time.Millisecond},
		{name: "kill while training", signal: syscall.SIGKILL, after: 600 * time.Millisecond},
		{name: "SIGTERM while training", signal: syscall.SIGTERM, after: 600 * time.Millisecond},
		{name: "Ctrl-C while training", signal: syscall.SIGINT, after: 600 * time.Millisecond},
		{name: "kill while writing", signal: syscall.SIGKILL, watch: work.Runs(), prefix: ".builtin.tmp-"},
	} {
		t.Run(f.name, func(t *testing.T) {
			epochs := "1000" // cannot finish before the signal
			if f.watch != "" {
				epochs = "4" // must reach the write
			}
			code, stderr := interrupt(t, f, bin, args(string(work), epochs)...)
			got := snapshot(t, runDir)
			switch {
			case f.watch != "" && code == exitOK:
				t.Log("the write finished before the kill")
				if d := summary(want, got); d != "" {
					t.Errorf("new run after the swap differs from an uninterrupted one: %s", d)
				}
				// Put the previous run back for the next case.
				if err := os.RemoveAll(runDir); err != nil {
					t.Fatal(err)
				}
				if err := os.CopyFS(runDir, os.DirFS(filepath.Join(string(src), "runs", "builtin"))); err != nil {
					t.Fatal(err)
				}
				return
			case f.signal == syscall.SIGKILL && code != -1:
				t.Fatalf("exit %d, want killed; stderr %s", code, stderr)
			case f.signal != syscall.SIGKILL && (code != exitInterrupted || !strings.Contains(stderr, "interrupted")):
				t.Fatalf("exit %d, want %d; stderr %s", code, exitInterrupted, stderr)
			}
			if d := summary(prevRun, got); d != "" {
				t.Errorf("previous run not intact: %s", d)
			}
		})
	}

	// The rerun tidies every leftover and gives the uninterrupted bytes.
	if _, stderr, code := runBinary(t, bin, args(string(work), "4")...); code != exitOK {
		t.Fatalf("rerun: exit %d: %s", code, stderr)
	}
	if d := summary(want, snapshot(t, runDir)); d != "" {
		t.Errorf("rerun differs from an uninterrupted run: %s", d)
	}
	after := snapshot(t, string(work))
	for k := range before {
		if strings.HasPrefix(k, "runs"+string(filepath.Separator)) {
			delete(before, k)
			delete(after, k)
		}
	}
	if d := summary(before, after); d != "" {
		t.Errorf("train changed files outside its run folder: %s", d)
	}
	if entries, err := os.ReadDir(work.Runs()); err != nil || len(entries) != 1 {
		t.Errorf("runs/ holds %v (%v), want only builtin", entries, err)
	}
}

// TestPrepareFaults kills `prepare` at several points while it replaces a
// manifest: the manifest is the previous one or the complete new one,
// never torn, and a rerun writes the bytes of an uninterrupted prepare and
// removes any temporary file.
func TestPrepareFaults(t *testing.T) {
	bin := reelmatchBinary(t)
	root := t.TempDir()
	oldData, newData := filepath.Join(root, "old"), filepath.Join(root, "new")
	if err := synth.Write(oldData, 60, 1); err != nil {
		t.Fatal(err)
	}
	if err := synth.Write(newData, 150, 2); err != nil {
		t.Fatal(err)
	}
	work, refWork := filepath.Join(root, "work"), filepath.Join(root, "ref")
	for _, c := range [][]string{
		{"prepare", "-q", "--data", oldData, "--work", work},
		{"prepare", "-q", "--data", newData, "--work", refWork},
	} {
		if _, stderr, code := runBinary(t, bin, c...); code != exitOK {
			t.Fatalf("%v: exit %d: %s", c, code, stderr)
		}
	}
	manifest := filepath.Join(work, "manifest.json")
	oldManifest := string(reeltest.ReadFile(t, manifest))
	newManifest := string(reeltest.ReadFile(t, filepath.Join(refWork, "manifest.json")))
	if oldManifest == newManifest {
		t.Fatal("the two datasets give the same manifest")
	}
	for _, f := range []fault{
		{name: "kill at start", signal: syscall.SIGKILL, after: 10 * time.Millisecond},
		{name: "kill while decoding", signal: syscall.SIGKILL, after: 80 * time.Millisecond},
		{name: "SIGTERM while decoding", signal: syscall.SIGTERM, after: 80 * time.Millisecond},
		{name: "kill while writing", signal: syscall.SIGKILL, watch: work, prefix: ".manifest.json.tmp-"},
	} {
		t.Run(f.name, func(t *testing.T) {
			code, stderr := interrupt(t, f, bin, "prepare", "-q", "--data", newData, "--work", work)
			got := string(reeltest.ReadFile(t, manifest))
			switch {
			case got == oldManifest:
			case got == newManifest && code == exitOK:
				t.Log("prepare finished before the signal")
				if err := os.WriteFile(manifest, []byte(oldManifest), 0o644); err != nil {
					t.Fatal(err)
				}
			default:
				t.Fatalf("manifest is neither the previous nor the new one (exit %d, stderr %s)", code, stderr)
			}
		})
	}
	if _, stderr, code := runBinary(t, bin, "prepare", "-q", "--data", newData, "--work", work); code != exitOK {
		t.Fatalf("rerun: exit %d: %s", code, stderr)
	}
	if got := string(reeltest.ReadFile(t, manifest)); got != newManifest {
		t.Error("rerun manifest differs from an uninterrupted prepare")
	}
	if diff := cmp.Diff([]string{"manifest.json"}, dirNames(t, work)); diff != "" {
		t.Errorf("WORK after the rerun (-want +got)\n%s", diff)
	}
}

// runBinary runs the built binary to completion.
func runBinary(t *testing.T, bin string, args ...string) (string, string, int) {
	t.Helper()
	cmd := exec.Command(bin, args...)
	var stdout, stderr strings.Builder
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	code := exitCode(t, cmd.Run())
	return stdout.String(), stderr.String(), code
}

func dirNames(t *testing.T, dir string) []string {
	t.Helper()
	entries, err := os.ReadDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	var out []string
	for _, e := range entries {
		out = append(out, e.Name())
	}
	return out
}
