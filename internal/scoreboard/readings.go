package scoreboard

import (
	"fmt"
	"io"
	"strings"

	"github.com/reelmatch/reelmatch/internal/evalrun"
	"github.com/reelmatch/reelmatch/internal/metrics"
)

// SeedFigure is a number the seed (the course project reelmatch
// reimplements) reported on its own data: an "accuracy" along dim 0 and
// dim 1 of its distance matrix, every sample used as the test set, from a
// get_acc function that was not kept.
type SeedFigure struct {
	Model string `json:"model"`
	Dim0  string `json:"dim0"`
	Dim1  string `json:"dim1"`
}

// SeedFigures are the seed's Table 2 (../shared/seed/, section 3.1), on its
// own copy of the data (N = 2,938).
var SeedFigures = []SeedFigure{
	{Model: "ResNet-50 + DistilBERT", Dim0: "65.66%", Dim1: "66.30%"},
	{Model: "CLIP ViT-B/32", Dim0: "62.87%", Dim1: "62.4%"},
}

// SeedReadingNote is what every place that shows the seed's figures says
// about them.
const SeedReadingNote = "The seed's figures come from a get_acc function that was not kept, on split all of its own data (training pairs included). " +
	"Two readings reach their range on split all: a mean rank percentile, and a top-1 accuracy of heads that memorise their training pairs " +
	"(run --protocol seed). Which one the seed computed cannot be recovered, so they cannot be read as a measure of alignment; " +
	"the held-out split is the measure."

// WriteReadings prints the two readings of the seed's number side by side
// for one run: top-1 accuracy and mean rank percentile, each direction
// with its bootstrap 95% interval, on every split in results (all first,
// as the seed evaluated), then the seed's own figures and SeedReadingNote.
func WriteReadings(w io.Writer, run string, results []*evalrun.Result) error {
	var out strings.Builder
	fmt.Fprintf(&out, "the seed's number, two readings: run %s\n", run)
	row := func(cells ...string) {
		line := fmt.Sprintf("%-34s %5s", cells[0], cells[1])
		for _, c := range cells[2:] {
			line += fmt.Sprintf("  %-*s", cellW, c)
		}
		out.WriteString(strings.TrimRight(line, " ") + "\n")
	}
	row("split", "n", "top-1 p->i [95% CI]", "top-1 i->p [95% CI]", "MRP p->i [95% CI]", "MRP i->p [95% CI]")
	order := []string{evalrun.SplitAll, evalrun.SplitTrain, evalrun.SplitTest}
	for _, split := range order {
		for _, r := range results {
			if r == nil || r.Split != split {
				continue
			}
			p, q := r.PosterToIntro, r.IntroToPoster
			row(split+evalrun.SplitNote(split), fmt.Sprint(r.N),
				withCI(p.Top1Acc, ci(p, top1Of)), withCI(q.Top1Acc, ci(q, top1Of)),
				withCI(p.MeanRankPercentile, ci(p, mrpOf)), withCI(q.MeanRankPercentile, ci(q, mrpOf)))
		}
	}
	out.WriteString("chance: top-1 1/n, MRP 50%.\n")
	for _, f := range SeedFigures {
		fmt.Fprintf(&out, "the seed reported (its data, N = 2,938, split all): %s %s / %s\n", f.Model, f.Dim0, f.Dim1)
	}
	out.WriteString(wrap(SeedReadingNote, 100))
	_, err := io.WriteString(w, out.String())
	return err
}

func top1Of(c *metrics.Intervals) metrics.Interval { return c.Top1Acc }
