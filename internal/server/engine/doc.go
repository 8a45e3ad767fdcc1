// Package engine is what `reelmatch serve` answers from: a server.Engine
// over one trained run of a WORK folder. It loads the run (every movie of
// the manifest projected by the run's heads, indexed as one gallery),
// opens and warms up the run's encoder for free-text and image queries,
// and serialises the calls into the encoder's towers, which need not be
// safe for concurrent use.
//
// It leaves HTTP to package server, and loading, projecting and indexing a
// run to package evalrun.
package engine
