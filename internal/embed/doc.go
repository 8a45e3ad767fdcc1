// Package embed runs every movie of a manifest through a frozen encoder and
// keeps the vectors in the feature cache (internal/embcache).
//
// Run streams posters and intros in batches with bounded memory: a pool of
// workers decodes posters and calls ImageTower.Prepare while the previous
// batch is in ImageTower.Encode, and intros are batched in order of length
// (so ONNX text towers pad little) before the results are put back in
// manifest order. Rows the cache already holds for the same encoder
// fingerprint, text-input setting and content hash are reused, so an
// unchanged rerun writes nothing.
//
// Encoders that learn from data (encoder.Fitter, the builtin TF-IDF) are
// fitted on the training split only and their state is saved at
// workdir.Dir.EncoderState; OpenEncoder restores it so search and serve
// encode new text exactly as embed did.
//
// The package does not know how vectors are computed (that is the
// encoder's business) nor how they are stored (embcache's).
package embed
