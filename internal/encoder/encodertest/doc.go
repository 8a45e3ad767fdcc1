// Package encodertest is the test support of package encoder: the
// conformance suite for encoder runtimes (ort, go) and two fake encoders
// with deterministic vectors (ColorEncoder, HashEncoder) for the tests of
// the packages that use encoders.
//
// The suite runs the same golden checks, made with PyTorch and
// transformers on tiny random-weight models (the repository's
// testdata/fixtures; see its README.md), against each runtime from its own
// package tests, plus an agreement check between two runtimes on golden
// and random inputs. Runtime packages call Run from a test; the agreement
// check lives in this package's own tests, which import both runtimes.
package encodertest
