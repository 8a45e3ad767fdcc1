package main

// The hostile-input harness (issue 10): each hostileCase runs the reelmatch
// command line as a subprocess, as a hostile user would, and checks that it
// answers with the expected exit code and message within seconds, with
// bounded memory, without a Go runtime crash, and without changing what it
// must not change.
//
// How to add cases (any _test.go file of this package):
//
//	func TestHostileMyArea(t *testing.T) {
//		runHostileCases(t, []hostileCase{{
//			Name:   "search --image on a FIFO",
//			Setup:  func(t *testing.T, dir string) { hostileWork(t, dir); mkfifo(t, dir, "q.png") },
//			Args:   []string{"search", "--work", "$DIR/work", "--image", "$DIR/q.png"},
//			Exit:   exitFailure,
//			Stderr: []string{"q.png: is a named pipe (FIFO)"},
//		}})
//	}
//
// The subprocess is this test binary re-executed as the CLI (see init
// below), so no separate build is needed and the code under test is
// exactly package main. It runs with:
//   - an address-space limit (ulimit -v, default hostileAddressSpace), so
//     an unbounded read fails the case instead of the machine;
//   - a CPU-time limit and a wall-clock timeout (default 20 s), after
//     which the whole process group is killed;
//   - HOME and XDG_CACHE_HOME inside the case folder, no REELMATCH_*
//     variables but the case's Env, ORT_LIB passed through.
//
// After the run it checks, in this order: the process ended in time; its
// stderr holds no Go panic or fatal error; the exit code; each Stderr and
// Stdout fragment; the peak RSS (getrusage) against MaxRSS (default
// 1 GiB); and that every path in Unchanged (default: the whole case
// folder) holds exactly the files, bytes, modes and symlinks it held
// before the run (new files, such as a leftover temporary file, count as
// changes).

import (
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"io"
	"io/fs"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/reelmatch/reelmatch/internal/synth"
)

// hostileCLIEnv, when set to 1, makes the test binary run the CLI instead
// of the tests: the harness re-executes itself with it.
const hostileCLIEnv = "REELMATCH_TEST_RUN_CLI"

func init() {
	if os.Getenv(hostileCLIEnv) == "1" {
		main() // exits
	}
}

// Defaults of a hostileCase.
const (
	// hostileAddressSpace is the default ulimit -v: the Go runtime, cgo
	// threads and ONNX Runtime need about 1 GiB of address space to start;
	// 4 GiB stops an unbounded read long before the machine suffers.
	hostileAddressSpace = 4 << 30
	hostileTimeout      = 20 * time.Second
	hostileMaxRSS       = 1 << 30
)

// hostileCase is one run of the CLI on hostile input.
type hostileCase struct {
	Name string
	// Setup builds the inputs in dir, the case's fresh folder ($DIR).
	Setup func(t *testing.T, dir string)
	// Args is the command line after "reelmatch"; "$DIR" in an argument
	// is replaced by the case's folder.
	Args []string
	// Env adds KEY=VALUE variables ("$DIR" replaced too).
	Env []string
	// Exit is the expected exit code.
	Exit int
	// Stderr and Stdout are fragments that must all appear ("$DIR"
	// replaced).
	Stderr, Stdout []string
	// Unchanged lists paths relative to the case folder whose content
	// must be the same after the run; nil means the whole folder, an
	// empty non-nil slice nothing.
	Unchanged []string
	// Timeout bounds the run (default 20 s); MaxRSS the peak resident
	// memory (default 1 GiB); AddressSpace the ulimit -v (default 4 GiB).
	Timeout      time.Duration
	MaxRSS       int64
	AddressSpace int64
	// InterruptWhen, when set, sends SIGINT once stderr contains it
	// ("" with InterruptAfter set: after that delay).
	InterruptWhen  string
	InterruptAfter time.Duration
	// Live, when set, runs while the command does (a server, say); when it
	// returns, the command gets SIGTERM if it is still running.
	Live func(t *testing.T, p *hostileProc)
	// Check, when set, runs last with the case folder and the result.
	Check func(t *testing.T, dir string, r hostileResult)
}

// hostileProc is a running case, for Live.
type hostileProc struct {
	Dir            string
	Pid            int
	Stdout, Stderr *syncBuffer
}

