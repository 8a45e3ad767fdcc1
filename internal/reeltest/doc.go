// Package reeltest holds test helpers shared by several packages: fake
// encoders with deterministic vectors, fixture loaders and a headless
// Chromium for end-to-end page tests (chromedp). Only tests import it, so
// the browser dependency never reaches the binary.
package reeltest
