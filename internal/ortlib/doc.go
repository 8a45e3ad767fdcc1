// Package ortlib finds the ONNX Runtime shared library that the ort backend
// loads at run time. It owns the search order and the one-line message that
// tells a user how to install the library; it does not load it (that is
// internal/encoder/ort, the only cgo package).
package ortlib
