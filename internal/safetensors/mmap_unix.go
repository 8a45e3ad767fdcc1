//go:build unix

package safetensors

import (
	"encoding/binary"
	"fmt"
	"syscall"
	"unsafe"

	"github.com/reelmatch/reelmatch/internal/inputfile"
)

// MapFile is ReadFile through a read-only shared memory map. F32 tensors
// alias the mapping instead of being copied into the heap, so a large
// file's pages are read from the page cache when used and stay
// reclaimable (file-backed, not anonymous memory); other dtypes, data not
// 4-byte aligned, and big-endian hosts are decoded as ReadFile does.
//
// The mapping is never unmapped: the tensors may be used for the life of
// the process, so map only files loaded once per process (serve's feature
// cache). Writers in this project replace files by rename, which leaves a
// mapping of the old file intact; truncating a mapped file in place would
// fault the reader. Only regular files are mapped.
func MapFile(path string) (*File, error) {
	f, err := inputfile.Open(path, inputfile.Cache) // a FIFO or device never blocks
	if err != nil {
		return nil, err
	}
	defer f.Close()
	size := f.Size()
	if size < 8 || size != int64(int(size)) {
		return ReadFile(path) // too small to hold a header: ReadFile says why
	}
	data, err := syscall.Mmap(int(f.Fd()), 0, int(size), syscall.PROT_READ, syscall.MAP_SHARED)
	if err != nil {
		return nil, fmt.Errorf("map safetensors %q: %w", path, err)
	}
	file, err := parseMapped(data)
	if err != nil {
		syscall.Munmap(data)
		return nil, fmt.Errorf("map safetensors %q: %w", path, err)
	}
	return file, nil
}

// parseMapped builds a File over the bytes of a whole file, aliasing F32
// tensors where it can.
func parseMapped(data []byte) (*File, error) {
	hlen := binary.LittleEndian.Uint64(data)
	if hlen > maxHeader || hlen+8 > uint64(len(data)) {
		return nil, fmt.Errorf("header length %d does not fit a file of %d bytes", hlen, len(data))
	}
	meta, entries, err := parseHeader(data[8:8+hlen], int64(len(data)))
	if err != nil {
		return nil, err
	}
	body := data[8+hlen:]
	out := &File{Metadata: meta, Tensors: map[string]Tensor{}}
	for _, e := range entries {
		b := body[e.DataOffsets[0]:e.DataOffsets[1]:e.DataOffsets[1]]
		t, ok := aliasF32(e.Dtype, e.Shape, b)
		if !ok {
			if t, err = decode(e.Dtype, e.Shape, b); err != nil {
				return nil, fmt.Errorf("tensor %q: %w", e.name, err)
			}
		}
		out.Tensors[e.name] = t
	}
	return out, nil
}

// littleEndian is whether float32 values in memory have the file's byte
// order.
var littleEndian = func() bool {
	x := uint16(1)
	return *(*byte)(unsafe.Pointer(&x)) == 1
}()

// aliasF32 returns an F32 tensor whose data is b itself, when the layout
// allows it.
func aliasF32(dtype string, shape []int, b []byte) (Tensor, bool) {
	t := Tensor{Shape: append([]int{}, shape...)}
	n := t.Len()
	if dtype != "F32" || !littleEndian || len(b) != 4*n || uintptr(unsafe.Pointer(unsafe.SliceData(b)))%4 != 0 {
		return Tensor{}, false
	}
	if n == 0 {
		t.F32 = []float32{}
		return t, true
	}
	t.F32 = unsafe.Slice((*float32)(unsafe.Pointer(unsafe.SliceData(b))), n)
	return t, true
}
