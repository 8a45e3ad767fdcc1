package safetensors

import (
	"bytes"
	"path/filepath"
	"testing"

	"github.com/google/go-cmp/cmp"
)

func TestRoundTrip(t *testing.T) {
	in := map[string]Tensor{
		"a":      {Shape: []int{2, 3}, F32: []float32{1, 2, 3, 4, 5, -6.5}},
		"ids":    {Shape: []int{3}, I64: []int64{7, -1, 1 << 40}},
		"scalar": {Shape: []int{}, F32: []float32{0.25}},
	}
	meta := map[string]string{"encoder": "builtin"}
	path := filepath.Join(t.TempDir(), "x.safetensors")
	if err := WriteFile(path, in, meta); err != nil {
		t.Fatal(err)
	}
	got, err := ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff(in, got.Tensors); diff != "" {
		t.Errorf("tensors (-want +got):\n%s", diff)
	}
	if diff := cmp.Diff(meta, got.Metadata); diff != "" {
		t.Errorf("metadata (-want +got):\n%s", diff)
	}
}

func TestFloat16(t *testing.T) {
	for _, tc := range []struct {
		h    uint16
		want float32
	}{{0x3c00, 1}, {0xc000, -2}, {0x3555, 0.333251953125}, {0x0001, 5.960464477539063e-08}, {0x7bff, 65504}, {0, 0}} {
		if got := Float16ToFloat32(tc.h); got != tc.want {
			t.Errorf("Float16ToFloat32(%#04x) = %v, want %v", tc.h, got, tc.want)
		}
	}
}

func TestReadRejectsCorrupt(t *testing.T) {
	var buf bytes.Buffer
	if err := Write(&buf, map[string]Tensor{"a": {Shape: []int{4}, F32: []float32{1, 2, 3, 4}}}, nil); err != nil {
		t.Fatal(err)
	}
	full := buf.Bytes()
	for name, b := range map[string][]byte{
		"truncated data":   full[:len(full)-3],
		"truncated header": full[:10],
		"empty":            {},
	} {
		t.Run(name, func(t *testing.T) {
			if _, err := Read(bytes.NewReader(b), int64(len(b))); err == nil {
				t.Fatal("Read succeeded on corrupt input")
			}
		})
	}
}
