package safetensors

import (
	"bytes"
	"errors"
	"math"
	"path/filepath"
	"testing"

	"github.com/google/go-cmp/cmp"
)

func sealedSample() (map[string]Tensor, map[string]string) {
	tensors := map[string]Tensor{
		"image": {Shape: []int{3, 2}, F32: []float32{1, 2, 3, 4, 5, 6}},
		"steps": {Shape: []int{2}, I64: []int64{7, 1 << 40}},
	}
	meta := map[string]string{"ids": `["1","2","3"]`, "encoder": "builtin"}
	return tensors, Seal(tensors, meta)
}

func TestSealVerifyRoundTrip(t *testing.T) {
	tensors, meta := sealedSample()
	path := filepath.Join(t.TempDir(), "x.safetensors")
	if err := WriteFile(path, tensors, meta); err != nil {
		t.Fatal(err)
	}
	f, err := ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	if err := f.Verify(); err != nil {
		t.Errorf("Verify of an untouched file: %v", err)
	}
	if err := f.CheckFinite(); err != nil {
		t.Errorf("CheckFinite of finite tensors: %v", err)
	}
}

// TestVerifyDetectsCorruption changes a sealed file the ways the hardening
// audit did (a flipped data byte, swapped rows, an edited metadata value, a
// new key) and expects ErrChecksum each time.
func TestVerifyDetectsCorruption(t *testing.T) {
	tests := []struct {
		name   string
		change func(f *File)
	}{
		{"flipped bit in data", func(f *File) {
			f.Tensors["image"].F32[4] = math.Float32frombits(math.Float32bits(f.Tensors["image"].F32[4]) ^ 1)
		}},
		{"swapped rows", func(f *File) {
			d := f.Tensors["image"].F32
			d[0], d[1], d[2], d[3] = d[2], d[3], d[0], d[1]
		}},
		{"edited integer", func(f *File) { f.Tensors["steps"].I64[0]++ }},
		{"edited metadata", func(f *File) { f.Metadata["ids"] = `["2","1","3"]` }},
		{"added metadata", func(f *File) { f.Metadata["split"] = "test" }},
		{"reshaped tensor", func(f *File) {
			t := f.Tensors["image"]
			t.Shape = []int{2, 3}
			f.Tensors["image"] = t
		}},
		{"renamed tensor", func(f *File) {
			f.Tensors["text"] = f.Tensors["image"]
			delete(f.Tensors, "image")
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			tensors, meta := sealedSample()
			var buf bytes.Buffer
			if err := Write(&buf, tensors, meta); err != nil {
				t.Fatal(err)
			}
			f, err := Read(bytes.NewReader(buf.Bytes()), int64(buf.Len()))
			if err != nil {
				t.Fatal(err)
			}
			tt.change(f)
			if err := f.Verify(); !errors.Is(err, ErrChecksum) {
				t.Errorf("Verify = %v, want ErrChecksum", err)
			}
		})
	}
}

func TestVerifyWithoutChecksum(t *testing.T) {
	f := &File{Metadata: map[string]string{"a": "b"}, Tensors: map[string]Tensor{}}
	if err := f.Verify(); !errors.Is(err, ErrNoChecksum) {
		t.Errorf("Verify = %v, want ErrNoChecksum", err)
	}
}

// TestChecksumFieldBoundaries: moving characters between a key and its
// value, or between two values, changes the checksum.
func TestChecksumFieldBoundaries(t *testing.T) {
	a := Checksum(nil, map[string]string{"ab": "c"})
	b := Checksum(nil, map[string]string{"a": "bc"})
	if a == b {
		t.Error("metadata {ab:c} and {a:bc} have the same checksum")
	}
	if Checksum(nil, map[string]string{"a": "b", ChecksumKey: "x"}) != Checksum(nil, map[string]string{"a": "b"}) {
		t.Error("the checksum depends on the stored checksum")
	}
}

func TestCheckFinite(t *testing.T) {
	nan, inf := float32(math.NaN()), float32(math.Inf(-1))
	tests := []struct {
		name    string
		tensors map[string]Tensor
		want    *NonFiniteError
	}{
		{"finite", map[string]Tensor{"a": {Shape: []int{2}, F32: []float32{0, -1e38}}}, nil},
		{"nan in second row", map[string]Tensor{"a": {Shape: []int{2, 3}, F32: []float32{0, 1, 2, 3, nan, 5}}},
			&NonFiniteError{Tensor: "a", Index: []int{1, 1}}},
		{"inf in later tensor", map[string]Tensor{
			"a": {Shape: []int{1}, F32: []float32{1}},
			"b": {Shape: []int{2, 2}, F32: []float32{1, 2, inf, 4}},
		}, &NonFiniteError{Tensor: "b", Index: []int{1, 0}, Value: inf}},
		{"integers are not checked", map[string]Tensor{"i": {Shape: []int{1}, I64: []int64{-1}}}, nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := (&File{Tensors: tt.tensors}).CheckFinite()
			if tt.want == nil {
				if err != nil {
					t.Fatalf("CheckFinite = %v, want nil", err)
				}
				return
			}
			var got *NonFiniteError
			if !errors.As(err, &got) {
				t.Fatalf("CheckFinite = %v, want a *NonFiniteError", err)
			}
			// NaN != NaN: compare the value by kind, the rest exactly.
			if tt.want.Value == 0 && math.IsNaN(float64(got.Value)) {
				got.Value = 0
			}
			if diff := cmp.Diff(tt.want, got); diff != "" {
				t.Errorf("error (-want +got):\n%s", diff)
			}
		})
	}
}

func BenchmarkChecksum(b *testing.B) {
	// The real set's builtin cache: 3,242 rows of 371 + 128 floats.
	const n = 3242
	tensors := map[string]Tensor{
		"image": {Shape: []int{n, 371}, F32: make([]float32, n*371)},
		"text":  {Shape: []int{n, 128}, F32: make([]float32, n*128)},
	}
	b.SetBytes(int64(n * (371 + 128) * 4))
	for b.Loop() {
		Checksum(tensors, map[string]string{"encoder": "builtin"})
	}
}
