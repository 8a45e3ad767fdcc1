package encodertest

import (
	"errors"
	"math/rand/v2"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/reelmatch/reelmatch/internal/encoder"
	"github.com/reelmatch/reelmatch/internal/reeltest"
)

// Run checks rt against every golden case (the repository's fixtures,
// see Cases): declared inputs and
// outputs, the full golden batch, each row alone (with its sequence
// padding trimmed, so batch and sequence sizes vary), an odd batch of
// three, and the errors Run must return for bad inputs.
func Run(t *testing.T, rt encoder.Runtime) {
	if err := rt.Available(); err != nil {
		t.Fatalf("%s: Available: %v", rt.Name(), err)
	}
	for _, c := range Cases(t) {
		t.Run(c.Name, func(t *testing.T) {
			s := open(t, rt, c.Model)
			checkInfo(t, s, c)

			t.Run("batch", func(t *testing.T) {
				got := run(t, s, c.Inputs, c.Output)
				if d, scale, err := Compare(got, c.Want, Tolerance); err != nil {
					t.Errorf("%s: %v", c.Output, err)
				} else {
					t.Logf("%s: max diff %.2g at scale %.3g", c.Output, d, scale)
				}
			})
			t.Run("rows", func(t *testing.T) {
				mask, text := c.Inputs["attention_mask"]
				n := int(c.Want.Shape[0])
				for r := range n {
					cols := -1
					if text {
						cols = maskLen(mask, r)
					}
					in := map[string]encoder.Tensor{}
					for k, v := range c.Inputs {
						in[k] = rows(v, r, r+1, cols)
					}
					wantCols := -1
					if text && len(c.Want.Shape) == 3 { // per-token outputs lose the padding too
						wantCols = cols
					}
					want := rows(c.Want, r, r+1, wantCols)
					if _, _, err := Compare(run(t, s, in, c.Output), want, Tolerance); err != nil {
						t.Errorf("row %d alone (length %d): %v", r, cols, err)
					}
				}
				if n >= 3 {
					in := map[string]encoder.Tensor{}
					for k, v := range c.Inputs {
						in[k] = rows(v, 0, 3, -1)
					}
					if _, _, err := Compare(run(t, s, in, c.Output), rows(c.Want, 0, 3, -1), Tolerance); err != nil {
						t.Errorf("rows 0-2 as a batch of 3: %v", err)
					}
				}
			})
		})
	}
	t.Run("errors", func(t *testing.T) { checkErrors(t, rt) })
}

// checkInfo compares the session's declared inputs and outputs with the case.
func checkInfo(t *testing.T, s encoder.Session, c Case) {
	t.Helper()
	var gotIn []string
	for _, in := range s.Inputs() {
		gotIn = append(gotIn, in.Name)
		want := c.Inputs[in.Name]
		if in.DType != want.DType() || len(in.Shape) != len(want.Shape) {
			t.Errorf("input %q declared %s %v; golden is %s %v", in.Name, in.DType, in.Shape, want.DType(), want.Shape)
		}
		if len(in.Shape) > 0 && in.Shape[0] != -1 {
			t.Errorf("input %q: batch dimension declared %d, want dynamic (-1)", in.Name, in.Shape[0])
		}
	}
	wantIn := slices.Sorted(func(yield func(string) bool) {
		for k := range c.Inputs {
			if !yield(k) {
				return
			}
		}
	})
	slices.Sort(gotIn)
	if diff := cmp.Diff(wantIn, gotIn); diff != "" {
		t.Errorf("Inputs() names (-want +got):\n%s", diff)
	}
	i := slices.IndexFunc(s.Outputs(), func(o encoder.TensorInfo) bool { return o.Name == c.Output })
	if i < 0 {
		t.Fatalf("Outputs() = %v, lacks %q", s.Outputs(), c.Output)
	}
	out := s.Outputs()[i]
	if out.DType != "float32" || len(out.Shape) != len(c.Want.Shape) {
		t.Errorf("output %q declared %s %v; golden is float32 %v", out.Name, out.DType, out.Shape, c.Want.Shape)
	}
	for d, dim := range out.Shape {
		if dim >= 0 && dim != c.Want.Shape[d] {
			t.Errorf("output %q declared %v; golden is %v", out.Name, out.Shape, c.Want.Shape)
		}
	}
}

