// Package onnxpb reads and writes just enough of the ONNX protobuf
// (onnx.proto3; the field numbers are constants here) to edit a model's
// graph: its nodes, initializers, inputs and outputs. Messages are kept as
// lists of wire fields, and every field this package does not understand
// is carried through byte for byte, so an edit never loses data it did not
// touch and weights are only decoded where an edit asks for them.
//
// The full generated ONNX protobuf types are not used because onnx-gomlx
// registers its own copy under the same names, and two registrations of
// one protobuf name panic at start-up.
package onnxpb
