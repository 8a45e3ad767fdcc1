package safetensors

import (
	"crypto/sha256"
	"encoding/binary"
	"encoding/hex"
	"errors"
	"fmt"
	"hash"
	"math"
	"sort"
	"strconv"

	"github.com/reelmatch/reelmatch/internal/vecmath"
)

// Integrity: a file this package writes can carry a checksum of its
// metadata and tensors (Seal), and readers check it (File.Verify) and that
// every float is finite (File.CheckFinite). Together they catch flipped
// bytes, swapped rows, hand-edited metadata and NaN/Inf written by a broken
// run. The checksum covers files written by this package (F32 and I64
// tensors): reading converts other dtypes, whose bytes it cannot rebuild.

// ChecksumKey is the metadata key under which Seal stores the checksum.
const ChecksumKey = "sha256"

// ErrChecksum is wrapped by Verify when the stored checksum does not match
// the file's content; ErrNoChecksum when the file has none.
var (
	ErrChecksum   = errors.New("checksum mismatch")
	ErrNoChecksum = errors.New("no checksum in metadata")
)

// Checksum is the hex SHA-256 of the metadata (every key but ChecksumKey,
// in sorted order) and of the tensors in sorted name order, each as its
// name, dtype, shape and little-endian data bytes.
func Checksum(tensors map[string]Tensor, metadata map[string]string) string {
	h := sha256.New()
	keys := make([]string, 0, len(metadata))
	for k := range metadata {
		if k != ChecksumKey {
			keys = append(keys, k)
		}
	}
	sort.Strings(keys)
	for _, k := range keys {
		writeField(h, k)
		writeField(h, metadata[k])
	}
	names := make([]string, 0, len(tensors))
	for n := range tensors {
		names = append(names, n)
	}
	sort.Strings(names)
	buf := make([]byte, 0, 64<<10)
	for _, n := range names {
		t := tensors[n]
		writeField(h, n)
		dtype := "F32"
		if t.I64 != nil {
			dtype = "I64"
		}
		writeField(h, dtype)
		for _, d := range t.Shape {
			buf = strconv.AppendInt(buf, int64(d), 10)
			buf = append(buf, ',')
		}
		writeField(h, string(buf))
		buf = buf[:0]
		for _, v := range t.F32 {
			buf = binary.LittleEndian.AppendUint32(buf, math.Float32bits(v))
			if len(buf) == cap(buf) {
				h.Write(buf)
				buf = buf[:0]
			}
		}
		for _, v := range t.I64 {
			buf = binary.LittleEndian.AppendUint64(buf, uint64(v))
			if len(buf) == cap(buf) {
				h.Write(buf)
				buf = buf[:0]
			}
		}
		h.Write(buf)
		buf = buf[:0]
	}
	return hex.EncodeToString(h.Sum(nil))
}

// writeField writes s with its length first, so that field boundaries are
// part of what is hashed ("ab","c" differs from "a","bc").
func writeField(h hash.Hash, s string) {
	var n [8]byte
	binary.LittleEndian.PutUint64(n[:], uint64(len(s)))
	h.Write(n[:])
	h.Write([]byte(s))
}

// Seal returns a copy of metadata with ChecksumKey set to the checksum of
// tensors and metadata; write it with WriteFile(path, tensors, Seal(...)).
func Seal(tensors map[string]Tensor, metadata map[string]string) map[string]string {
	out := make(map[string]string, len(metadata)+1)
	for k, v := range metadata {
		out[k] = v
	}
	out[ChecksumKey] = Checksum(tensors, metadata)
	return out
}

// Verify checks the checksum Seal stored. It wraps ErrNoChecksum when there
// is none and ErrChecksum when the content changed since it was written.
func (f *File) Verify() error {
	want, ok := f.Metadata[ChecksumKey]
	if !ok {
		return ErrNoChecksum
	}
	if got := Checksum(f.Tensors, f.Metadata); got != want {
		return fmt.Errorf("%w: content hashes to %.12s…, metadata says %.12s…", ErrChecksum, got, want)
	}
	return nil
}

// NonFiniteError reports the first NaN or ±Inf found by CheckFinite.
type NonFiniteError struct {
	Tensor string
	// Index is the element's position in each dimension of the tensor's
	// shape (for a [rows, dim] tensor: row, column).
	Index []int
	Value float32
}

func (e *NonFiniteError) Error() string {
	return fmt.Sprintf("tensor %q holds %v at index %v", e.Tensor, e.Value, e.Index)
}

// CheckFinite returns a *NonFiniteError for the first NaN or ±Inf in the
// file's float tensors (tensors in sorted name order), or nil.
func (f *File) CheckFinite() error {
	for _, name := range f.Names() {
		t := f.Tensors[name]
		if i := vecmath.FirstNonFinite(t.F32); i >= 0 {
			return &NonFiniteError{Tensor: name, Index: unravel(i, t.Shape), Value: t.F32[i]}
		}
	}
	return nil
}

// unravel turns a flat row-major index into one index per dimension.
func unravel(i int, shape []int) []int {
	idx := make([]int, len(shape))
	for d := len(shape) - 1; d >= 0; d-- {
		if shape[d] > 0 {
			idx[d] = i % shape[d]
			i /= shape[d]
		}
	}
	return idx
}
