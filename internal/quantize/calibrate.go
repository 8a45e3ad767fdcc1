package quantize

import (
	"fmt"
	"math"
	"os"

	"github.com/reelmatch/reelmatch/internal/encoder"
	"github.com/reelmatch/reelmatch/internal/onnxpb"
)

// measureRanges runs the float model over o.Calibration with the named
// tensors added as graph outputs, and returns each one's smallest and
// largest value (NaN and ±Inf ignored). The edited model goes to a
// temporary file because runtimes open models by path.
func measureRanges(src []byte, names []string, o Options) (mins, maxs map[string]float32, err error) {
	withOutputs, err := addOutputs(src, names)
	if err != nil {
		return nil, nil, err
	}
	f, err := os.CreateTemp(o.TempDir, "reelmatch-calibration-*.onnx")
	if err != nil {
		return nil, nil, fmt.Errorf("calibration model: %w", err)
	}
	defer os.Remove(f.Name())
	_, werr := f.Write(withOutputs)
	if cerr := f.Close(); werr == nil {
		werr = cerr
	}
	if werr != nil {
		return nil, nil, fmt.Errorf("calibration model: %w", werr)
	}
	sess, err := o.Runtime.Open(f.Name(), encoder.SessionOptions{})
	if err != nil {
		return nil, nil, fmt.Errorf("calibration model: %w", err)
	}
	defer sess.Close()

	mins, maxs = map[string]float32{}, map[string]float32{}
	for _, name := range names {
		mins[name], maxs[name] = float32(math.Inf(1)), float32(math.Inf(-1))
	}
	for i, batch := range o.Calibration {
		res, err := sess.Run(batch, names)
		if err != nil {
			return nil, nil, fmt.Errorf("calibration batch %d: %w", i+1, err)
		}
		for name, t := range res {
			lo, hi := mins[name], maxs[name]
			for _, v := range t.F32 {
				if v < lo && !math.IsInf(float64(v), -1) {
					lo = v
				}
				if v > hi && !math.IsInf(float64(v), 1) {
					hi = v
				}
			}
			mins[name], maxs[name] = lo, hi
		}
	}
	for _, name := range names {
		if mins[name] > maxs[name] { // no finite value seen
			mins[name], maxs[name] = 0, 0
		}
	}
	return mins, maxs, nil
}

// addOutputs returns the model with the named tensors appended to its
// graph's outputs as float32 tensors of unknown shape.
func addOutputs(src []byte, names []string) ([]byte, error) {
	model, err := onnxpb.Parse(src)
	if err != nil {
		return nil, fmt.Errorf("parse ONNX model: %w", err)
	}
	gi := onnxpb.GraphIndex(model)
	if gi < 0 {
		return nil, onnxpb.ErrNoGraph
	}
	g, err := onnxpb.Parse(model[gi].B)
	if err != nil {
		return nil, fmt.Errorf("parse ONNX graph: %w", err)
	}
	outs, err := g.Msgs(onnxpb.GraphOutput)
	if err != nil {
		return nil, fmt.Errorf("parse ONNX graph outputs: %w", err)
	}
	have := map[string]bool{}
	for _, o := range outs {
		have[o.Str(onnxpb.ValueInfoName)] = true
	}
	for _, name := range names {
		if !have[name] {
			g = append(g, onnxpb.MsgField(onnxpb.GraphOutput, onnxpb.ValueInfo(name, onnxpb.DTypeFloat)))
		}
	}
	model[gi] = onnxpb.MsgField(onnxpb.ModelGraph, g)
	return model.Marshal(), nil
}
