package heads

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"math"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/reelmatch/reelmatch/internal/safetensors"
)

// TestValidate covers every setting's range, NaN and ±Inf included (a NaN
// compares false with everything, so each check must refuse it).
func TestValidate(t *testing.T) {
	nan, inf := math.NaN(), math.Inf(1)
	for _, tc := range []struct {
		name string
		set  func(*Config)
		want string // "" for valid
	}{
		{"defaults", func(*Config) {}, ""},
		{"no hidden layers", func(c *Config) { c.Hidden = nil }, ""},
		{"lr-gamma nan", func(c *Config) { c.LRGamma = nan }, "lr-gamma must be a finite number in (0, 1], got NaN"},
		{"lr-gamma above 1", func(c *Config) { c.LRGamma = 1.5 }, "lr-gamma must be in (0, 1], got 1.5"},
		{"temperature nan", func(c *Config) { c.Temperature = nan }, "temperature must be a finite number"},
		{"temperature inf", func(c *Config) { c.Temperature = inf }, "temperature must be a finite number"},
		{"temperature zero", func(c *Config) { c.Temperature = 0 }, "temperature must be in [0.001, 10], got 0"},
		{"lr nan", func(c *Config) { c.LR = nan }, "lr must be a finite number"},
		{"lr negative", func(c *Config) { c.LR = -1e-3 }, "lr must be in (0, 1]"},
		{"dropout nan", func(c *Config) { c.Dropout = nan }, "dropout must be a finite number"},
		{"dropout one", func(c *Config) { c.Dropout = 1 }, "dropout must be in [0, 1), got 1"},
		{"input-dropout -inf", func(c *Config) { c.InputDropout = math.Inf(-1) }, "input-dropout must be a finite number"},
		{"weight-decay nan", func(c *Config) { c.WeightDecay = nan }, "weight-decay must be a finite number"},
		{"batch one", func(c *Config) { c.BatchSize = 1 }, "batch must be in [2, 4096], got 1"},
		{"batch huge", func(c *Config) { c.BatchSize = 1 << 30 }, "batch must be in [2, 4096]"},
		{"epochs zero", func(c *Config) { c.Epochs = 0 }, "epochs must be in [1, 10000], got 0"},
		{"lr-step negative", func(c *Config) { c.LRStep = -1 }, "lr-step must be in [0, 10000], got -1"},
		{"patience negative", func(c *Config) { c.Patience = -2 }, "patience must be in [0, 10000]"},
		{"average-epochs huge", func(c *Config) { c.AverageEpochs = 5000 }, "average-epochs must be in [0, 1000]"},
		{"embed-dim zero", func(c *Config) { c.EmbedDim = 0 }, "embed-dim must be in [1, 4096], got 0"},
		{"hidden absurd", func(c *Config) { c.Hidden = []int{256, 100_000_000} }, "hidden size of layer 2 must be in [1, 8192], got 100000000"},
		{"hidden zero", func(c *Config) { c.Hidden = []int{0} }, "hidden size of layer 1 must be in [1, 8192], got 0"},
		{"too many layers", func(c *Config) { c.Hidden = make([]int, 9) }, "number of hidden layers must be in [0, 8], got 9"},
		{"input size zero", func(c *Config) { c.ImageDim = 0 }, "image input size must be in [1, 1048576], got 0"},
		{"too big to train", func(c *Config) { c.Hidden = []int{8192, 8192, 8192} }, "GiB to train, over the 2 GiB limit"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			c := DefaultConfig()
			c.ImageDim, c.TextDim = 2048, 768
			tc.set(&c)
			err := c.Validate()
			if tc.want == "" {
				if err != nil {
					t.Fatalf("Validate: %v", err)
				}
				return
			}
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("Validate: %v, want %q", err, tc.want)
			}
			if !errors.Is(err, ErrBadConfig) {
				t.Errorf("%v does not wrap ErrBadConfig", err)
			}
		})
	}
}

