package embed

import (
	"context"
	"errors"
	"fmt"
	"maps"
	"slices"
	"strings"
	"time"

	"github.com/reelmatch/reelmatch/internal/dataset"
	"github.com/reelmatch/reelmatch/internal/embcache"
	"github.com/reelmatch/reelmatch/internal/encoder"
	"github.com/reelmatch/reelmatch/internal/reel"
	"github.com/reelmatch/reelmatch/internal/shard"
	"github.com/reelmatch/reelmatch/internal/workdir"
)

// ErrShards is wrapped by Merge when the shard files cannot make a feature
// cache: none, missing, of several splits, or from another manifest or
// encoder.
var ErrShards = errors.New("cannot merge shards")

// maxNamed bounds how many missing shards an error lists.
const maxNamed = 8

// Merge joins the shard files of enc in work (written by Run with a Shard)
// into the feature cache, which is then byte-identical to what Run writes
// without a shard. Every shard I/N of one N must be present and must have
// been embedded from this manifest (same movies, splits, posters and
// texts) with this encoder (same fingerprint: model files, settings and
// fitted state) and text input; otherwise nothing is written and the error
// names the shards and the fix. Shard files are kept.
func Merge(ctx context.Context, work workdir.Dir, man *dataset.Manifest, enc encoder.Encoder, opts Options) (*Summary, error) {
	start := time.Now()
	p, err := begin(ctx, work, man, enc, opts.TextInput)
	if err != nil {
		return nil, err
	}
	name := enc.Name()
	files, err := work.FeatureShards(name)
	if err != nil {
		return nil, err
	}
	n, err := shardCount(work, name, files)
	if err != nil {
		return nil, err
	}
	sum := p.summary()
	sum.Features, sum.Movies, sum.Shards = work.Features(name), len(man.Movies), n
	out := p.features(man.Movies, p.textHashes)
	// pos[s] is the next row of shard s to take; rows come back in manifest
	// order because each shard file keeps its movies in manifest order.
	shards := make([]*embcache.Features, n)
	for _, sf := range files {
		if err := ctx.Err(); err != nil {
			return nil, err
		}
		f, err := embcache.Load(sf.Path)
		if err != nil {
			return nil, fmt.Errorf("%w: %w", ErrShards, err)
		}
		spec := shard.Spec{Index: sf.Index, Count: sf.Count}
		if err := p.checkShard(f, spec, man, sf.Path); err != nil {
			return nil, fmt.Errorf("%w: %w", ErrShards, err)
		}
		shards[sf.Index] = f
	}
	pos := make([]int, n)
	for i, m := range man.Movies {
		s := shard.Of(m.ID, n)
		f := shards[s]
		out.Image[i], out.Text[i] = f.Image[pos[s]], f.Text[pos[s]]
		pos[s]++
	}
	sum.Reused, sum.ImagesReused, sum.TextsReused = sum.Movies, sum.Movies, sum.Movies
	old, _ := embcache.Load(sum.Features)
	sum.Changed = !sameRows(old, out)
	if sum.Changed {
		if err := out.Save(sum.Features); err != nil {
			return nil, err
		}
	}
	sum.Seconds = time.Since(start).Seconds()
	return sum, nil
}

// shardCount picks N from the shard files present: there must be files of
// exactly one N, and all N of them.
func shardCount(work workdir.Dir, name string, files []workdir.ShardFile) (int, error) {
	if len(files) == 0 {
		return 0, fmt.Errorf("%w: no shard files %s: run `reelmatch embed --encoder %s --shard I/N` for every I from 0 to N-1 first",
			ErrShards, work.FeatureShardGlob(name), name)
	}
	byCount := map[int][]int{}
	for _, f := range files {
		byCount[f.Count] = append(byCount[f.Count], f.Index)
	}
	if len(byCount) > 1 {
		var sets []string
		for _, c := range slices.Sorted(maps.Keys(byCount)) {
			sets = append(sets, fmt.Sprintf("%d of %d shards of N = %d", len(byCount[c]), c, c))
		}
		return 0, fmt.Errorf("%w: %s has shard files of several splits that overlap (%s): delete the files of the splits you do not want (%s)",
			ErrShards, work, strings.Join(sets, ", "), work.FeatureShard(name, 0, files[0].Count))
	}
	n := files[0].Count
	var missing []string
	var first int
	have := byCount[n]
	for i := range n {
		if !slices.Contains(have, i) {
			if len(missing) == 0 {
				first = i
			}
			if len(missing) < maxNamed {
				missing = append(missing, fmt.Sprintf("%d/%d", i, n))
			} else if len(missing) == maxNamed {
				missing = append(missing, fmt.Sprintf("and %d more", n-len(have)-maxNamed))
			}
		}
	}
	if len(missing) > 0 {
		return 0, fmt.Errorf("%w: missing shard %s of encoder %s (%s): run `reelmatch embed --encoder %s --shard %d/%d` (and the others), or copy the shard files into %s",
			ErrShards, strings.Join(missing, ", "), name, work.FeatureShard(name, first, n), name, first, n, work)
	}
	return n, nil
}

// checkShard verifies that shard file f (at path, named as shard s) holds
// exactly s's slice of man embedded with this plan's encoder and text
// input.
func (p *plan) checkShard(f *embcache.Features, s shard.Spec, man *dataset.Manifest, path string) error {
	rerun := fmt.Sprintf("rerun `reelmatch embed --encoder %s --shard %s` with this WORK's manifest and encoder settings", p.enc.Name(), s)
	switch {
	case f.Shard != s.String():
		return fmt.Errorf("%s holds shard %q but its name says %s (a renamed or copied file?): %s", path, f.Shard, s, rerun)
	case f.Encoder != p.enc.Name():
		return fmt.Errorf("%s was embedded with encoder %s, not %s: %s", path, f.Encoder, p.enc.Name(), rerun)
	case f.TextInput != p.textInput:
		return fmt.Errorf("%s has text input %q, this merge %q (--text-input): %s", path, f.TextInput, p.textInput, rerun)
	case f.Manifest != p.manifest:
		return fmt.Errorf("%s was cut from another manifest (other movies, splits, posters or intros): %s", path, rerun)
	case f.Fingerprint != p.enc.Fingerprint() || f.ImageFingerprint != p.key.ImageFingerprint || f.TextFingerprint != p.key.TextFingerprint:
		return fmt.Errorf("%s was embedded with another %s fingerprint (other model files, settings or fitted state): %s", path, p.enc.Name(), rerun)
	}
	// The manifest digest matched; check the rows themselves too, so a
	// shard never contributes a movie that is not its own.
	var want []reel.MovieID
	for _, m := range man.Movies {
		if s.Owns(m.ID) {
			want = append(want, m.ID)
		}
	}
	if !slices.Equal(f.IDs, want) {
		return fmt.Errorf("%s holds %d movies, shard %s of this manifest has %d (or other ones): %s", path, len(f.IDs), s, len(want), rerun)
	}
	return nil
}
