package shard

import (
	"crypto/sha256"
	"encoding/binary"
	"fmt"
	"strconv"
	"strings"

	"github.com/reelmatch/reelmatch/internal/reel"
)

// MaxCount bounds N: far more slices than any scheduler runs at once, and
// small enough that listing missing shards stays readable.
const MaxCount = 100000

// Spec is the I-th (0-based, as SLURM_ARRAY_TASK_ID and
// JOB_COMPLETION_INDEX) of N slices. The zero Spec is the whole catalogue.
type Spec struct {
	Index, Count int
}

// Parse reads "I/N" with 0 <= I < N <= MaxCount.
func Parse(s string) (Spec, error) {
	i, n, ok := strings.Cut(strings.TrimSpace(s), "/")
	index, err1 := strconv.Atoi(i)
	count, err2 := strconv.Atoi(n)
	if !ok || err1 != nil || err2 != nil {
		return Spec{}, fmt.Errorf("%q: want I/N, two integers such as 0/4", s)
	}
	if count < 1 || count > MaxCount {
		return Spec{}, fmt.Errorf("%q: N must be between 1 and %d", s, MaxCount)
	}
	if index < 0 || index >= count {
		return Spec{}, fmt.Errorf("%q: I must be between 0 and N-1 = %d (I is 0-based, as SLURM_ARRAY_TASK_ID)", s, count-1)
	}
	return Spec{Index: index, Count: count}, nil
}

// IsZero reports whether s is the whole catalogue.
func (s Spec) IsZero() bool { return s.Count == 0 }

// String is "I/N", or "" for the whole catalogue.
func (s Spec) String() string {
	if s.IsZero() {
		return ""
	}
	return fmt.Sprintf("%d/%d", s.Index, s.Count)
}

// Owns reports whether the movie belongs to slice s; the zero Spec owns
// every movie.
func (s Spec) Owns(id reel.MovieID) bool {
	return s.IsZero() || Of(id, s.Count) == s.Index
}

// Of is the slice, in [0, n), of a movie among n slices (n >= 1).
func Of(id reel.MovieID, n int) int {
	sum := sha256.Sum256([]byte(id))
	return jump(binary.BigEndian.Uint64(sum[:8]), n)
}

// jump is jump consistent hashing, as in the paper's figure 1. The
// explicit float64 conversions keep every platform's rounding identical
// (Go fuses no multiply-add across an explicit conversion).
func jump(key uint64, n int) int {
	b, j := int64(-1), int64(0)
	for j < int64(n) {
		b = j
		key = key*2862933555777941757 + 1
		j = int64(float64(b+1) * (float64(int64(1)<<31) / float64((key>>33)+1)))
	}
	return int(b)
}
