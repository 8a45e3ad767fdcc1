// Package encoder defines what an encoder is (an image tower and a text
// tower behind one name and one fingerprint), the Config every encoder is
// built from, the registry of encoders by name, and the Runtime interface
// that ONNX backends (ort, gomlx) implement. Concrete encoders live in
// subpackages and register themselves in init; cmd/reelmatch blank-imports
// them all from one file.
package encoder
