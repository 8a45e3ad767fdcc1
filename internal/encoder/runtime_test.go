package encoder

import (
	"strings"
	"testing"
)

func TestTensorCheck(t *testing.T) {
	tests := []struct {
		name string
		t    Tensor
		want string // error substring; empty means valid
	}{
		{"float", Tensor{Shape: []int64{2, 3}, F32: make([]float32, 6)}, ""},
		{"int", Tensor{Shape: []int64{1, 4}, I64: make([]int64, 4)}, ""},
		{"empty batch", Tensor{Shape: []int64{0, 4}}, ""},
		{"short", Tensor{Shape: []int64{2, 3}, F32: make([]float32, 5)}, "holds 6 values, got 5"},
		{"both set", Tensor{Shape: []int64{1}, F32: []float32{1}, I64: []int64{1}}, "both"},
		{"no data", Tensor{Shape: []int64{2}}, "no data"},
		{"negative", Tensor{Shape: []int64{-1, 2}, F32: make([]float32, 2)}, "negative"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := tt.t.Check("x")
			if tt.want == "" {
				if err != nil {
					t.Errorf("Check: %v, want nil", err)
				}
				return
			}
			if err == nil || !strings.Contains(err.Error(), tt.want) || !strings.Contains(err.Error(), `"x"`) {
				t.Errorf("Check: %v, want an error naming \"x\" containing %q", err, tt.want)
			}
		})
	}
}

func TestCheckInputs(t *testing.T) {
	want := []TensorInfo{
		{Name: "ids", DType: "int64", Shape: []int64{-1, -1}},
		{Name: "pix", DType: "float32", Shape: []int64{-1, 3}},
	}
	ids := Tensor{Shape: []int64{2, 5}, I64: make([]int64, 10)}
	pix := Tensor{Shape: []int64{2, 3}, F32: make([]float32, 6)}
	tests := []struct {
		name   string
		inputs map[string]Tensor
		want   string
	}{
		{"ok", map[string]Tensor{"ids": ids, "pix": pix}, ""},
		{"missing", map[string]Tensor{"ids": ids}, `missing input "pix"`},
		{"extra", map[string]Tensor{"ids": ids, "pix": pix, "mask": ids}, `no input "mask"`},
		{"dtype", map[string]Tensor{"ids": pix, "pix": pix}, `"ids" is float32, model wants int64`},
		{"fixed dim", map[string]Tensor{"ids": ids, "pix": {Shape: []int64{3, 2}, F32: make([]float32, 6)}}, `"pix" has shape [3 2]`},
		{"rank", map[string]Tensor{"ids": {Shape: []int64{10}, I64: make([]int64, 10)}, "pix": pix}, "rank 2"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := CheckInputs(want, tt.inputs)
			if tt.want == "" {
				if err != nil {
					t.Errorf("CheckInputs: %v", err)
				}
				return
			}
			if err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Errorf("CheckInputs: %v, want an error containing %q", err, tt.want)
			}
		})
	}
}
