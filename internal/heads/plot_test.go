package heads

import (
	"image/png"
	"os"
	"path/filepath"
	"testing"
)

func TestKeptLabel(t *testing.T) {
	for _, tc := range []struct {
		name string
		h    History
		want string
	}{
		{"best epoch", History{BestEpoch: 12}, "kept: epoch 12"},
		{"averaged", History{BestEpoch: 30, AverageFrom: 16}, "kept: mean of epochs 16-30"},
		{"average of one", History{BestEpoch: 5, AverageFrom: 5}, "kept: epoch 5"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if got := keptLabel(&tc.h); got != tc.want {
				t.Errorf("keptLabel = %q, want %q", got, tc.want)
			}
		})
	}
}

// TestWriteLossPlot draws an averaged run's curve: a PNG of the set size.
func TestWriteLossPlot(t *testing.T) {
	h := &History{BestEpoch: 4, AverageFrom: 3}
	for e := 1; e <= 4; e++ {
		h.Epochs = append(h.Epochs, EpochStats{Epoch: e, TrainLoss: 3 - 0.3*float64(e)})
	}
	path := filepath.Join(t.TempDir(), "loss.png")
	if err := h.WriteLossPlot(path); err != nil {
		t.Fatal(err)
	}
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	cfg, err := png.DecodeConfig(f)
	if err != nil {
		t.Fatal(err)
	}
	if cfg.Width != 8*96 || cfg.Height != 5*96 {
		t.Errorf("plot is %dx%d, want 768x480", cfg.Width, cfg.Height)
	}
}
