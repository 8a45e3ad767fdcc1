//go:build race

package main

// raceDetector is true in a test binary built with -race. The race
// detector's shadow memory multiplies a process's resident memory several
// times over, so the hostile harness's memory budgets (peak and
// after-burst RSS) are asserted only in the plain build, which make test
// runs for this package's whole suite; under -race the same cases still
// check exit codes, messages, timing and untouched files.
const raceDetector = true
