package scoreboard

import (
	"context"
	"fmt"

	"github.com/reelmatch/reelmatch/internal/evalrun"
	"github.com/reelmatch/reelmatch/internal/workdir"
)

// Evaluate loads each named run of work (every run in work when names is
// empty), evaluates it on split with o, writes its eval_<split>.json and
// distance matrix when save is set, and returns the board. A run that
// cannot be loaded is an error naming it.
func Evaluate(ctx context.Context, work workdir.Dir, names []string, split string, o evalrun.Options, save bool) (*Board, error) {
	if len(names) == 0 {
		var err error
		if names, err = evalrun.Runs(work); err != nil {
			return nil, err
		}
		if len(names) == 0 {
			return nil, fmt.Errorf("%w in %s: run `reelmatch train --work %s --encoder NAME` first", evalrun.ErrNoRun, work, work)
		}
	}
	var runs []Run
	for _, name := range names {
		if err := ctx.Err(); err != nil {
			return nil, err
		}
		space, err := evalrun.Load(work, name)
		if err != nil {
			return nil, fmt.Errorf("run %s: %w", name, err)
		}
		ev, err := space.Evaluate(split, o)
		if err != nil {
			return nil, fmt.Errorf("run %s: %w", name, err)
		}
		if save {
			if err := ev.Save(work); err != nil {
				return nil, fmt.Errorf("run %s: %w", name, err)
			}
		}
		r := ev.Result
		runs = append(runs, NewRun(name, space.Heads.Settings, &r))
	}
	return New(split, runs)
}
