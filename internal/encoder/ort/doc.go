// Package ort runs ONNX models with Microsoft's ONNX Runtime through
// github.com/yalue/onnxruntime_go, registered as encoder runtime "ort".
//
// The shared library (ONNX Runtime 1.24.1) is loaded at run time, never
// linked: internal/ortlib finds it, and when it is missing Available returns
// a one-line error wrapping encoder.ErrBackendUnavailable that names
// `make setup`. The ONNX Runtime environment is created once per process
// and never destroyed. Sessions are safe for concurrent use (ONNX Runtime
// allows concurrent Run calls on one session).
//
// This package knows nothing about images or text: it moves named float32
// and int64 tensors in and out of a model file.
package ort
