package embed

import (
	"bytes"
	"context"
	"errors"
	"math"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"

	"github.com/reelmatch/reelmatch/internal/dataset"
	"github.com/reelmatch/reelmatch/internal/embcache"
	"github.com/reelmatch/reelmatch/internal/encoder"
	"github.com/reelmatch/reelmatch/internal/encoder/builtin"
	"github.com/reelmatch/reelmatch/internal/encoder/encodertest"
	"github.com/reelmatch/reelmatch/internal/shard"
	"github.com/reelmatch/reelmatch/internal/workdir"
)

// copyWork makes a fresh WORK holding only src's manifest, as another
// machine would have.
func copyWork(t testing.TB, src workdir.Dir) workdir.Dir {
	t.Helper()
	dst := workdir.Dir(t.TempDir())
	b, err := os.ReadFile(src.Manifest())
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(dst.Manifest(), b, 0o644); err != nil {
		t.Fatal(err)
	}
	return dst
}

func copyFile(t testing.TB, from, to string) {
	t.Helper()
	b, err := os.ReadFile(from)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.MkdirAll(filepath.Dir(to), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(to, b, 0o644); err != nil {
		t.Fatal(err)
	}
}

func newEncoder(t testing.TB, name string) encoder.Encoder {
	t.Helper()
	enc, err := encoder.New(name, encoder.Config{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { enc.Close() })
	return enc
}

// TestShardsMergeByteIdentical embeds the catalogue in N shards, each on
// its own WORK copy with a fresh encoder (as separate machines would, the
// fitted state made by each), merges them on yet another copy, and compares
// the cache byte for byte with a one-machine embed. N covers one shard, an
// uneven split, more shards than cores, and more shards than movies.
func TestShardsMergeByteIdentical(t *testing.T) {
	ctx := context.Background()
	const movies = 23
	work, man := prepareSynth(t, movies)
	for _, name := range []string{encodertest.HashEncoderName, builtin.Name} {
		single := copyWork(t, work)
		if _, err := Run(ctx, single, man, newEncoder(t, name), Options{BatchSize: 5}); err != nil {
			t.Fatal(err)
		}
		want, err := os.ReadFile(single.Features(name))
		if err != nil {
			t.Fatal(err)
		}
		wantState, _ := os.ReadFile(single.EncoderState(name))
		for _, n := range []int{1, 3, 4, 7, movies + 9} {
			t.Run(name+"/N="+strconv.Itoa(n), func(t *testing.T) {
				merger := copyWork(t, work)
				total := 0
				for i := range n {
					node := copyWork(t, work)
					spec := shard.Spec{Index: i, Count: n}
					sum, err := Run(ctx, node, man, newEncoder(t, name), Options{BatchSize: 3, Shard: spec})
					if err != nil {
						t.Fatal(err)
					}
					if sum.Shard != spec.String() || sum.Features != node.FeatureShard(name, i, n) || sum.Computed != sum.Movies {
						t.Errorf("shard %s summary: shard %q, features %s, computed %d of %d", spec, sum.Shard, sum.Features, sum.Computed, sum.Movies)
					}
					total += sum.Movies
					if state, _ := os.ReadFile(node.EncoderState(name)); !bytes.Equal(state, wantState) {
						t.Errorf("shard %s fitted another state than the one-machine run", spec)
					}
					copyFile(t, sum.Features, merger.FeatureShard(name, i, n))
				}
				if total != movies {
					t.Errorf("shards hold %d movies, the manifest %d", total, movies)
				}
				sum, err := Merge(ctx, merger, man, newEncoder(t, name), Options{})
				if err != nil {
					t.Fatal(err)
				}
				if sum.Shards != n || sum.Movies != movies || !sum.Changed {
					t.Errorf("merge summary: %d shards, %d movies, changed %v", sum.Shards, sum.Movies, sum.Changed)
				}
				got, err := os.ReadFile(merger.Features(name))
				if err != nil {
					t.Fatal(err)
				}
				if !bytes.Equal(got, want) {
					t.Fatalf("merged cache (%d bytes) differs from the one-machine cache (%d bytes)", len(got), len(want))
				}
				// A second merge changes nothing; a plain embed on the
				// merged WORK computes nothing.
				if sum, err := Merge(ctx, merger, man, newEncoder(t, name), Options{}); err != nil || sum.Changed {
					t.Errorf("second merge: changed %v, err %v", sum != nil && sum.Changed, err)
				}
				if sum, err := Run(ctx, merger, man, newEncoder(t, name), Options{}); err != nil || sum.Computed != 0 || sum.Changed {
					t.Errorf("embed after merge: %+v, %v; want nothing computed or changed", sum, err)
				}
			})
		}
	}
}

// TestShardsOnSharedWork runs every shard on one WORK (a shared folder):
// the first fits the state, the others reuse it, and a rerun of a shard
// computes nothing.
func TestShardsOnSharedWork(t *testing.T) {
	ctx := context.Background()
	work, man := prepareSynth(t, 20)
	fitted := 0
	for i := range 3 {
		sum, err := Run(ctx, work, man, &encodertest.HashEncoder{}, Options{Shard: shard.Spec{Index: i, Count: 3}})
		if err != nil {
			t.Fatal(err)
		}
		if sum.Fitted {
			fitted++
		}
	}
	if fitted != 1 {
		t.Errorf("%d shards fitted the state, want only the first", fitted)
	}
	enc := &encodertest.HashEncoder{}
	sum, err := Run(ctx, work, man, enc, Options{Shard: shard.Spec{Index: 1, Count: 3}})
	if err != nil {
		t.Fatal(err)
	}
	if sum.Changed || sum.Computed != 0 || enc.Prepared.Load() != 0 {
		t.Errorf("rerun of shard 1/3: changed %v, computed %d, prepared %d; want nothing", sum.Changed, sum.Computed, enc.Prepared.Load())
	}
	if _, err := Merge(ctx, work, man, &encodertest.HashEncoder{}, Options{}); err != nil {
		t.Fatal(err)
	}
	// Shards of a WORK that has the whole cache reuse its rows.
	enc = &encodertest.HashEncoder{}
	sum, err = Run(ctx, work, man, enc, Options{Shard: shard.Spec{Index: 0, Count: 2}})
	if err != nil {
		t.Fatal(err)
	}
	if sum.Computed != 0 || sum.Reused != sum.Movies || enc.Prepared.Load() != 0 {
		t.Errorf("shard 0/2 after a merge: computed %d, reused %d of %d, prepared %d", sum.Computed, sum.Reused, sum.Movies, enc.Prepared.Load())
	}
}

// TestMergeRefuses: every way shards can fail to make this WORK's cache is
// an error naming the file or shard and the fix, and nothing is written.
func TestMergeRefuses(t *testing.T) {
	ctx := context.Background()
	work, man := prepareSynth(t, 20)
	shardsOf := func(t *testing.T, w workdir.Dir, m *dataset.Manifest, n int, enc func() encoder.Encoder, opts Options) {
		t.Helper()
		for i := range n {
			opts.Shard = shard.Spec{Index: i, Count: n}
			if _, err := Run(ctx, w, m, enc(), opts); err != nil {
				t.Fatal(err)
			}
		}
	}
	hash := func() encoder.Encoder { return &encodertest.HashEncoder{} }
	tests := []struct {
		name    string
		setup   func(t *testing.T, w workdir.Dir)
		wantErr []string
	}{
		{"no shards", func(t *testing.T, w workdir.Dir) {}, []string{"no shard files", "fake-hash.shard-*-of-*.safetensors", "--shard I/N"}},
		{"missing shards", func(t *testing.T, w workdir.Dir) {
			shardsOf(t, w, man, 4, hash, Options{})
			os.Remove(w.FeatureShard(encodertest.HashEncoderName, 1, 4))
			os.Remove(w.FeatureShard(encodertest.HashEncoderName, 3, 4))
		}, []string{"missing shard 1/4, 3/4", "fake-hash.shard-1-of-4.safetensors", "--shard 1/4"}},
		{"two splits", func(t *testing.T, w workdir.Dir) {
			shardsOf(t, w, man, 2, hash, Options{})
			shardsOf(t, w, man, 3, hash, Options{})
		}, []string{"several splits", "2 of 2 shards of N = 2", "3 of 3 shards of N = 3"}},
		{"renamed shard", func(t *testing.T, w workdir.Dir) {
			shardsOf(t, w, man, 2, hash, Options{})
			copyFile(t, w.FeatureShard(encodertest.HashEncoderName, 0, 2), w.FeatureShard(encodertest.HashEncoderName, 1, 2))
		}, []string{"fake-hash.shard-1-of-2.safetensors holds shard \"0/2\"", "--shard 1/2"}},
		{"another manifest", func(t *testing.T, w workdir.Dir) {
			shardsOf(t, w, man, 2, hash, Options{})
			// Shard 1 made from a manifest where one of its test movies
			// has another intro.
			edited := *man
			edited.Movies = append(edited.Movies[:0:0], man.Movies...)
			for i, m := range edited.Movies {
				if shard.Of(m.ID, 2) == 1 && m.Split == "test" {
					edited.Movies[i].Intro += " Edited."
					break
				}
			}
			other := copyWork(t, w)
			if _, err := Run(ctx, other, &edited, hash(), Options{Shard: shard.Spec{Index: 1, Count: 2}}); err != nil {
				t.Fatal(err)
			}
			copyFile(t, other.FeatureShard(encodertest.HashEncoderName, 1, 2), w.FeatureShard(encodertest.HashEncoderName, 1, 2))
		}, []string{"fake-hash.shard-1-of-2.safetensors was cut from another manifest"}},
		{"another model", func(t *testing.T, w workdir.Dir) {
			shardsOf(t, w, man, 2, hash, Options{})
			other := copyWork(t, w)
			if _, err := Run(ctx, other, man, &encodertest.HashEncoder{Salt: "v2"}, Options{Shard: shard.Spec{Index: 0, Count: 2}}); err != nil {
				t.Fatal(err)
			}
			copyFile(t, other.FeatureShard(encodertest.HashEncoderName, 0, 2), w.FeatureShard(encodertest.HashEncoderName, 0, 2))
		}, []string{"shard-0-of-2.safetensors was embedded with another fake-hash fingerprint", "model files"}},
		{"another text input", func(t *testing.T, w workdir.Dir) {
			shardsOf(t, w, man, 2, hash, Options{TextInput: TextClean})
		}, []string{"has text input \"clean\", this merge \"raw\""}},
		{"damaged shard", func(t *testing.T, w workdir.Dir) {
			shardsOf(t, w, man, 2, hash, Options{})
			path := w.FeatureShard(encodertest.HashEncoderName, 1, 2)
			b, _ := os.ReadFile(path)
			b[len(b)-3] ^= 4
			os.WriteFile(path, b, 0o644)
		}, []string{"shard-1-of-2.safetensors", "checksum mismatch"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			w := copyWork(t, work)
			tt.setup(t, w)
			_, err := Merge(ctx, w, man, &encodertest.HashEncoder{}, Options{})
			if !errors.Is(err, ErrShards) {
				t.Fatalf("Merge = %v, want ErrShards", err)
			}
			for _, want := range tt.wantErr {
				if !strings.Contains(err.Error(), want) {
					t.Errorf("error %q does not contain %q", err, want)
				}
			}
			if _, err := os.Stat(w.Features(encodertest.HashEncoderName)); !errors.Is(err, os.ErrNotExist) {
				t.Errorf("a refused merge wrote the cache (stat: %v)", err)
			}
		})
	}
}

// faulty wraps an encoder to fail mid-run: it cancels the run once
// stopAfter image batches are encoded (as Ctrl-C or kill -9 would), or puts
// a NaN in text batch nanBatch.
type faulty struct {
	*encodertest.HashEncoder
	cancel    context.CancelFunc
	stopAfter int
	nanBatch  int
}

func (f *faulty) Image() encoder.ImageTower { return &faultyImage{f.HashEncoder.Image(), f} }
func (f *faulty) Text() encoder.TextTower   { return &faultyText{f.HashEncoder.Text(), f, 0} }

type faultyImage struct {
	encoder.ImageTower
	f *faulty
}

func (t *faultyImage) Encode(ctx context.Context, inputs [][]float32) ([][]float32, error) {
	if t.f.cancel != nil {
		if t.f.stopAfter == 0 {
			t.f.cancel()
			return nil, context.Canceled
		}
		t.f.stopAfter--
	}
	return t.ImageTower.Encode(ctx, inputs)
}

type faultyText struct {
	encoder.TextTower
	f       *faulty
	batches int
}

func (t *faultyText) Encode(ctx context.Context, texts []string) ([][]float32, error) {
	out, err := t.TextTower.Encode(ctx, texts)
	if t.batches++; t.f.cancel == nil && t.batches-1 == t.f.nanBatch && err == nil {
		out[len(out)-1][2] = float32(math.NaN())
	}
	return out, err
}

// TestRunResumes stops runs (whole and sharded) after some batches, then
// reruns: the rerun reuses the checkpoint's rows, says how many, removes
// the checkpoint, and writes the same bytes as an uninterrupted run.
func TestRunResumes(t *testing.T) {
	work, man := prepareSynth(t, 30)
	for _, spec := range []shard.Spec{{}, {Index: 1, Count: 2}} {
		t.Run("shard="+spec.String(), func(t *testing.T) {
			ref := copyWork(t, work)
			refSum, err := Run(context.Background(), ref, man, &encodertest.HashEncoder{}, Options{BatchSize: 4, Shard: spec})
			if err != nil {
				t.Fatal(err)
			}
			want, _ := os.ReadFile(refSum.Features)

			w := copyWork(t, work)
			ctx, cancel := context.WithCancel(context.Background())
			defer cancel()
			_, err = Run(ctx, w, man, &faulty{HashEncoder: &encodertest.HashEncoder{}, cancel: cancel, stopAfter: 2}, Options{BatchSize: 4, Shard: spec})
			if !errors.Is(err, context.Canceled) {
				t.Fatalf("stopped run: %v, want context.Canceled", err)
			}
			ck := w.Checkpoint(encodertest.HashEncoderName, spec.Index, spec.Count)
			if _, err := os.Stat(ck); err != nil {
				t.Fatalf("no checkpoint after the stop: %v", err)
			}
			enc := &encodertest.HashEncoder{}
			sum, err := Run(context.Background(), w, man, enc, Options{BatchSize: 4, Shard: spec})
			if err != nil {
				t.Fatal(err)
			}
			// Every intro and two batches of posters were done.
			if sum.TextsResumed != sum.Movies || sum.ImagesResumed != 8 || sum.TextsComputed != 0 || sum.ImagesComputed != sum.Movies-8 {
				t.Errorf("resumed %d posters and %d intros, computed %d and %d; want 8, %d, %d, 0",
					sum.ImagesResumed, sum.TextsResumed, sum.ImagesComputed, sum.TextsComputed, sum.Movies, sum.Movies-8)
			}
			if sum.Reused != 8 || sum.Computed != sum.Movies-8 || enc.Prepared.Load() != int64(sum.Movies-8) || enc.TextsEncoded.Load() != 0 {
				t.Errorf("reused %d movies, computed %d, prepared %d posters, encoded %d intros; want 8, %d, %d, 0",
					sum.Reused, sum.Computed, enc.Prepared.Load(), enc.TextsEncoded.Load(), sum.Movies-8, sum.Movies-8)
			}
			got, _ := os.ReadFile(sum.Features)
			if !bytes.Equal(got, want) {
				t.Error("the resumed run's file differs from an uninterrupted run's")
			}
			if _, err := os.Stat(ck); !errors.Is(err, os.ErrNotExist) {
				t.Errorf("checkpoint left after a finished run (stat: %v)", err)
			}
		})
	}
}

func TestRunRefusesNonFiniteVectors(t *testing.T) {
	work, man := prepareSynth(t, 12)
	_, err := Run(context.Background(), work, man, &faulty{HashEncoder: &encodertest.HashEncoder{}, nanBatch: 1}, Options{BatchSize: 4})
	if err == nil || !strings.Contains(err.Error(), "returned NaN in the intro vector of movie") {
		t.Fatalf("Run = %v, want an error naming the movie with a NaN intro vector", err)
	}
	if _, err := os.Stat(work.Features(encodertest.HashEncoderName)); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("a cache was written (stat: %v)", err)
	}
	// The rows before the bad batch are kept for the rerun.
	sum, err := Run(context.Background(), work, man, &encodertest.HashEncoder{}, Options{BatchSize: 4})
	if err != nil {
		t.Fatal(err)
	}
	if sum.ImagesResumed != 0 || sum.TextsResumed != 4 {
		t.Errorf("rerun resumed %d posters and %d intros, want 0 and 4", sum.ImagesResumed, sum.TextsResumed)
	}
}

func TestRunBusyCheckpoint(t *testing.T) {
	work, man := prepareSynth(t, 8)
	enc := &encodertest.HashEncoder{}
	p, err := begin(context.Background(), work, man, enc, "")
	if err != nil {
		t.Fatal(err)
	}
	c, err := embcache.OpenCheckpoint(work.Checkpoint(enc.Name(), 0, 0), p.checkpointHeader())
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	_, err = Run(context.Background(), work, man, &encodertest.HashEncoder{}, Options{})
	if err == nil || !strings.Contains(err.Error(), "another `reelmatch embed` of fake-hash is running") {
		t.Fatalf("Run = %v, want an error saying another embed is running", err)
	}
}

func TestFit(t *testing.T) {
	ctx := context.Background()
	work, man := prepareSynth(t, 12)
	sum, err := Fit(ctx, work, man, &encodertest.HashEncoder{}, "")
	if err != nil {
		t.Fatal(err)
	}
	if !sum.Fitted || sum.State != work.EncoderState(encodertest.HashEncoderName) {
		t.Errorf("first Fit: %+v, want fitted with the state path", sum)
	}
	if _, err := os.Stat(work.Features(encodertest.HashEncoderName)); !errors.Is(err, os.ErrNotExist) {
		t.Error("Fit embedded")
	}
	enc := &encodertest.HashEncoder{}
	run, err := Run(ctx, work, man, enc, Options{Shard: shard.Spec{Index: 0, Count: 2}})
	if err != nil {
		t.Fatal(err)
	}
	if run.Fitted || enc.Fits.Load() != 0 {
		t.Error("a shard refitted after Fit")
	}
}

// TestShardsRaceOnSharedWork starts every shard at once on one WORK without
// a fitted state, as an array job on a shared folder does: each fits, all
// write the same state bytes atomically, and the merge equals one machine.
func TestShardsRaceOnSharedWork(t *testing.T) {
	ctx := context.Background()
	work, man := prepareSynth(t, 30)
	single := copyWork(t, work)
	if _, err := Run(ctx, single, man, newEncoder(t, builtin.Name), Options{}); err != nil {
		t.Fatal(err)
	}
	const n = 4
	errs := make(chan error, n)
	for i := range n {
		enc := newEncoder(t, builtin.Name)
		go func() {
			_, err := Run(ctx, work, man, enc, Options{Shard: shard.Spec{Index: i, Count: n}, Workers: 1})
			errs <- err
		}()
	}
	for range n {
		if err := <-errs; err != nil {
			t.Fatal(err)
		}
	}
	if _, err := Merge(ctx, work, man, newEncoder(t, builtin.Name), Options{}); err != nil {
		t.Fatal(err)
	}
	for _, path := range []func(workdir.Dir) string{
		func(w workdir.Dir) string { return w.Features(builtin.Name) },
		func(w workdir.Dir) string { return w.EncoderState(builtin.Name) },
	} {
		want, _ := os.ReadFile(path(single))
		got, _ := os.ReadFile(path(work))
		if len(want) == 0 || !bytes.Equal(got, want) {
			t.Errorf("%s differs from the one-machine run's", filepath.Base(path(work)))
		}
	}
	if tmp, _ := filepath.Glob(filepath.Join(string(work), "features", ".*")); len(tmp) != 0 {
		t.Errorf("temporary files left: %v", tmp)
	}
}
