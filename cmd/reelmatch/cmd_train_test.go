package main

import (
	"bytes"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/reelmatch/reelmatch/internal/heads"
	"github.com/reelmatch/reelmatch/internal/reeltest"
)

// TestTrainWritesRun trains on the synthetic WORK and checks the JSON
// result and every file of the run folder; a second run with the same seed
// writes identical weights.
func TestTrainWritesRun(t *testing.T) {
	work := copyWork(t, synthWork(t, synthTestMovies))
	args := []string{"--json", "train", "--work", string(work), "--encoder", "builtin", "--heads", "mlp",
		"--epochs", "3", "--hidden", "32,32", "--embed-dim", "16", "--seed", "5", "--patience", "0"}
	stdout, stderr, code := runCLI(t, args...)
	if code != exitOK {
		t.Fatalf("exit %d, stderr:\n%s", code, stderr)
	}
	var res TrainResult
	if err := json.Unmarshal([]byte(stdout), &res); err != nil {
		t.Fatalf("stdout is not one JSON object: %v\n%s", err, stdout)
	}
	// The default --average-epochs (15) averages all 3 epochs.
	if res.Heads != heads.KindMLP || res.EpochsRun != 3 || res.BestEpoch != 3 || res.AverageFrom != 1 || res.ValPairs == 0 || res.Validation == nil ||
		len(res.History) != 3 || res.Config == nil || res.Config.Seed != 5 {
		t.Errorf("result %+v", res)
	}
	for _, p := range []string{work.Heads("builtin"), work.RunConfig("builtin"), work.History("builtin"), work.LossPlot("builtin")} {
		if st, err := os.Stat(p); err != nil || st.Size() == 0 {
			t.Errorf("%s: %v", p, err)
		}
	}
	png, _ := os.ReadFile(work.LossPlot("builtin"))
	if !bytes.HasPrefix(png, []byte("\x89PNG")) {
		t.Errorf("loss.png is not a PNG")
	}
	m, err := heads.Load(work.Run("builtin"))
	if err != nil {
		t.Fatal(err)
	}
	if m.Settings.Encoder != "builtin" || m.Settings.Fingerprint == "" || m.Settings.BestEpoch != res.BestEpoch || m.Settings.AverageFrom != 1 || !m.Settings.Config.PreciseBN {
		t.Errorf("saved settings %+v", m.Settings)
	}
	first, _ := os.ReadFile(work.Heads("builtin"))
	if _, stderr, code := runCLI(t, args...); code != exitOK {
		t.Fatalf("second run: exit %d\n%s", code, stderr)
	}
	second, _ := os.ReadFile(work.Heads("builtin"))
	if !bytes.Equal(first, second) {
		t.Error("the same --seed wrote different heads.safetensors")
	}
}

// TestTrainIdentityHeadsCLIP: --heads none trains nothing for an encoder
// with a shared space, using the vectors in WORK only: the models folder
// embed was given is not needed again (the models cache is empty here).
func TestTrainIdentityHeadsCLIP(t *testing.T) {
	isolateCaches(t)
	data := writeDataset(t, threeMovies, []string{"1", "2", "3"}, "1\n3\n")
	work := filepath.Join(t.TempDir(), "work")
	if _, stderr, code := runCLI(t, "prepare", "-q", "--data", data, "--work", work); code != 0 {
		t.Fatalf("prepare: exit %d: %s", code, stderr)
	}
	if _, stderr, code := runCLI(t, "embed", "-q", "--work", work, "--encoder", "clip-vit-b32", "--models", reeltest.Models(t), "--backend", "ort"); code != 0 {
		t.Fatalf("embed: exit %d: %s", code, stderr)
	}
	stdout, stderr, code := runCLI(t, "--json", "train", "--work", work, "--encoder", "clip-vit-b32", "--heads", "none")
	if code != exitOK {
		t.Fatalf("train --heads none: exit %d: %s", code, stderr)
	}
	var res TrainResult
	if err := json.Unmarshal([]byte(stdout), &res); err != nil || res.Heads != heads.KindIdentity {
		t.Errorf("result %+v (%v), want identity heads", res, err)
	}
}

// TestTrainErrors covers the refusals: usage mistakes exit 2, missing
// features and identity heads for an encoder without a shared space exit 1
// with a message that says what to do.
func TestTrainErrors(t *testing.T) {
	work := copyWork(t, synthWork(t, synthTestMovies))
	if err := os.Remove(work.Features("builtin")); err != nil {
		t.Fatal(err)
	}
	shared := string(synthWork(t, synthTestMovies))
	for _, tc := range []struct {
		name string
		args []string
		code int
		want string
	}{
		{"missing features", []string{"train", "--work", string(work), "--encoder", "builtin"}, exitFailure, "run `reelmatch embed` first"},
		{"identity heads for builtin", []string{"train", "--work", shared, "--encoder", "builtin", "--heads", "none"}, exitFailure, "use --heads mlp"},
		{"unknown heads", []string{"train", "--work", shared, "--heads", "ridge"}, exitUsage, `--heads must be one of mlp, linear, cca, none`},
		{"bad val fraction", []string{"train", "--work", shared, "--val-fraction", "1"}, exitUsage, "--val-fraction"},
		{"bad dropout", []string{"train", "--work", shared, "--dropout", "1.5"}, exitUsage, "dropout"},
		{"zero epochs", []string{"train", "--work", shared, "--epochs", "0"}, exitUsage, "--epochs"},
		{"negative average", []string{"train", "--work", shared, "--average-epochs", "-1"}, exitUsage, "average-epochs"},
		{"lr-gamma nan", []string{"train", "--work", shared, "--lr-gamma", "nan"}, exitUsage, `"--lr-gamma" flag: must be a finite number in (0, 1], got NaN`},
		{"too big to train", []string{"train", "--work", shared, "--heads", "mlp", "--hidden", "8192,8192,8192"}, exitUsage, "GiB to train, over the 2 GiB limit"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, stderr, code := runCLI(t, tc.args...)
			if code != tc.code || !strings.Contains(stderr, tc.want) {
				t.Fatalf("exit %d, want %d; stderr %q does not contain %q", code, tc.code, stderr, tc.want)
			}
		})
	}
}