// TestDefaultsFitTheBudget checks the default heads on the largest
// features reelmatch ships (ResNet-50 and DistilBERT) are far under
// MaxTrainBytes.
func TestDefaultsFitTheBudget(t *testing.T) {
	c := DefaultConfig()
	c.ImageDim, c.TextDim = 2048, 768
	if b := c.TrainBytes(); b > MaxTrainBytes/10 {
		t.Errorf("defaults need %d bytes, over a tenth of the %d limit", b, int64(MaxTrainBytes))
	}
}

// TestTrainRefusesNonFiniteFeatures checks a NaN or Inf in the features is
// an error naming the row before any training step.
func TestTrainRefusesNonFiniteFeatures(t *testing.T) {
	img, txt := synthPairs(40, 8, 6, 3, 0.3, 6)
	img[7] = append([]float32(nil), img[7]...)
	img[7][2] = float32(math.NaN())
	_, _, err := Train(context.Background(), img, txt, nil, smallConfig(), TrainOptions{})
	if err == nil || !strings.Contains(err.Error(), "training poster features row 7: value 2 is NaN") {
		t.Fatalf("Train: %v", err)
	}
	img, txt = synthPairs(40, 8, 6, 3, 0.3, 6)
	val := &Pairs{Img: img[:4], Txt: append([][]float32{{1, 2, float32(math.Inf(-1)), 4, 5, 6}}, txt[1:4]...)}
	_, _, err = Train(context.Background(), img, txt, val, smallConfig(), TrainOptions{})
	if err == nil || !strings.Contains(err.Error(), "validation intro features row 0: value 2 is -Inf") {
		t.Fatalf("Train with bad validation: %v", err)
	}
}

// TestLoadRefusesDamagedWeights writes heads whose file holds NaN, Inf or
// a negative variance: Load names the file and the tensor and says to
// train again, instead of projecting NaN.
func TestLoadRefusesDamagedWeights(t *testing.T) {
	cfg := smallConfig()
	cfg.ImageDim, cfg.TextDim = 8, 6
	for _, tc := range []struct {
		name   string
		tensor string
		value  float32
		want   string
	}{
		{"nan weight", "img.net.0.weight", float32(math.NaN()), `tensor "img.net.0.weight" value 3 is NaN`},
		{"inf bias", "txt.net.12.bias", float32(math.Inf(1)), `tensor "txt.net.12.bias" value 3 is +Inf`},
		{"negative variance", "img.net.5.running_var", -1, `tensor "img.net.5.running_var" value 3 is -1, a variance cannot be negative`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			dir := t.TempDir()
			if err := newModel(cfg, newWeights(cfg, 1)).Save(dir); err != nil {
				t.Fatal(err)
			}
			path := filepath.Join(dir, WeightsFile)
			f, err := safetensors.ReadFile(path)
			if err != nil {
				t.Fatal(err)
			}
			f.Tensors[tc.tensor].F32[3] = tc.value
			if err := safetensors.WriteFile(path, f.Tensors, f.Metadata); err != nil {
				t.Fatal(err)
			}
			// As a broken trainer would: the checksum matches the bad file.
			recordChecksum(t, dir)
			_, err = Load(dir)
			for _, want := range []string{tc.want, path, "run `reelmatch train` again"} {
				if err == nil || !strings.Contains(err.Error(), want) {
					t.Errorf("Load: %v, want it to contain %q", err, want)
				}
			}
		})
	}
}

// recordChecksum rewrites config.json in dir with the checksum of the
// heads file there.
func recordChecksum(t *testing.T, dir string) {
	t.Helper()
	s, err := ReadSettings(dir)
	if err != nil {
		t.Fatal(err)
	}
	b, err := os.ReadFile(filepath.Join(dir, WeightsFile))
	if err != nil {
		t.Fatal(err)
	}
	sum := sha256.Sum256(b)
	s.HeadsSHA256 = hex.EncodeToString(sum[:])
	js, err := json.Marshal(s)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, SettingsFile), js, 0o644); err != nil {
		t.Fatal(err)
	}
}

