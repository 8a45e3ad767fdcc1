// Package evalruntest builds small trained WORK folders for the tests of
// the packages that read runs (report, server/engine), without any model:
// a fake encoder and identity heads stand in for embed and train.
package evalruntest
