package report

import (
	"github.com/reelmatch/reelmatch/internal/evalrun"
	"github.com/reelmatch/reelmatch/internal/scoreboard"
)

// SeedProtocol is the seed-protocol run's two readings of the seed's
// number (scoreboard.ReadingRows): top-1 accuracy and mean rank percentile
// on split all, train and test.
type SeedProtocol struct {
	Run  string
	Rows []scoreboard.ReadingRow
}

// compare fills d.Compare with every run of encoder in WORK side by side on
// the test split (main, the report's run, included), and d.SeedProtocol
// from the run `run --protocol seed` trains when there is one. A run that
// no longer loads (features re-embedded since) is left out with a warning;
// evaluations come from the saved files when current, as for the report's
// own run.
func (b *builder) compare(d *Data, encoder string) error {
	runs, err := evalrun.ListRuns(b.work)
	if err != nil {
		return err
	}
	var board []scoreboard.Run
	for _, ri := range runs {
		if ri.Encoder != encoder {
			continue
		}
		space, err := evalrun.Load(b.work, ri.Name)
		if err != nil {
			b.opts.warnf("report: run %s left out of the comparison: %v", ri.Name, err)
			continue
		}
		_, res, _, _, err := b.split(space, evalrun.SplitTest)
		if err != nil {
			return err
		}
		if res == nil {
			return nil // no test split: nothing to compare on
		}
		r := scoreboard.NewRun(ri.Name, space.Heads.Settings, res)
		board = append(board, r)
		if r.Role != scoreboard.RoleSeedProtocol || d.SeedProtocol != nil {
			continue
		}
		results := []*evalrun.Result{res}
		for _, split := range []string{evalrun.SplitAll, evalrun.SplitTrain} {
			_, sr, _, _, err := b.split(space, split)
			if err != nil {
				return err
			}
			results = append(results, sr)
		}
		d.SeedProtocol = &SeedProtocol{Run: ri.Name, Rows: scoreboard.ReadingRows(results)}
	}
	if len(board) == 0 {
		return nil
	}
	d.Compare, err = scoreboard.New(evalrun.SplitTest, board)
	return err
}
