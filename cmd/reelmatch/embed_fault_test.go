package main

import (
	"bytes"
	"encoding/json"
	"os"
	"os/exec"
	"path/filepath"
	"syscall"
	"testing"
	"time"

	"github.com/reelmatch/reelmatch/internal/encoder/builtin"
	"github.com/reelmatch/reelmatch/internal/workdir"
)

// Sizes of the builtin encoder's checkpoint records: kind, hash length, a
// 64-character hex hash, the floats, a CRC.
const (
	imageRecord = 2 + 64 + 4*371 + 4
	textRecord  = 2 + 64 + 4*builtin.DefaultTextDim + 4
)

// checkpointRows counts the complete image and text records of a builtin
// checkpoint: every intro comes first, then posters.
func checkpointRows(t *testing.T, path string, movies int) (images, texts int) {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("read checkpoint: %v", err)
	}
	// The header is two lines: the magic and the JSON.
	first := bytes.IndexByte(b, '\n')
	second := bytes.IndexByte(b[first+1:], '\n')
	if first < 0 || second < 0 {
		return 0, 0
	}
	body := len(b) - (first + 1 + second + 1)
	texts = min(body/textRecord, movies)
	return (body - texts*textRecord) / imageRecord, texts
}

// embedCounts is the part of `embed --json` the fault test reads.
type embedCounts struct {
	Movies         int `json:"movies"`
	Reused         int `json:"reused"`
	ImagesComputed int `json:"images_computed"`
	ImagesReused   int `json:"images_reused"`
	ImagesResumed  int `json:"images_resumed"`
	TextsReused    int `json:"texts_reused"`
	TextsComputed  int `json:"texts_computed"`
	TextsResumed   int `json:"texts_resumed"`
}

// TestEmbedKillResume kills the real binary with SIGKILL at several points
// of `embed` (as soon as its checkpoint exists, after one batch of posters,
// half-way, near the end, and twice in a row), reruns it, and checks
// that the rerun reuses exactly the rows the checkpoint held and writes the
// same bytes (cache and fitted state) as an uninterrupted run.
func TestEmbedKillResume(t *testing.T) {
	t.Setenv("REELMATCH_ENCODER", "")
	bin := reelmatchBinary(t)
	const movies = 200
	base := preparedWork(t, movies)
	embedArgs := []string{"-q", "embed", "--encoder", "builtin", "--batch", "4", "--work"}

	ref := copyWork(t, workdir.Dir(base))
	if out, err := exec.Command(bin, append(embedArgs, string(ref))...).CombinedOutput(); err != nil {
		t.Fatalf("uninterrupted embed: %v\n%s", err, out)
	}
	wantCache, _ := os.ReadFile(ref.Features("builtin"))
	wantState, _ := os.ReadFile(ref.EncoderState("builtin"))
	if len(wantCache) == 0 || len(wantState) == 0 {
		t.Fatal("the uninterrupted run wrote no cache or state")
	}

	// killAt starts embed on work and kills it once the checkpoint holds at
	// least rows image records; it returns false if embed finished first.
	killAt := func(t *testing.T, work workdir.Dir, rows int) bool {
		t.Helper()
		cmd := exec.Command(bin, append(embedArgs, string(work))...)
		if err := cmd.Start(); err != nil {
			t.Fatal(err)
		}
		exited := make(chan error, 1)
		go func() { exited <- cmd.Wait() }()
		ck := work.Checkpoint("builtin", 0, 0)
		deadline := time.Now().Add(60 * time.Second)
		for {
			select {
			case err := <-exited:
				t.Logf("embed exited (%v) before the kill point of %d rows", err, rows)
				return false
			default:
			}
			if st, err := os.Stat(ck); err == nil && st.Size() > 0 {
				if n, _ := checkpointRows(t, ck, movies); n >= rows {
					break
				}
			}
			if time.Now().After(deadline) {
				cmd.Process.Kill()
				t.Fatalf("checkpoint never reached %d rows", rows)
			}
			time.Sleep(200 * time.Microsecond)
		}
		if err := cmd.Process.Signal(syscall.SIGKILL); err != nil {
			t.Fatal(err)
		}
		err := <-exited
		if ws, ok := cmd.ProcessState.Sys().(syscall.WaitStatus); !ok || !ws.Signaled() || ws.Signal() != syscall.SIGKILL {
			t.Logf("embed ended with %v, not by SIGKILL (it had finished)", err)
			return false
		}
		return true
	}

	tests := []struct {
		name  string
		kills []int // kill points, in image rows of the checkpoint
	}{
		{"checkpoint just created", []int{0}},
		{"after one batch", []int{4}},
		{"half-way", []int{movies / 2}},
		{"near the end of the posters", []int{movies * 3 / 4}},
		{"killed again while resuming", []int{movies / 4, movies / 2}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			work := copyWork(t, workdir.Dir(base))
			for _, rows := range tt.kills {
				if !killAt(t, work, rows) {
					t.Fatalf("embed finished before the kill at %d rows: the data set is too small for this machine", rows)
				}
			}
			images, texts := checkpointRows(t, work.Checkpoint("builtin", 0, 0), movies)
			out, err := exec.Command(bin, "--json", "embed", "--encoder", "builtin", "--batch", "4", "--work", string(work)).Output()
			if err != nil {
				t.Fatalf("rerun: %v", err)
			}
			var got embedCounts
			if err := json.Unmarshal(out, &got); err != nil {
				t.Fatalf("rerun JSON: %v\n%s", err, out)
			}
			t.Logf("killed at %v rows; checkpoint held %d poster and %d intro rows; rerun: reused %d movies, resumed %d posters and %d intros, computed %d posters and %d intros",
				tt.kills, images, texts, got.Reused, got.ImagesResumed, got.TextsResumed, got.ImagesComputed, got.TextsComputed)
			if got.ImagesResumed != images || got.TextsResumed != texts {
				t.Errorf("rerun resumed %d posters and %d intros, the checkpoint held %d and %d", got.ImagesResumed, got.TextsResumed, images, texts)
			}
			if got.ImagesComputed != movies-images || got.ImagesReused != images || got.Movies != movies {
				t.Errorf("rerun computed %d posters and reused %d of %d; want %d and %d", got.ImagesComputed, got.ImagesReused, got.Movies, movies-images, images)
			}
			// Intros go first, so once a poster is done its movie is whole.
			if texts == movies && got.Reused != images {
				t.Errorf("rerun reused %d movies, want the %d whose poster and intro were in the checkpoint", got.Reused, images)
			}
			if cache, _ := os.ReadFile(work.Features("builtin")); !bytes.Equal(cache, wantCache) {
				t.Errorf("cache after the kill and rerun (%d bytes) differs from the uninterrupted run's (%d bytes)", len(cache), len(wantCache))
			}
			if state, _ := os.ReadFile(work.EncoderState("builtin")); !bytes.Equal(state, wantState) {
				t.Error("fitted state after the kill and rerun differs from the uninterrupted run's")
			}
			if _, err := os.Stat(work.Checkpoint("builtin", 0, 0)); !os.IsNotExist(err) {
				t.Errorf("checkpoint left after the rerun finished (stat: %v)", err)
			}
			if entries, _ := filepath.Glob(filepath.Join(string(work), "features", ".*tmp*")); len(entries) != 0 {
				t.Errorf("temporary files left: %v", entries)
			}
		})
	}
}
