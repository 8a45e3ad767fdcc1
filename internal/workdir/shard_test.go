package workdir

import (
	"os"
	"path/filepath"
	"testing"

	"github.com/google/go-cmp/cmp"
)

func TestFeatureShards(t *testing.T) {
	d := Dir(t.TempDir())
	if got, err := d.FeatureShards("builtin"); err != nil || got != nil {
		t.Fatalf("no features folder: %v, %v; want nothing", got, err)
	}
	names := []string{
		"builtin.shard-1-of-4.safetensors",
		"builtin.shard-0-of-4.safetensors",
		"builtin.shard-10-of-12.safetensors",
		"builtin.shard-2-of-3.safetensors",
		// Not shard files of builtin:
		"builtin.shard-0-of-4.checkpoint",
		"builtin.shard-x-of-4.safetensors",
		"builtin.shard-+1-of-4.safetensors",
		"builtin.shard-1-of-4.safetensors.tmp-123",
		"builtin.safetensors",
		"clip.shard-0-of-2.safetensors",
	}
	for _, n := range names {
		if err := os.MkdirAll(filepath.Join(string(d), "features"), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join(string(d), "features", n), nil, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	// A folder with a shard file's name is not a shard file.
	if err := os.Mkdir(filepath.Join(string(d), "features", "builtin.shard-3-of-4.safetensors"), 0o755); err != nil {
		t.Fatal(err)
	}
	got, err := d.FeatureShards("builtin")
	if err != nil {
		t.Fatal(err)
	}
	want := []ShardFile{
		{d.FeatureShard("builtin", 2, 3), 2, 3},
		{d.FeatureShard("builtin", 0, 4), 0, 4},
		{d.FeatureShard("builtin", 1, 4), 1, 4},
		{d.FeatureShard("builtin", 10, 12), 10, 12},
	}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("FeatureShards (-want +got):\n%s", diff)
	}
	if got, want := d.Checkpoint("builtin", 0, 0), filepath.Join(string(d), "features", "builtin.checkpoint"); got != want {
		t.Errorf("Checkpoint(whole) = %s, want %s", got, want)
	}
	if got, want := d.Checkpoint("builtin", 2, 3), filepath.Join(string(d), "features", "builtin.shard-2-of-3.checkpoint"); got != want {
		t.Errorf("Checkpoint(2/3) = %s, want %s", got, want)
	}
}
