// Command featdiff measures how far two feature caches of the same movies
// are apart, tower by tower: the cosine between each movie's two vectors,
// and how many of each movie's k nearest movies (by cosine, within the
// cache) stay among its k nearest. docs/models.md quotes it for float32
// against int8 models:
//
//	go run ./internal/quantize/cmd/featdiff W1/features/E.safetensors W2/features/E.safetensors
package main

import (
	"cmp"
	"flag"
	"fmt"
	"math"
	"os"
	"slices"

	"github.com/reelmatch/reelmatch/internal/embcache"
)

func main() {
	k := flag.Int("k", 10, "neighbours compared per movie")
	flag.Usage = func() {
		fmt.Fprintln(os.Stderr, "usage: featdiff [-k 10] A.safetensors B.safetensors")
		flag.PrintDefaults()
	}
	flag.Parse()
	if flag.NArg() != 2 || *k < 1 {
		flag.Usage()
		os.Exit(2)
	}
	if err := run(flag.Arg(0), flag.Arg(1), *k); err != nil {
		fmt.Fprintln(os.Stderr, "featdiff:", err)
		os.Exit(1)
	}
}

func run(pathA, pathB string, k int) error {
	a, err := embcache.Load(pathA)
	if err != nil {
		return err
	}
	b, err := embcache.Load(pathB)
	if err != nil {
		return err
	}
	// Compare b's rows in a's movie order.
	bImg, bTxt, err := b.Rows(a.IDs)
	if err != nil {
		return fmt.Errorf("%s: %w", pathB, err)
	}
	if k >= len(a.IDs) {
		return fmt.Errorf("-k %d needs more than %d movies", k, len(a.IDs))
	}
	for _, tw := range []struct {
		name string
		a, b [][]float32
	}{{"image", a.Image, bImg}, {"text", a.Text, bTxt}} {
		if len(tw.a[0]) != len(tw.b[0]) {
			return fmt.Errorf("%s vectors are %d-d in %s and %d-d in %s", tw.name, len(tw.a[0]), pathA, len(tw.b[0]), pathB)
		}
		na, nb := normalized(tw.a), normalized(tw.b)
		cos := make([]float64, len(na))
		for i := range na {
			cos[i] = dot(na[i], nb[i])
		}
		sum := 0.0
		for _, c := range cos {
			sum += c
		}
		kept := neighbourOverlap(na, nb, k)
		fmt.Printf("%s: %d movies, %d-d: cosine mean %.4f min %.4f; top-%d neighbours kept %.1f%%\n",
			tw.name, len(cos), len(tw.a[0]), sum/float64(len(cos)), slices.Min(cos), k, 100*kept)
	}
	return nil
}

func normalized(rows [][]float32) [][]float64 {
	out := make([][]float64, len(rows))
	for i, r := range rows {
		v := make([]float64, len(r))
		var n float64
		for j, x := range r {
			v[j] = float64(x)
			n += v[j] * v[j]
		}
		if n = math.Sqrt(n); n > 0 {
			for j := range v {
				v[j] /= n
			}
		}
		out[i] = v
	}
	return out
}

func dot(a, b []float64) float64 {
	s := 0.0
	for i := range a {
		s += a[i] * b[i]
	}
	return s
}

// neighbourOverlap is the mean share of each row's k nearest other rows
// in a that are also among its k nearest in b.
func neighbourOverlap(a, b [][]float64, k int) float64 {
	total := 0.0
	for i := range a {
		na, nb := nearest(a, i, k), nearest(b, i, k)
		shared := 0
		for _, j := range na {
			if slices.Contains(nb, j) {
				shared++
			}
		}
		total += float64(shared) / float64(k)
	}
	return total / float64(len(a))
}

func nearest(rows [][]float64, i, k int) []int {
	idx := make([]int, 0, len(rows)-1)
	sims := make([]float64, len(rows))
	for j := range rows {
		if j != i {
			idx = append(idx, j)
			sims[j] = dot(rows[i], rows[j])
		}
	}
	slices.SortFunc(idx, func(x, y int) int { return cmp.Compare(sims[y], sims[x]) })
	return idx[:k]
}
