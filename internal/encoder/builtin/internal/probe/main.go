package main

import (
	"context"
	"flag"
	"fmt"
	"os"
	"strings"

	"github.com/reelmatch/reelmatch/internal/dataset"
	"github.com/reelmatch/reelmatch/internal/embcache"
	"github.com/reelmatch/reelmatch/internal/encoder/builtin"
	"github.com/reelmatch/reelmatch/internal/heads"
	"github.com/reelmatch/reelmatch/internal/reel"
	"github.com/reelmatch/reelmatch/internal/workdir"
)

func main() {
	if err := run(); err != nil {
		fmt.Fprintln(os.Stderr, "probe:", err)
		os.Exit(1)
	}
}

type options struct {
	work    string
	encoder string
	ablate  bool
	test    bool
	folds   int
	seed    int64
	only    string
	drop    string
	text    int
}

func run() error {
	var o options
	flag.StringVar(&o.work, "work", "work", "WORK folder with manifest.json and the feature cache")
	flag.StringVar(&o.encoder, "encoder", builtin.Name, "encoder whose cache to read")
	flag.BoolVar(&o.ablate, "ablate", false, "also score each image block alone and the rest without it")
	flag.BoolVar(&o.test, "test", false, "also score the settings cross-validation chose on the held-out split")
	flag.IntVar(&o.folds, "folds", heads.DefaultFolds, "cross-validation folds over the training split")
	flag.Int64Var(&o.seed, "seed", 1, "seed of the folds")
	flag.StringVar(&o.only, "only", "", "comma-separated image blocks to keep (default all)")
	flag.StringVar(&o.drop, "drop", "", "comma-separated image blocks to leave out")
	flag.IntVar(&o.text, "text-dims", 0, "keep only the first N text dimensions (LSA components come largest first; 0 keeps all)")
	flag.Parse()

	work := workdir.Dir(o.work)
	man, err := dataset.Load(work.Manifest())
	if err != nil {
		return err
	}
	feats, err := embcache.Load(work.Features(o.encoder))
	if err != nil {
		return err
	}
	trI, trT, err := feats.Rows(dataset.IDs(man.Split(reel.SplitTrain)))
	if err != nil {
		return err
	}
	teI, teT, err := feats.Rows(dataset.IDs(man.Split(reel.SplitTest)))
	if err != nil {
		return err
	}
	if o.text > 0 {
		trT, teT = firstCols(trT, o.text), firstCols(teT, o.text)
	}
	blocks := builtin.ImageBlocks()
	if o.encoder != builtin.Name || sumLen(blocks) != len(trI[0]) {
		blocks = []builtin.Block{{Name: "all", Len: len(trI[0])}}
	}
	fmt.Printf("train %d, test %d, image dim %d, text dim %d; %d-fold cross-validation on the training split (seed %d)\n",
		len(trI), len(teI), len(trI[0]), len(trT[0]), o.folds, o.seed)
	sel := func(keep func(string) bool) []int {
		var cols []int
		off := 0
		for _, b := range blocks {
			if keep(b.Name) {
				for j := range b.Len {
					cols = append(cols, off+j)
				}
			}
			off += b.Len
		}
		return cols
	}
	base := sel(func(n string) bool {
		if o.only != "" && !inList(o.only, n) {
			return false
		}
		return !inList(o.drop, n)
	})
	p := probe{o: o, trT: trT, teT: teT}
	if err := p.report("all", pick(trI, base), pick(teI, base)); err != nil {
		return err
	}
	if o.ablate {
		for _, b := range blocks {
			name := b.Name
			alone, rest := sel(func(n string) bool { return n == name }), sel(func(n string) bool { return n != name })
			if err := p.report("only "+name, pick(trI, alone), pick(teI, alone)); err != nil {
				return err
			}
			if err := p.report("drop "+name, pick(trI, rest), pick(teI, rest)); err != nil {
				return err
			}
		}
	}
	return nil
}

type probe struct {
	o        options
	trT, teT [][]float32
}

// report prints, for one image feature selection, the ridge and the CCA
// setting that cross-validation on the training split chose, with their
// mean ± sd over folds, and with --test their held-out scores.
func (p probe) report(name string, trI, teI [][]float32) error {
	if len(trI[0]) == 0 {
		return nil
	}
	line := fmt.Sprintf("%-16s dim %4d", name, len(trI[0]))
	for _, kind := range []string{heads.KindLinear, heads.KindCCA} {
		rep, err := heads.SelectLinear(context.Background(), kind, trI, p.trT, heads.DefaultLinearGrid(kind), p.o.folds, p.o.seed)
		if err != nil {
			return fmt.Errorf("%s, %s: %w", name, kind, err)
		}
		c := rep.Grid[rep.Chosen]
		line += fmt.Sprintf(" | %-6s %-17s CV %.4f ± %.4f (p2i %.4f i2p %.4f)", kind, c.Setting, c.Mean.Mean, c.Mean.SD, c.PosterToIntro.Mean, c.IntroToPoster.Mean)
		if p.o.test {
			m, err := heads.FitLinear(kind, trI, p.trT, c.Setting)
			if err != nil {
				return err
			}
			s, err := heads.ScorePairs(m, teI, p.teT)
			if err != nil {
				return err
			}
			line += fmt.Sprintf(" test %.4f / %.4f", s.PosterToIntro, s.IntroToPoster)
		}
	}
	fmt.Println(line)
	return nil
}

func pick(rs [][]float32, cols []int) [][]float32 {
	out := make([][]float32, len(rs))
	for i, r := range rs {
		out[i] = make([]float32, len(cols))
		for j, c := range cols {
			out[i][j] = r[c]
		}
	}
	return out
}

func firstCols(rs [][]float32, k int) [][]float32 {
	out := make([][]float32, len(rs))
	for i, r := range rs {
		out[i] = r[:min(k, len(r))]
	}
	return out
}

func sumLen(bs []builtin.Block) int {
	n := 0
	for _, b := range bs {
		n += b.Len
	}
	return n
}

func inList(list, name string) bool {
	for _, s := range strings.Split(list, ",") {
		if s == name {
			return true
		}
	}
	return false
}
