package evalrun

import (
	"encoding/json"
	"errors"
	"io/fs"
	"math"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/reelmatch/reelmatch/internal/encoder/encodertest"
	"github.com/reelmatch/reelmatch/internal/heads"
	"github.com/reelmatch/reelmatch/internal/metrics"
	"github.com/reelmatch/reelmatch/internal/reel"
	"github.com/reelmatch/reelmatch/internal/safetensors"
	"github.com/reelmatch/reelmatch/internal/workdir"
)

// TestLoadDistanceRefusesDamage checks a distance file whose bytes
// changed after eval wrote it, or that holds NaN, is refused by name.
func TestLoadDistanceRefusesDamage(t *testing.T) {
	ids := []reel.MovieID{"1", "2", "3"}
	D := [][]float32{{0.1, 0.9, 0.8}, {0.7, 0.2, 0.9}, {1.1, 0.6, 0.3}}
	for _, tc := range []struct {
		name   string
		damage func(t *testing.T, path string)
		want   string
	}{
		{"intact", func(*testing.T, string) {}, ""},
		{"flipped byte", func(t *testing.T, path string) {
			b, err := os.ReadFile(path)
			if err != nil {
				t.Fatal(err)
			}
			b[len(b)-5] ^= 0x10
			if err := os.WriteFile(path, b, 0o644); err != nil {
				t.Fatal(err)
			}
		}, "checksum mismatch"},
		{"rows swapped", func(t *testing.T, path string) {
			f, err := safetensors.ReadFile(path)
			if err != nil {
				t.Fatal(err)
			}
			d := f.Tensors["distance"].F32
			for j := range 3 {
				d[j], d[3+j] = d[3+j], d[j]
			}
			if err := safetensors.WriteFile(path, f.Tensors, f.Metadata); err != nil {
				t.Fatal(err)
			}
		}, "checksum mismatch"},
		{"NaN sealed in", func(t *testing.T, path string) {
			f, err := safetensors.ReadFile(path)
			if err != nil {
				t.Fatal(err)
			}
			f.Tensors["distance"].F32[4] = float32(math.NaN())
			if err := safetensors.WriteFile(path, f.Tensors, safetensors.Seal(f.Tensors, f.Metadata)); err != nil {
				t.Fatal(err)
			}
		}, "holds NaN at index [1 1]"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			path := filepath.Join(t.TempDir(), "distance_test.safetensors")
			if err := SaveDistance(path, "e", "test", ids, D); err != nil {
				t.Fatal(err)
			}
			tc.damage(t, path)
			_, _, err := LoadDistance(path)
			if tc.want == "" {
				if err != nil {
					t.Fatal(err)
				}
				return
			}
			for _, want := range []string{tc.want, path, "run `reelmatch eval` again"} {
				if err == nil || !strings.Contains(err.Error(), want) {
					t.Errorf("LoadDistance: %v, want %q", err, want)
				}
			}
		})
	}
}

// TestReadResultRefusesImpossibleScores checks an eval result holding
// scores no evaluation gives is refused.
func TestReadResultRefusesImpossibleScores(t *testing.T) {
	good := Result{Run: "r", Encoder: "e", Split: SplitTest, N: 10,
		PosterToIntro: metrics.Scores{R1: 0.1, R5: 0.5, R10: 1, MedianRank: 3, MeanRank: 3.5, MRR: 0.4, Top1Acc: 0.1, MeanRankPercentile: 0.7},
		IntroToPoster: metrics.Scores{R1: 0, R5: 0.2, R10: 1, MedianRank: 10, MeanRank: 5, MRR: 0.3, Top1Acc: 0, MeanRankPercentile: 0.5}}
	for _, tc := range []struct {
		name string
		edit func(r *Result)
		want string
	}{
		{"good", func(*Result) {}, ""},
		{"r1 above one", func(r *Result) { r.PosterToIntro.R1 = 1.5 }, "poster_to_intro.r1 is 1.5, outside [0, 1]"},
		{"negative percentile", func(r *Result) { r.IntroToPoster.MeanRankPercentile = -0.1 }, "intro_to_poster.mean_rank_percentile is -0.1"},
		{"rank zero", func(r *Result) { r.IntroToPoster.MedianRank = 0 }, "intro_to_poster ranks"},
		{"rank beyond n", func(r *Result) { r.PosterToIntro.MeanRank = 11 }, "poster_to_intro ranks"},
		{"no movies", func(r *Result) { r.N = 0 }, "n is 0"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			work := workdir.Dir(t.TempDir())
			r := good
			tc.edit(&r)
			b, err := json.Marshal(r)
			if err != nil {
				t.Fatal(err)
			}
			if err := os.MkdirAll(work.Run("r"), 0o755); err != nil {
				t.Fatal(err)
			}
			if err := os.WriteFile(work.Eval("r", SplitTest), b, 0o644); err != nil {
				t.Fatal(err)
			}
			_, err = ReadResult(work, "r", SplitTest)
			if tc.want == "" {
				if err != nil {
					t.Fatal(err)
				}
				return
			}
			if err == nil || !strings.Contains(err.Error(), tc.want) || !strings.Contains(err.Error(), "reelmatch eval") {
				t.Errorf("ReadResult: %v, want %q", err, tc.want)
			}
		})
	}
}

// TestSaveRefusesReplacedRun evaluates a run, then replaces or removes its
// folder as a concurrent train would: Save writes nothing and says to
// evaluate again.
func TestSaveRefusesReplacedRun(t *testing.T) {
	name := encodertest.ColorEncoderName
	for _, tc := range []struct {
		name    string
		replace func(t *testing.T, work workdir.Dir)
	}{
		{"trained again", func(t *testing.T, work workdir.Dir) {
			s, err := heads.ReadSettings(work.Run(name))
			if err != nil {
				t.Fatal(err)
			}
			s.Heads, s.HeadsSHA256 = heads.KindMLP, strings.Repeat("ab", 32)
			b, err := json.Marshal(s)
			if err != nil {
				t.Fatal(err)
			}
			if err := os.WriteFile(work.RunConfig(name), b, 0o644); err != nil {
				t.Fatal(err)
			}
		}},
		{"removed", func(t *testing.T, work workdir.Dir) {
			if err := os.RemoveAll(work.Run(name)); err != nil {
				t.Fatal(err)
			}
		}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			work := buildWork(t, filepath.Join("testdata", "retrieval", "colors"))
			space, err := Load(work, name)
			if err != nil {
				t.Fatal(err)
			}
			ev, err := space.Evaluate(SplitTest, Options{})
			if err != nil {
				t.Fatal(err)
			}
			tc.replace(t, work)
			err = ev.Save(work)
			if !errors.Is(err, ErrRunReplaced) || !strings.Contains(err.Error(), "reelmatch eval") {
				t.Fatalf("Save: %v, want ErrRunReplaced", err)
			}
			for _, p := range []string{work.Eval(name, SplitTest), work.Distance(name, SplitTest)} {
				if _, err := os.Stat(p); !errors.Is(err, fs.ErrNotExist) {
					t.Errorf("%s was written (stat: %v)", p, err)
				}
			}
		})
	}
}
