// Package embcache is the feature cache: the image and text vectors one
// encoder produced for every movie of a manifest, stored as a safetensors
// file (float32 tensors "image" [n, imageDim] and "text" [n, textDim], rows
// aligned with the ids kept in the metadata) at workdir.Dir.Features.
//
// Rows are addressed by content. A cached image row is reused when the
// image tower's fingerprint is unchanged and the poster's SHA-256 is the
// same; a cached text row when the text tower's fingerprint, the text-input
// setting ("raw" or "clean") and the SHA-256 of the text actually encoded
// are the same (so re-cleaning intros differently also counts as a
// change). Keeping the towers apart means refitting a text model does not
// recompute posters. A fingerprint or setting
// mismatch is a miss, never an error, so a changed encoder simply recomputes
// everything, and a changed movie recomputes only that movie.
//
// The package stores and looks up vectors; how they are produced is left to
// internal/embed.
package embcache
