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

// ReadingRow is one split of the two readings: top-1 accuracy and mean
// rank percentile, each direction "79.95% [78.6, 81.4]" with its bootstrap
// 95% interval.
type ReadingRow struct {
	Split string // "all", "train", "test"
	// Label is the split with what it holds: "all (training pairs included)".
	Label string
	N     int
	// Cells are top-1 poster->intro and intro->poster, then the mean rank
	// percentile poster->intro and intro->poster.
	Cells [4]string
}

// ReadingHeaders name the columns of ReadingRow.Cells.
var ReadingHeaders = [4]string{"top-1 p->i [95% CI]", "top-1 i->p [95% CI]", "MRP p->i [95% CI]", "MRP i->p [95% CI]"}

// ReadingRows lists the two readings for every split in results (nil
// entries skipped), all first, as the seed evaluated, then train and test.
func ReadingRows(results []*evalrun.Result) []ReadingRow {
	var rows []ReadingRow
	for _, split := range []string{evalrun.SplitAll, evalrun.SplitTrain, evalrun.SplitTest} {
		for _, r := range results {
			if r == nil || r.Split != split {
				continue
			}
			p, q := r.PosterToIntro, r.IntroToPoster
			rows = append(rows, ReadingRow{Split: split, Label: split + evalrun.SplitNote(split), N: r.N, Cells: [4]string{
				withCI(p.Top1Acc, ci(p, top1Of)), withCI(q.Top1Acc, ci(q, top1Of)),
				withCI(p.MeanRankPercentile, ci(p, mrpOf)), withCI(q.MeanRankPercentile, ci(q, mrpOf))}})
		}
	}
	return rows
}

// WriteReadings prints the two readings of the seed's number side by side
// for one run (ReadingRows), then the seed's own figures and
// SeedReadingNote.
func WriteReadings(w io.Writer, run string, results []*evalrun.Result) error {
	var out strings.Builder
	fmt.Fprintf(&out, "the seed's number, two readings: run %s\n", run)
	line := func(label, n string, cells [4]string) {
		l := fmt.Sprintf("%-34s %5s", label, n)
		for _, c := range cells {
			l += fmt.Sprintf("  %-*s", cellW, c)
		}
		out.WriteString(strings.TrimRight(l, " ") + "\n")
	}
	line("split", "n", ReadingHeaders)
	for _, r := range ReadingRows(results) {
		line(r.Label, fmt.Sprint(r.N), r.Cells)
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
