package main

import "testing"

func TestNeighbourOverlap(t *testing.T) {
	a := normalized([][]float32{{1, 0}, {0.9, 0.1}, {0, 1}, {0.1, 0.9}})
	if got := neighbourOverlap(a, a, 1); got != 1 {
		t.Errorf("same rows: overlap %v, want 1", got)
	}
	// Swapping which pair is close changes every nearest neighbour.
	b := normalized([][]float32{{1, 0}, {0.1, 0.9}, {0, 1}, {0.9, 0.1}})
	if got := neighbourOverlap(a, b, 1); got != 0 {
		t.Errorf("swapped pairs: overlap %v, want 0", got)
	}
	if got := nearest(a, 0, 2); got[0] != 1 || got[1] != 3 {
		t.Errorf("nearest to row 0: %v, want [1 3]", got)
	}
}
