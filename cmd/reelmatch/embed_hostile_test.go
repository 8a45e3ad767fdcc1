package main

// Hostile cases of the feature cache and sharded embedding: bad --shard
// values, merges that cannot be done, and caches damaged after embed wrote
// them. Each is refused with one line naming the file or flag and the fix,
// and changes nothing.

import (
	"fmt"
	"math"
	"path/filepath"
	"testing"

	"github.com/reelmatch/reelmatch/internal/encoder/builtin"
	"github.com/reelmatch/reelmatch/internal/safetensors"
	"github.com/reelmatch/reelmatch/internal/workdir"
)

// hostileShards copies the shared WORK into dir/work and embeds the given
// shards of n there.
func hostileShards(t *testing.T, dir string, n int, shards ...string) {
	t.Helper()
	hostileWork(t, dir)
	for _, s := range shards {
		if _, stderr, code := runCLI(t, "-q", "embed", "--work", filepath.Join(dir, "work"), "--encoder", "builtin", "--shard", fmt.Sprintf("%s/%d", s, n)); code != exitOK {
			t.Fatalf("embed --shard %s: exit %d: %s", s, code, stderr)
		}
	}
}

func TestHostileFeatureCache(t *testing.T) {
	cache := func(dir string) string { return workdir.Dir(filepath.Join(dir, "work")).Features("builtin") }
	rerun := "rerun `reelmatch embed`"
	runHostileCases(t, []hostileCase{
		{
			Name:   "embed --shard with I = N",
			Setup:  hostileWork,
			Args:   []string{"embed", "--work", "$DIR/work", "--shard", "4/4"},
			Exit:   exitUsage,
			Stderr: []string{`--shard "4/4": I must be between 0 and N-1 = 3`},
		},
		{
			Name:   "embed --shard with N = 0",
			Setup:  hostileWork,
			Args:   []string{"embed", "--work", "$DIR/work", "--shard", "0/0"},
			Exit:   exitUsage,
			Stderr: []string{"N must be between 1 and 100000"},
		},
		{
			Name:   "embed --shard from an unset variable",
			Setup:  hostileWork,
			Args:   []string{"embed", "--work", "$DIR/work", "--shard", "/4"},
			Exit:   exitUsage,
			Stderr: []string{"want I/N, two integers such as 0/4"},
		},
		{
			Name:   "embed --merge with a shard missing",
			Setup:  func(t *testing.T, dir string) { hostileShards(t, dir, 3, "0", "2") },
			Args:   []string{"embed", "--work", "$DIR/work", "--merge"},
			Exit:   exitFailure,
			Stderr: []string{"missing shard 1/3 of encoder builtin", "builtin.shard-1-of-3.safetensors", "--shard 1/3"},
		},
		{
			Name: "embed --merge with a damaged shard",
			Setup: func(t *testing.T, dir string) {
				hostileShards(t, dir, 2, "0", "1")
				flipFileByte(t, workdir.Dir(filepath.Join(dir, "work")).FeatureShard("builtin", 1, 2), -9)
			},
			Args:   []string{"embed", "--work", "$DIR/work", "--merge"},
			Exit:   exitFailure,
			Stderr: []string{"builtin.shard-1-of-2.safetensors", "checksum mismatch", rerun},
		},
		{
			Name:   "eval on a cache with a flipped byte",
			Setup:  func(t *testing.T, dir string) { hostileWork(t, dir); flipFileByte(t, cache(dir), -13) },
			Args:   []string{"eval", "--work", "$DIR/work"},
			Exit:   exitFailure,
			Stderr: []string{"$DIR/work/features/builtin.safetensors", "checksum mismatch", rerun},
		},
		{
			Name: "train on a cache holding NaN (with a valid checksum)",
			Setup: func(t *testing.T, dir string) {
				hostileWork(t, dir)
				f, err := safetensors.ReadFile(cache(dir))
				if err != nil {
					t.Fatal(err)
				}
				f.Tensors["text"].F32[3*builtin.DefaultTextDim+5] = float32(math.NaN())
				if err := safetensors.WriteFile(cache(dir), f.Tensors, safetensors.Seal(f.Tensors, f.Metadata)); err != nil {
					t.Fatal(err)
				}
			},
			Args:   []string{"train", "--work", "$DIR/work", "--encoder", "builtin", "--epochs", "1"},
			Exit:   exitFailure,
			Stderr: []string{"$DIR/work/features/builtin.safetensors", "(row 3) holds NaN", rerun},
		},
	})
}
