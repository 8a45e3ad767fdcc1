//go:build !race

package main

// raceDetector is false in a plain test binary: see race_on_test.go.
const raceDetector = false
