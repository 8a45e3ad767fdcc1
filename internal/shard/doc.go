// Package shard cuts a catalogue into N deterministic slices, so that N
// machines (a Slurm job array, a Kubernetes Indexed Job) can each embed one
// slice and a merge can put the slices back together.
//
// A movie's slice depends only on its id and N: the id's SHA-256 is fed to
// jump consistent hashing (Lamping and Veach, "A Fast, Minimal Memory,
// Consistent Hash Algorithm", 2014, arXiv:1406.2294). Adding or removing
// movies moves no other movie, and going from N to N+1 slices moves only
// about 1/(N+1) of them. Slices are balanced in expectation, not exactly.
//
// The package knows nothing of files; internal/workdir names shard files
// and internal/embed writes and merges them.
package shard