// TestLoadChecksum covers the corruptions of a run folder the
// checksum in config.json catches: a flipped byte anywhere in the weights,
// two rows swapped, another run's weights, a missing checksum.
func TestLoadChecksum(t *testing.T) {
	cfg := smallConfig()
	cfg.ImageDim, cfg.TextDim = 8, 6
	save := func(t *testing.T, seed int64) string {
		dir := t.TempDir()
		if err := newModel(cfg, newWeights(cfg, seed)).Save(dir); err != nil {
			t.Fatal(err)
		}
		return dir
	}
	const mismatch = "does not match the checksum config.json recorded when it was trained"
	for _, tc := range []struct {
		name   string
		damage func(t *testing.T, dir string)
		want   string
	}{
		{"intact", func(*testing.T, string) {}, ""},
		{"flipped byte in the data", func(t *testing.T, dir string) { flipByte(t, filepath.Join(dir, WeightsFile), -100) }, mismatch},
		{"flipped byte in the header", func(t *testing.T, dir string) { flipByte(t, filepath.Join(dir, WeightsFile), 40) }, mismatch},
		{"rows swapped", func(t *testing.T, dir string) {
			path := filepath.Join(dir, WeightsFile)
			f, err := safetensors.ReadFile(path)
			if err != nil {
				t.Fatal(err)
			}
			w := f.Tensors["img.net.0.weight"].F32 // [32, 8]
			for j := range 8 {
				w[j], w[8+j] = w[8+j], w[j]
			}
			if err := safetensors.WriteFile(path, f.Tensors, f.Metadata); err != nil {
				t.Fatal(err)
			}
		}, mismatch},
		{"another run's weights", func(t *testing.T, dir string) {
			other := save(t, 2)
			b, err := os.ReadFile(filepath.Join(other, WeightsFile))
			if err != nil {
				t.Fatal(err)
			}
			if err := os.WriteFile(filepath.Join(dir, WeightsFile), b, 0o644); err != nil {
				t.Fatal(err)
			}
		}, mismatch},
		{"no checksum recorded", func(t *testing.T, dir string) {
			s, err := ReadSettings(dir)
			if err != nil {
				t.Fatal(err)
			}
			s.HeadsSHA256 = ""
			js, _ := json.Marshal(s)
			if err := os.WriteFile(filepath.Join(dir, SettingsFile), js, 0o644); err != nil {
				t.Fatal(err)
			}
		}, "records no checksum of heads.safetensors (written by an older reelmatch)"},
		{"weights replaced by a folder", func(t *testing.T, dir string) {
			path := filepath.Join(dir, WeightsFile)
			if err := os.Remove(path); err != nil {
				t.Fatal(err)
			}
			if err := os.Mkdir(path, 0o755); err != nil {
				t.Fatal(err)
			}
		}, "heads.safetensors: is a folder, not a regular file"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			dir := save(t, 1)
			tc.damage(t, dir)
			_, err := Load(dir)
			if tc.want == "" {
				if err != nil {
					t.Fatalf("Load: %v", err)
				}
				return
			}
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("Load: %v, want %q", err, tc.want)
			}
			if tc.want == mismatch && (!errors.Is(err, ErrDamaged) || !strings.Contains(err.Error(), "run `reelmatch train` again")) {
				t.Errorf("Load: %v, want ErrDamaged and the fix", err)
			}
		})
	}
}

// flipByte inverts one byte of the file at path; a negative offset counts
// from the end.
func flipByte(t *testing.T, path string, offset int) {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	if offset < 0 {
		offset += len(b)
	}
	b[offset] ^= 0xff
	if err := os.WriteFile(path, b, 0o644); err != nil {
		t.Fatal(err)
	}
}

// TestLoadRefusesBadSettings checks a config.json whose sizes or
// temperature are out of range (NaN included) is refused by name.
func TestLoadRefusesBadSettings(t *testing.T) {
	dir := t.TempDir()
	settings := `{"heads":"mlp","config":{"image_dim":8,"text_dim":6,"hidden":[4],"embed_dim":-3,"temperature":0.07}}`
	if err := os.WriteFile(filepath.Join(dir, SettingsFile), []byte(settings), 0o644); err != nil {
		t.Fatal(err)
	}
	_, err := Load(dir)
	if err == nil || !strings.Contains(err.Error(), "embed-dim must be in [1, 4096], got -3") || !strings.Contains(err.Error(), SettingsFile) {
		t.Fatalf("Load: %v", err)
	}
}
