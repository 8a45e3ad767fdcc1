// Package report renders reelmatch's self-contained HTML report: the metrics
// of every run next to the seed's own figures, loss curves, rank
// histograms, the seed's qualitative study (posters with their nearest
// intros and intros with their nearest posters, the true match marked) and a
// heat map of a sample of the distance matrix. Everything (thumbnails,
// charts) is inlined, so the file opens offline.
//
// It renders what it is given and computes no metrics: callers (cmd
// reelmatch report) fill Data from a WORK folder.
package report
