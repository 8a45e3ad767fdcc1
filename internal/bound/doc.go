// Package bound holds the allowed ranges of numeric settings: an inclusive
// or exclusive interval with a Check that refuses NaN, ±Inf and anything
// outside, naming the interval. The package that owns a setting declares
// its range next to it (heads.EpochsRange, ...), so the code that validates
// a saved config and the command-line flag that sets it use the same
// numbers. It leaves parsing flags and environment variables to cmd.
package bound
