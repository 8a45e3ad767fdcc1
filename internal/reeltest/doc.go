// Package reeltest holds test helpers shared by several packages: fixture
// loaders, small file and image writers, JSON-over-HTTP calls for the API
// tests, and a headless Chromium (Browser) for end-to-end page tests
// (chromedp). Only tests import it, so the browser dependency never
// reaches the binary. Every helper that can fail takes a testing.TB and
// fails the test itself. It imports no other reelmatch package but
// safetensors, so any package's tests (encoder/encodertest included) can
// use it without an import pointing back up; the fake encoders live with
// the encoder interfaces, in encoder/encodertest.
//
// The golden fixtures live once, in testdata/fixtures at the module root
// (its README says where each file comes from). Fixture finds a file there
// from any package's test, Golden reads a golden safetensors file together
// with the parts split off to keep files under 4 MiB, and Models lays the
// tiny models out as the pretrained encoders' models folder.
package reeltest