// WaitStdout waits up to d for stdout to contain frag and returns stdout.
func (p *hostileProc) WaitStdout(t testing.TB, frag string, d time.Duration) string {
	t.Helper()
	for deadline := time.Now().Add(d); !strings.Contains(p.Stdout.String(), frag); time.Sleep(20 * time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatalf("stdout lacks %q after %s; stderr:\n%s", frag, d, p.Stderr.String())
		}
	}
	return p.Stdout.String()
}

// Memory reads the process's current and peak resident memory in bytes
// (VmRSS and VmHWM of /proc/PID/status).
func (p *hostileProc) Memory(t testing.TB) (rss, peak int64) {
	t.Helper()
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", p.Pid))
	if err != nil {
		t.Fatal(err)
	}
	for _, line := range strings.Split(string(b), "\n") {
		var kb int64
		if _, err := fmt.Sscanf(line, "VmRSS: %d kB", &kb); err == nil {
			rss = kb << 10
		}
		if _, err := fmt.Sscanf(line, "VmHWM: %d kB", &kb); err == nil {
			peak = kb << 10
		}
	}
	return rss, peak
}

// hostileResult is what a run produced.
type hostileResult struct {
	Exit           int
	Stdout, Stderr string
	MaxRSS         int64 // bytes
	Elapsed        time.Duration
}

// runHostileCases runs each case as a subtest.
func runHostileCases(t *testing.T, cases []hostileCase) {
	t.Helper()
	for _, c := range cases {
		t.Run(c.Name, func(t *testing.T) { runHostile(t, c) })
	}
}

// runHostile runs one case and checks it; see the file comment.
func runHostile(t *testing.T, c hostileCase) hostileResult {
	t.Helper()
	dir := t.TempDir()
	if c.Setup != nil {
		c.Setup(t, dir)
	}
	sub := func(s string) string { return strings.ReplaceAll(s, "$DIR", dir) }
	unchanged := c.Unchanged
	if unchanged == nil {
		unchanged = []string{"."}
	}
	before := make([]map[string]string, len(unchanged))
	for i, p := range unchanged {
		before[i] = treeDigest(t, filepath.Join(dir, p))
	}
	timeout := cmpOr(c.Timeout, hostileTimeout)
	as := cmpOr(c.AddressSpace, hostileAddressSpace)
	self, err := os.Executable()
	if err != nil {
		t.Fatal(err)
	}
	args := []string{"-c", fmt.Sprintf(`ulimit -v %d && ulimit -t %d && exec "$0" "$@"`, as>>10, int(timeout.Seconds())+5), self}
	for _, a := range c.Args {
		args = append(args, sub(a))
	}
	cmd := exec.Command("/bin/sh", args...)
	cmd.Dir = dir
	cmd.Env = hostileEnv(dir)
	for _, e := range c.Env {
		cmd.Env = append(cmd.Env, sub(e))
	}
	stdout, stderr := &syncBuffer{}, &syncBuffer{}
	cmd.Stdout, cmd.Stderr = stdout, stderr
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	start := time.Now()
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	done := make(chan error, 1)
	go func() { done <- cmd.Wait() }()
	var interrupt <-chan time.Time
	if c.InterruptWhen != "" || c.InterruptAfter > 0 {
		stop := make(chan struct{})
		defer close(stop)
		interrupt = stderr.when(c.InterruptWhen, c.InterruptAfter, stop)
	}
	// Whatever happens below, the process group dies at the timeout.
	timedOut := false
	var killMu sync.Mutex
	killer := time.AfterFunc(timeout, func() {
		killMu.Lock()
		timedOut = true
		killMu.Unlock()
		_ = syscall.Kill(-cmd.Process.Pid, syscall.SIGKILL)
	})
	defer killer.Stop()
	if c.Live != nil {
		p := &hostileProc{Dir: dir, Pid: cmd.Process.Pid, Stdout: stdout, Stderr: stderr}
		func() {
			// Also when Live fails the test: stop the command.
			defer func() { _ = cmd.Process.Signal(syscall.SIGTERM) }()
			c.Live(t, p)
		}()
	}
	var waitErr error
wait:
	for {
		select {
		case waitErr = <-done:
			break wait
		case <-interrupt:
			interrupt = nil
			_ = cmd.Process.Signal(os.Interrupt)
		}
	}
	r := hostileResult{Stdout: stdout.String(), Stderr: stderr.String(), Elapsed: time.Since(start)}
	killMu.Lock()
	defer killMu.Unlock()
	if timedOut {
		t.Fatalf("%q did not finish within %s (killed)\nstderr:\n%s", c.Args, timeout, r.Stderr)
	}
	if cmd.ProcessState == nil {
		t.Fatalf("run %q: %v", c.Args, waitErr)
	}
	r.Exit = cmd.ProcessState.ExitCode()
	if ru, ok := cmd.ProcessState.SysUsage().(*syscall.Rusage); ok {
		r.MaxRSS = ru.Maxrss << 10 // kilobytes on Linux
	}
	for _, crash := range []string{"panic:", "fatal error:", "goroutine 1 [", "SIGSEGV", "SIGABRT"} {
		if strings.Contains(r.Stderr, crash) {
			t.Fatalf("%q crashed (%q in stderr; exit %d, peak RSS %d MiB):\n%s", c.Args, crash, r.Exit, r.MaxRSS>>20, r.Stderr)
		}
	}
	if ws, ok := cmd.ProcessState.Sys().(syscall.WaitStatus); ok && ws.Signaled() {
		t.Fatalf("%q was killed by %v (peak RSS %d MiB); stderr:\n%s", c.Args, ws.Signal(), r.MaxRSS>>20, r.Stderr)
	}
	if r.Exit != c.Exit {
		t.Errorf("%q: exit %d, want %d\nstdout:\n%s\nstderr:\n%s", c.Args, r.Exit, c.Exit, r.Stdout, r.Stderr)
	}
	for _, f := range c.Stderr {
		if !strings.Contains(r.Stderr, sub(f)) {
			t.Errorf("%q: stderr lacks %q:\n%s", c.Args, sub(f), r.Stderr)
		}
	}
	for _, f := range c.Stdout {
		if !strings.Contains(r.Stdout, sub(f)) {
			t.Errorf("%q: stdout lacks %q:\n%s", c.Args, sub(f), r.Stdout)
		}
	}
	if maxRSS := cmpOr(c.MaxRSS, hostileMaxRSS); r.MaxRSS > maxRSS && !raceDetector {
		t.Errorf("%q: peak RSS %d MiB, over %d MiB", c.Args, r.MaxRSS>>20, maxRSS>>20)
	}
	for i, p := range unchanged {
		if diff := digestDiff(before[i], treeDigest(t, filepath.Join(dir, p))); diff != "" {
			t.Errorf("%q changed %s:\n%s", c.Args, p, diff)
		}
	}
	if c.Check != nil {
		c.Check(t, dir, r)
	}
	return r
}

