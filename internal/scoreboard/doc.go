// Package scoreboard puts several named runs of one WORK side by side on
// one split: the learnt heads (each training seed, and their mean ± sd),
// the closed-form baselines, zero-shot, the shuffled-pairs control and the
// seed-protocol run, each with its mean rank percentile and R@10 and their
// bootstrap 95% intervals, next to chance.
//
// It decides what a run is from its config.json (head kind, shuffled
// pairs, seed) and which runs are seed replicates of one recipe (equal
// settings apart from the seed), and prints the board as text; eval, run
// and the report show it. It computes no metric itself: evaluations come
// from evalrun, spreads from metrics.
package scoreboard
