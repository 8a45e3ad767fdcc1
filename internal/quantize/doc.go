// Package quantize rewrites a float32 ONNX encoder so that ONNX Runtime's
// CPU kernels run its heavy operators in 8-bit integers, the way
// onnxruntime.quantization does in Python:
//
//   - MatMul with a constant weight (every linear layer of DistilBERT and
//     of both CLIP towers) becomes dynamic quantization: the activations
//     are quantized per call (DynamicQuantizeLinear), the weight once, per
//     tensor, to int8. ONNX Runtime fuses the pattern into one
//     DynamicQuantizeMatMul kernel.
//   - Conv with a constant weight (ResNet-50) becomes static quantization
//     in QDQ form: QuantizeLinear/DequantizeLinear pairs around every
//     convolution, residual Add and MaxPool, with activation ranges measured
//     on calibration inputs, weights per output channel in int8 and biases
//     in int32. A ReLU after a convolution or residual Add is folded into
//     the following QuantizeLinear (zero point 0 clamps negatives), as
//     onnxruntime.quantization does. ONNX Runtime fuses each group into
//     QLinearConv / QLinearAdd kernels.
//
// Everything else stays float32. The result is an ordinary ONNX file that
// any ONNX Runtime loads; on a 2-core AVX-512 machine it runs ResNet-50
// about 3.5x and the transformers about 2.5x faster than float32 (README,
// Performance). The price is a small change in the vectors, measured by
// the tests and stated in docs/models.md.
package quantize