func cmpOr[T comparable](v, def T) T {
	var zero T
	if v == zero {
		return def
	}
	return v
}

// hostileEnv is the environment of a case: the test's own minus REELMATCH_*
// and the cache and home folders, which point inside the case folder.
func hostileEnv(dir string) []string {
	var env []string
	for _, e := range os.Environ() {
		name, _, _ := strings.Cut(e, "=")
		if strings.HasPrefix(name, "REELMATCH_") || name == "HOME" || name == "XDG_CACHE_HOME" || name == hostileCLIEnv {
			continue
		}
		env = append(env, e)
	}
	return append(env, hostileCLIEnv+"=1", "HOME="+filepath.Join(dir, ".home"), "XDG_CACHE_HOME="+filepath.Join(dir, ".home", ".cache"))
}

// treeDigest maps every path under root (relative, "." for root itself)
// to its type, mode and content: a SHA-256 for regular files, the target
// for symlinks, nothing else for folders, FIFOs and devices, which are
// never opened. A missing root maps to nothing.
func treeDigest(t *testing.T, root string) map[string]string {
	t.Helper()
	out := map[string]string{}
	err := filepath.WalkDir(root, func(path string, d fs.DirEntry, err error) error {
		if err != nil {
			if os.IsNotExist(err) && path == root {
				return nil
			}
			return err
		}
		rel, _ := filepath.Rel(root, path)
		if rel == ".home" {
			return filepath.SkipDir // the case's HOME: caches may appear there
		}
		info, err := d.Info()
		if err != nil {
			return err
		}
		desc := info.Mode().String()
		switch {
		case info.Mode().IsRegular():
			sum, err := fileDigest(path, info)
			if err != nil {
				return err
			}
			desc += " " + sum
		case info.Mode()&fs.ModeSymlink != 0:
			target, err := os.Readlink(path)
			if err != nil {
				return err
			}
			desc += " -> " + target
		}
		out[rel] = desc
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	return out
}

// fileDigest is the SHA-256 of a file's bytes, or for a file over 64 MiB
// (the sparse giants of the cases) of its first and last MiB with its size
// and modification time.
func fileDigest(path string, info fs.FileInfo) (string, error) {
	f, err := os.Open(path)
	if err != nil {
		return "", err
	}
	defer f.Close()
	h := sha256.New()
	if info.Size() <= 64<<20 {
		if _, err := io.Copy(h, f); err != nil {
			return "", err
		}
	} else {
		fmt.Fprintf(h, "%d %d", info.Size(), info.ModTime().UnixNano())
		if _, err := io.Copy(h, io.NewSectionReader(f, 0, 1<<20)); err != nil {
			return "", err
		}
		if _, err := io.Copy(h, io.NewSectionReader(f, info.Size()-1<<20, 1<<20)); err != nil {
			return "", err
		}
	}
	return hex.EncodeToString(h.Sum(nil)[:8]), nil
}

// digestDiff lists the paths whose digests differ, one per line.
func digestDiff(before, after map[string]string) string {
	var lines []string
	for p, d := range before {
		switch a, ok := after[p]; {
		case !ok:
			lines = append(lines, "removed "+p)
		case a != d:
			lines = append(lines, fmt.Sprintf("changed %s: %s -> %s", p, d, a))
		}
	}
	for p := range after {
		if _, ok := before[p]; !ok {
			lines = append(lines, "added "+p)
		}
	}
	slices.Sort(lines)
	return strings.Join(lines, "\n")
}

// when returns a channel that fires once the buffer contains frag (or at
// once for "") and then after delay, unless stop closes first.
func (w *syncBuffer) when(frag string, delay time.Duration, stop <-chan struct{}) <-chan time.Time {
	ch := make(chan time.Time, 1)
	go func() {
		for frag != "" && !strings.Contains(w.String(), frag) {
			select {
			case <-stop:
				return
			case <-time.After(20 * time.Millisecond):
			}
		}
		select {
		case <-stop:
		case <-time.After(delay):
			ch <- time.Now()
		}
	}()
	return ch
}

// Fixtures for cases.

// hostileWork copies the shared synthetic WORK (240 movies, builtin
// encoder, trained) into dir/work and its data into dir/data, for cases
// that attack search, serve or a rerun.
func hostileWork(t *testing.T, dir string) {
	t.Helper()
	work := synthWork(t, synthTestMovies)
	if err := os.CopyFS(filepath.Join(dir, "work"), os.DirFS(string(work))); err != nil {
		t.Fatal(err)
	}
}

// hostileData writes a synthetic dataset of n movies to dir/data.
func hostileData(t *testing.T, dir string, n int) string {
	t.Helper()
	data := filepath.Join(dir, "data")
	if err := synth.Write(data, n, 1); err != nil {
		t.Fatal(err)
	}
	return data
}

// mkfifo makes a named pipe at dir/name.
func mkfifo(t *testing.T, dir, name string) string {
	t.Helper()
	p := filepath.Join(dir, name)
	if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := syscall.Mkfifo(p, 0o644); err != nil {
		t.Fatal(err)
	}
	return p
}

// symlink makes dir/name point at target.
func symlink(t *testing.T, dir, name, target string) string {
	t.Helper()
	p := filepath.Join(dir, name)
	if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.Remove(p); err != nil && !os.IsNotExist(err) {
		t.Fatal(err)
	}
	if err := os.Symlink(target, p); err != nil {
		t.Fatal(err)
	}
	return p
}

// sparseFile makes dir/name a file of size bytes that takes no disk.
func sparseFile(t *testing.T, dir, name string, size int64) string {
	t.Helper()
	p := filepath.Join(dir, name)
	if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
		t.Fatal(err)
	}
	f, err := os.Create(p)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	if err := f.Truncate(size); err != nil {
		t.Fatal(err)
	}
	return p
}
