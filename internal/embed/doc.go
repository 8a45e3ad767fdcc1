// Package embed runs every movie of a manifest through a frozen encoder and
// keeps the vectors in the feature cache (internal/embcache).
//
// Run streams intros, then posters, in batches with bounded memory: intros
// are batched in order of length (so ONNX text towers pad little), and a
// pool of workers decodes posters and calls ImageTower.Prepare while the
// previous batch is in ImageTower.Encode; results are put back in manifest
// order. Rows the cache already holds for the same encoder fingerprint,
// text-input setting and content hash are reused, so an unchanged rerun
// writes nothing.
//
// Every computed batch is appended to a checkpoint (embcache.Checkpoint), so
// a run stopped by kill -9, Ctrl-C or an error loses at most the batches in
// flight; the rerun reuses the checkpoint's rows and writes the same bytes
// as an uninterrupted run.
//
// Run with Options.Shard embeds one slice of the manifest (internal/shard)
// into a shard file, and Merge joins the slices into the feature cache,
// byte-identical to a one-machine Run; a shard file is a feature file of a
// slice, with the manifest's digest so shards of different manifests are
// never joined.
//
// Encoders that learn from data (encoder.Fitter, the builtin TF-IDF) are
// fitted on the whole manifest's training split only, whatever slice is
// embedded, and their state is saved at workdir.Dir.EncoderState; OpenEncoder
// restores it so search and serve encode new text exactly as embed did.
//
// The package does not know how vectors are computed (that is the
// encoder's business) nor how they are stored (embcache's).
package embed
