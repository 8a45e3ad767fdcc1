// Package reeltest holds test helpers shared by several packages: fake
// encoders with deterministic vectors, fixture loaders, small file and
// image writers, JSON-over-HTTP calls for the API tests, and a headless
// Chromium (Browser) for end-to-end page tests (chromedp). Only tests
// import it, so the browser dependency never reaches the binary. Every
// helper that can fail takes a testing.TB and fails the test itself.
//
// The golden fixtures live once, in testdata/fixtures at the module root
// (its README says where each file comes from). Fixture finds a file there
// from any package's test, Golden reads a golden safetensors file together
// with the parts split off to keep files under 4 MiB, and Models lays the
// tiny models out as the pretrained encoders' models folder.
package reeltest
