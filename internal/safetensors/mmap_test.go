package safetensors

import (
	"math"
	"os"
	"path/filepath"
	"testing"
	"unsafe"

	"github.com/google/go-cmp/cmp"
)

// TestMapFileMatchesReadFile writes F32 and I64 tensors (the F32 ones at
// offsets that are and are not multiples of 8) and checks that the mapped
// file holds what ReadFile reads, with F32 data inside the mapping.
func TestMapFileMatchesReadFile(t *testing.T) {
	path := filepath.Join(t.TempDir(), "x.safetensors")
	tensors := map[string]Tensor{
		"a": {Shape: []int{2, 3}, F32: []float32{1, -2, 3.5, float32(math.Inf(1)), 0, 7}},
		"b": {Shape: []int{3}, I64: []int64{-1, 0, 1 << 40}},
		"c": {Shape: []int{1}, F32: []float32{42}},
		"d": {Shape: []int{0, 4}, F32: []float32{}},
	}
	meta := map[string]string{"k": "v"}
	if err := WriteFile(path, tensors, meta); err != nil {
		t.Fatal(err)
	}
	want, err := ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	got, err := MapFile(path)
	if err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("MapFile (-ReadFile +MapFile):\n%s", diff)
	}
	// The F32 data is in the mapping, not in a Go heap copy: its address
	// is not inside any slice ReadFile made, and the mapping is read-only
	// file data. Check the aliasing directly on a hand-built buffer.
	raw, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	f, err := parseMapped(raw)
	if err != nil {
		t.Fatal(err)
	}
	a := f.Tensors["a"].F32
	start, end := uintptr(unsafe.Pointer(unsafe.SliceData(raw))), uintptr(unsafe.Pointer(unsafe.SliceData(raw)))+uintptr(len(raw))
	if p := uintptr(unsafe.Pointer(unsafe.SliceData(a))); p < start || p >= end {
		t.Errorf("tensor a was copied (at %#x), want it inside the file bytes [%#x, %#x)", p, start, end)
	}
}

func TestMapFileRefuses(t *testing.T) {
	dir := t.TempDir()
	if _, err := MapFile(dir); err == nil {
		t.Error("a folder was mapped")
	}
	short := filepath.Join(dir, "short")
	os.WriteFile(short, []byte{1, 2}, 0o644)
	if _, err := MapFile(short); err == nil {
		t.Error("a 2-byte file was read")
	}
	bad := filepath.Join(dir, "bad")
	os.WriteFile(bad, []byte{0xff, 0xff, 0, 0, 0, 0, 0, 0, '{', '}'}, 0o644)
	if _, err := MapFile(bad); err == nil {
		t.Error("an oversized header length was accepted")
	}
	if _, err := MapFile(filepath.Join(dir, "missing")); !os.IsNotExist(err) {
		t.Errorf("missing file: %v", err)
	}
}
