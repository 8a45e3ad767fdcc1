// Package encodertest is the conformance suite for encoder runtimes (ort,
// go): the same golden checks, made with PyTorch and transformers on tiny
// random-weight models (the repository's testdata/fixtures; see its
// README.md), run against each runtime from its own package tests, plus an
// agreement check between two runtimes on golden and random inputs.
//
// Runtime packages call Run from a test; the agreement check lives in this
// package's own tests, which import both runtimes.
package encodertest
