package scoreboard

import (
	"fmt"
	"io"
	"strings"

	"github.com/reelmatch/reelmatch/internal/evalrun"
	"github.com/reelmatch/reelmatch/internal/metrics"
)

// Row kinds of Rows.
const (
	RowRun    = "run"    // one run
	RowSeeds  = "seeds"  // mean ± sd of the group of seeds above it
	RowChance = "chance" // a random ranking
)

// Row is one row of the board as text and the report show it.
type Row struct {
	Kind string
	// Run is the run's name (empty for other kinds), What describes the
	// row, Seed is the training seed or "-".
	Run, What, Seed string
	// Cells are the mean rank percentile poster->intro and intro->poster,
	// then R@10 poster->intro and intro->poster: "60.29% [58.14, 62.27]"
	// (value and bootstrap 95% interval, in percent) for a run,
	// "60.10% ± 0.25" (mean and sample sd in points) for a group of seeds.
	Cells [4]string
}

// Headers name the columns of Row.Cells.
var Headers = [4]string{"MRP p->i [95% CI]", "MRP i->p [95% CI]", "R@10 p->i [95% CI]", "R@10 i->p [95% CI]"}

// Rows lists the board's rows: each run, a RowSeeds row after the last run
// of each group of seeds, and the chance row.
func (b *Board) Rows() []Row {
	var rows []Row
	for _, r := range b.Runs {
		seed := "-"
		if r.Seed != 0 {
			seed = fmt.Sprint(r.Seed)
		}
		p, q := r.Result.PosterToIntro, r.Result.IntroToPoster
		rows = append(rows, Row{Kind: RowRun, Run: r.Name, What: r.Describe(), Seed: seed, Cells: [4]string{
			withCI(p.MeanRankPercentile, ci(p, mrpOf)), withCI(q.MeanRankPercentile, ci(q, mrpOf)),
			withCI(p.R10, ci(p, r10Of)), withCI(q.R10, ci(q, r10Of))}})
		// A group's runs are adjacent: its summary follows its last run.
		if g, ok := b.GroupOf(r.Name); ok && g.Runs[len(g.Runs)-1] == r.Name {
			rows = append(rows, Row{Kind: RowSeeds, What: fmt.Sprintf("mean ± sd of %d seeds", len(g.Runs)), Cells: [4]string{
				spread(g.PosterToIntro.MeanRankPercentile), spread(g.IntroToPoster.MeanRankPercentile),
				spread(g.PosterToIntro.R10), spread(g.IntroToPoster.R10)}})
		}
	}
	return append(rows, Row{Kind: RowChance, Run: "chance", What: "random ranking", Cells: [4]string{pct(0.5), pct(0.5), pct(b.Chance.R10), pct(b.Chance.R10)}})
}

// Notes explain the board's abbreviations, intervals and the rows a reader
// may not expect, one sentence or two each.
func (b *Board) Notes() []string {
	notes := []string{"MRP: mean rank percentile (the primary figure); p->i: poster -> intro, i->p: intro -> poster."}
	if len(b.Runs) > 0 {
		if bo := b.Runs[0].Result.Bootstrap; bo != nil {
			notes = append(notes, fmt.Sprintf("[95%% CI]: bootstrap over the %d queries (gallery fixed), %d resamples, seed %d.", b.N, bo.Resamples, bo.Seed))
		}
	}
	if len(b.Groups) > 0 {
		notes = append(notes, "mean ± sd: mean and sample standard deviation over the training seeds, in percentage points.")
	}
	return append(notes, b.notes()...)
}

// WriteText prints the board as an aligned table (Rows) followed by its
// Notes.
func (b *Board) WriteText(w io.Writer) error {
	var out strings.Builder
	fmt.Fprintf(&out, "runs side by side, split %s, n=%d%s\n", b.Split, b.N, evalrun.SplitNote(b.Split))
	if b.Split == evalrun.SplitAll {
		fmt.Fprintln(&out, evalrun.AllProtocolNote)
	}
	rows := b.Rows()
	nameW, whatW := len("run"), len("what")
	for _, r := range rows {
		nameW, whatW = max(nameW, len(r.Run)), max(whatW, len([]rune(r.What)))
	}
	line := func(name, what, seed string, cells [4]string) {
		l := fmt.Sprintf("%-*s  %-*s  %4s", nameW, name, whatW, what, seed)
		for _, c := range cells {
			l += fmt.Sprintf("  %-*s", cellW, c)
		}
		out.WriteString(strings.TrimRight(l, " ") + "\n")
	}
	line("run", "what", "seed", Headers)
	for _, r := range rows {
		line(r.Run, r.What, r.Seed, r.Cells)
	}
	for _, note := range b.Notes() {
		out.WriteString(wrap(note, 100))
	}
	_, err := io.WriteString(w, out.String())
	return err
}

// notes explain the rows a reader may not expect.
func (b *Board) notes() []string {
	seen := map[string]bool{}
	for _, r := range b.Runs {
		seen[r.Role] = true
	}
	var notes []string
	if seen[RoleControl] {
		notes = append(notes, "control: the same training with the intro of each training pair shuffled to another poster; its held-out figures are chance as measured, not assumed.")
	}
	if seen[RoleBaseline] {
		notes = append(notes, "baselines: the other head kinds on the same features and training pairs; the ridge map and CCA are fitted in closed form, their regularisation chosen by cross-validation on the training split.")
	}
	if seen[RoleSeedProtocol] {
		notes = append(notes, "seed's recipe: no dropout, 100 epochs, every training pair, last epoch kept (run --protocol seed): it memorises the training pairs.")
	}
	return notes
}

// cellW is the width of a figure cell: "100.00% [100.00, 100.00]".
const cellW = 24

// wrap breaks text into lines of at most width bytes at spaces, each
// ending in a newline.
func wrap(text string, width int) string {
	var out, line strings.Builder
	for _, w := range strings.Fields(text) {
		if line.Len() > 0 && line.Len()+1+len(w) > width {
			out.WriteString(line.String() + "\n")
			line.Reset()
		}
		if line.Len() > 0 {
			line.WriteString(" ")
		}
		line.WriteString(w)
	}
	if line.Len() > 0 {
		out.WriteString(line.String() + "\n")
	}
	return out.String()
}

func mrpOf(c *metrics.Intervals) metrics.Interval { return c.MeanRankPercentile }
func r10Of(c *metrics.Intervals) metrics.Interval { return c.R10 }

func ci(s metrics.Scores, pick func(*metrics.Intervals) metrics.Interval) *metrics.Interval {
	if s.CI == nil {
		return nil
	}
	iv := pick(s.CI)
	return &iv
}

func pct(v float64) string { return fmt.Sprintf("%.2f%%", 100*v) }

// withCI is "60.29% [58.14, 62.27]", the value and its interval in
// percent; the value alone when there is no interval.
func withCI(v float64, iv *metrics.Interval) string {
	if iv == nil {
		return pct(v)
	}
	return fmt.Sprintf("%s [%.2f, %.2f]", pct(v), 100*iv[0], 100*iv[1])
}

// spread is "60.10% ± 0.25", the mean and the sample standard deviation in
// percentage points.
func spread(s metrics.Spread) string {
	return fmt.Sprintf("%s ± %.2f", pct(s.Mean), 100*s.SD)
}