// checkErrors feeds malformed inputs to the DistilBERT fixture; each must
// fail with an error naming the offending tensor, never panic.
func checkErrors(t *testing.T, rt encoder.Runtime) {
	var c Case
	for _, cc := range Cases(t) {
		if cc.Name == "distilbert" {
			c = cc
		}
	}
	s := open(t, rt, c.Model)
	ids, mask := c.Inputs["input_ids"], c.Inputs["attention_mask"]
	asFloat := encoder.Tensor{Shape: mask.Shape, F32: make([]float32, len(mask.I64))}
	short := encoder.Tensor{Shape: mask.Shape, I64: mask.I64[:len(mask.I64)-1]}
	flat := encoder.Tensor{Shape: mask.Shape[:1], I64: mask.I64[:mask.Shape[0]]}
	tests := []struct {
		name    string
		inputs  map[string]encoder.Tensor
		outputs []string
		want    string // substring of the error
	}{
		{"missing input", map[string]encoder.Tensor{"input_ids": ids}, nil, `"attention_mask"`},
		{"unknown input", map[string]encoder.Tensor{"input_ids": ids, "attention_mask": mask, "token_type_ids": mask}, nil, `"token_type_ids"`},
		{"wrong dtype", map[string]encoder.Tensor{"input_ids": ids, "attention_mask": asFloat}, nil, `"attention_mask" is float32`},
		{"short data", map[string]encoder.Tensor{"input_ids": ids, "attention_mask": short}, nil, `"attention_mask"`},
		{"wrong rank", map[string]encoder.Tensor{"input_ids": ids, "attention_mask": flat}, nil, `rank 2`},
		{"unknown output", map[string]encoder.Tensor{"input_ids": ids, "attention_mask": mask}, []string{"pooler_output"}, `"pooler_output"`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := s.Run(tt.inputs, tt.outputs)
			if err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Errorf("Run: error %v, want one containing %s", err, tt.want)
			}
		})
	}
	t.Run("missing model", func(t *testing.T) {
		s, err := rt.Open(filepath.Join(reeltest.Fixture(t, ""), "no-such-model.onnx"), encoder.SessionOptions{})
		if s != nil {
			t.Errorf("Open returned a non-nil session (%T) with error %v", s, err)
		}
		if err == nil || !strings.Contains(err.Error(), "no-such-model.onnx") {
			t.Errorf("Open: error %v, want one naming the file", err)
		}
		if errors.Is(err, encoder.ErrBackendUnavailable) {
			t.Errorf("Open: a missing model is not an unavailable backend: %v", err)
		}
	})
}

// Agree runs every golden case, and the same models on seeded random
// inputs of other batch and sequence sizes, on both runtimes and checks
// their outputs agree within Tolerance.
func Agree(t *testing.T, a, b encoder.Runtime) {
	for _, rt := range []encoder.Runtime{a, b} {
		if err := rt.Available(); err != nil {
			t.Fatalf("%s: Available: %v", rt.Name(), err)
		}
	}
	rng := rand.New(rand.NewPCG(1, 2))
	seen := map[string]bool{}
	for _, c := range Cases(t) {
		t.Run(c.Name, func(t *testing.T) {
			sa, sb := open(t, a, c.Model), open(t, b, c.Model)
			inputs := []map[string]encoder.Tensor{c.Inputs}
			if !seen[c.Model] { // random inputs once per model
				seen[c.Model] = true
				inputs = append(inputs, randomInputs(rng, c.Inputs, 5), randomInputs(rng, c.Inputs, 1))
			}
			for i, in := range inputs {
				ga, gb := run(t, sa, in, c.Output), run(t, sb, in, c.Output)
				if d, scale, err := Compare(gb, ga, Tolerance); err != nil {
					t.Errorf("input set %d: %s vs %s: %v", i, b.Name(), a.Name(), err)
				} else {
					t.Logf("input set %d: %s vs %s: max diff %.2g at scale %.3g", i, b.Name(), a.Name(), d, scale)
				}
			}
		})
	}
}

// randomInputs makes a batch of n like golden: pixels ~ N(0,1); token ids
// drawn from the golden's own ids (so they are in the vocabulary), with
// masks of random length and the sequence shortened to the longest.
func randomInputs(rng *rand.Rand, golden map[string]encoder.Tensor, n int) map[string]encoder.Tensor {
	out := map[string]encoder.Tensor{}
	if px, ok := golden["pixel_values"]; ok {
		t := encoder.Tensor{Shape: append([]int64{int64(n)}, px.Shape[1:]...)}
		size := 1
		for _, d := range t.Shape {
			size *= int(d)
		}
		t.F32 = make([]float32, size)
		for i := range t.F32 {
			t.F32[i] = float32(rng.NormFloat64())
		}
		out["pixel_values"] = t
		return out
	}
	ids := golden["input_ids"]
	seq := int(ids.Shape[1])
	lens := make([]int, n)
	longest := 0
	for i := range lens {
		lens[i] = 2 + rng.IntN(seq-1)
		longest = max(longest, lens[i])
	}
	if seq == 77 { // CLIP pads to its full context (tokenizer pads to max_length)
		longest = seq
	}
	t := encoder.Tensor{Shape: []int64{int64(n), int64(longest)}, I64: make([]int64, n*longest)}
	m := encoder.Tensor{Shape: t.Shape, I64: make([]int64, n*longest)}
	for r := range n {
		for j := range longest {
			t.I64[r*longest+j] = ids.I64[rng.IntN(len(ids.I64))]
			if j < lens[r] {
				m.I64[r*longest+j] = 1
			}
		}
	}
	out["input_ids"], out["attention_mask"] = t, m
	return out
}
