// Package report makes reelmatch's self-contained HTML report of a WORK
// folder: the metrics of every run next to the seed's own figures, loss
// curves, rank histograms, the seed's qualitative study (posters with their
// nearest intros and intros with their nearest posters, the true match
// marked, with small inlined poster thumbnails) and a heat map of a sample
// of the distance matrix. Everything is inlined, so the file opens offline.
//
// Build gathers Data from a WORK folder (build.go: the manifest, each run
// as package evalrun loads it, its saved evaluation and training history),
// Render turns Data into HTML (report.go and report.html.tmpl), and
// WriteFile does both and writes the file atomically. It computes no
// metrics of its own: they come from evalrun and metrics, and a saved
// evaluation that no longer matches the run is redone in memory, never
// rewritten in WORK.
package report
