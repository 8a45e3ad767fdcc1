// Package gomlx runs ONNX models in pure Go, registered as encoder runtime
// "go": github.com/gomlx/onnx-gomlx converts the ONNX graph to a GoMLX
// graph, and GoMLX's pure-Go backend (github.com/gomlx/compute/gobackend)
// executes it. No cgo and no shared library, so it works wherever the
// binary runs, at a fraction of ONNX Runtime's speed.
//
// Before onnx-gomlx sees a model, a few load-time rewrites of the ONNX
// protobuf turn patterns it cannot build into equivalent ones (rewrite.go)
// and lower convolutions to im2col + MatMul, which the backend runs 10-40x
// faster than its direct convolution (conv.go). A model that still uses an
// operator onnx-gomlx lacks is refused at Open with a one-line error
// wrapping encoder.ErrUnsupportedModel that suggests `--backend ort`.
//
// GoMLX compiles one executable per input shape. Sessions cache them, and
// pad the batch dimension up to a few fixed sizes (see batchBuckets) so a
// run of odd batch sizes does not compile a new graph each time.
package gomlx
