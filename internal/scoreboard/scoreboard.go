package scoreboard

import (
	"cmp"
	"fmt"
	"reflect"
	"slices"
	"strings"

	"github.com/reelmatch/reelmatch/internal/evalrun"
	"github.com/reelmatch/reelmatch/internal/heads"
	"github.com/reelmatch/reelmatch/internal/metrics"
	"github.com/reelmatch/reelmatch/internal/workdir"
)

// Roles of a run in a comparison, in the order the board lists them.
const (
	// RoleModel is a run of the learnt heads (the seed's MLP), one seed.
	RoleModel = "model"
	// RoleBaseline is a closed-form baseline (ridge map or CCA).
	RoleBaseline = "baseline"
	// RoleZeroShot is --heads none: the encoder's own shared space.
	RoleZeroShot = "zero-shot"
	// RoleControl is a run trained on shuffled pairs: what chance looks
	// like with the same heads and data.
	RoleControl = "control"
	// RoleSeedProtocol is the seed's training recipe (run --protocol seed).
	RoleSeedProtocol = "seed-protocol"
)

var roleOrder = []string{RoleModel, RoleBaseline, RoleZeroShot, RoleControl, RoleSeedProtocol}

// SeedProtocolVariant is the suffix of the run `run --protocol seed`
// trains: <encoder>.seed-protocol.
const SeedProtocolVariant = "seed-protocol"

// Run is one run's settings and its evaluation on the board's split.
type Run struct {
	Name    string `json:"run"`
	Encoder string `json:"encoder"`
	Heads   string `json:"heads"`
	// Seed is the run's training seed (of the MLP's initialisation and
	// batches, of a closed-form head's cross-validation folds); 0 for heads
	// none.
	Seed         int64  `json:"seed,omitempty"`
	ShufflePairs bool   `json:"shuffle_pairs,omitempty"`
	Role         string `json:"role"`
	// Result is the run's evaluation on the board's split, with its
	// bootstrap intervals.
	Result *evalrun.Result `json:"result"`

	settings heads.Settings
}

// NewRun describes a run from its name, its config.json settings and its
// evaluation.
func NewRun(name string, s heads.Settings, r *evalrun.Result) Run {
	run := Run{Name: name, Encoder: s.Encoder, Heads: s.Heads, ShufflePairs: s.ShufflePairs, Result: r, settings: s}
	if s.Heads != heads.KindIdentity {
		run.Seed = s.Config.Seed
	}
	switch {
	case strings.HasSuffix(name, "."+SeedProtocolVariant):
		run.Role = RoleSeedProtocol
	case s.ShufflePairs:
		run.Role = RoleControl
	case s.Heads == heads.KindIdentity:
		run.Role = RoleZeroShot
	case isMainOrSeed(name, s.Encoder):
		// An encoder's main run (and its other seeds) is the model,
		// whatever its trained head kind (regularised CCA by default).
		run.Role = RoleModel
	case heads.IsLinearKind(s.Heads) || name == workdir.RunName(s.Encoder, heads.KindMLP):
		run.Role = RoleBaseline
	default:
		run.Role = RoleModel
	}
	return run
}

// Spreads are the mean and sample standard deviation over seeds of one
// direction's primary figure and R@10.
type Spreads struct {
	MeanRankPercentile metrics.Spread `json:"mean_rank_percentile"`
	R10                metrics.Spread `json:"r10"`
}

// Group is two or more runs that differ only in their training seed: same
// encoder, features, head kind and settings, same role.
type Group struct {
	Runs          []string `json:"runs"`
	Seeds         []int64  `json:"seeds"`
	Role          string   `json:"role"`
	PosterToIntro Spreads  `json:"poster_to_intro"`
	IntroToPoster Spreads  `json:"intro_to_poster"`
}

// Board is every run of a comparison evaluated on one split, side by side.
type Board struct {
	Split string `json:"split"`
	// N is the number of queries per direction (the split's movies).
	N int `json:"n"`
	// Runs are ordered by role (models, baselines, zero-shot, controls,
	// seed protocol), then by seed and name; a Group's runs are adjacent.
	Runs   []Run          `json:"runs"`
	Groups []Group        `json:"groups"`
	Chance metrics.Chance `json:"chance"`
}

// New builds the board of runs on split. Every run's Result must be of that
// split and over the same movies (same n), or the figures could not be
// compared; that is an error naming the run.
func New(split string, runs []Run) (*Board, error) {
	b := &Board{Split: split, Runs: slices.Clone(runs), Groups: []Group{}}
	for i, r := range b.Runs {
		if r.Result == nil {
			return nil, fmt.Errorf("compare runs: run %s has no evaluation", r.Name)
		}
		if r.Result.Split != split {
			return nil, fmt.Errorf("compare runs: run %s was evaluated on split %s, not %s", r.Name, r.Result.Split, split)
		}
		if i == 0 {
			b.N, b.Chance = r.Result.N, r.Result.Chance
		} else if r.Result.N != b.N {
			return nil, fmt.Errorf("compare runs: run %s was evaluated on %d movies of split %s, run %s on %d (evaluate both the same way, e.g. both with or both without --exclude-leaks)",
				r.Name, r.Result.N, split, b.Runs[0].Name, b.N)
		}
	}
	slices.SortStableFunc(b.Runs, func(x, y Run) int {
		return cmp.Or(
			cmp.Compare(slices.Index(roleOrder, x.Role), slices.Index(roleOrder, y.Role)),
			cmp.Compare(familyKey(x), familyKey(y)),
			cmp.Compare(x.Seed, y.Seed),
			cmp.Compare(x.Name, y.Name))
	})
	for i := 0; i < len(b.Runs); {
		j := i + 1
		for j < len(b.Runs) && sameRecipe(b.Runs[i], b.Runs[j]) {
			j++
		}
		if j-i > 1 {
			b.Groups = append(b.Groups, group(b.Runs[i:j]))
		}
		i = j
	}
	return b, nil
}

// familyKey orders runs so that the seed replicates of one recipe sit
// together: runs of one recipe share it.
func familyKey(r Run) string {
	return strings.Join([]string{r.Role, r.Encoder, r.Heads, r.settings.Fingerprint, fmt.Sprint(r.ShufflePairs)}, "\x00")
}

// sameRecipe reports whether two runs differ only in their seed: trained
// heads of one kind (the MLP, or a closed-form head whose cross-validation
// folds the seed draws) with equal settings apart from Config.Seed, on the
// same features, with different seeds.
func sameRecipe(a, b Run) bool {
	if a.Heads == heads.KindIdentity || a.Seed == b.Seed || familyKey(a) != familyKey(b) {
		return false
	}
	sa, sb := a.settings, b.settings
	ca, cb := sa.Config, sb.Config
	ca.Seed, cb.Seed = 0, 0
	if heads.IsLinearKind(a.Heads) {
		// A closed-form head's output size and regularisation are what
		// cross-validation chose on that seed's folds, an outcome rather
		// than the recipe; the recipe is the candidates and the folds.
		ca.EmbedDim, cb.EmbedDim = 0, 0
		if !slices.Equal(cvCandidates(sa.CV), cvCandidates(sb.CV)) || cvFolds(sa.CV) != cvFolds(sb.CV) {
			return false
		}
	}
	return reflect.DeepEqual(ca, cb) && sa.ValFraction == sb.ValFraction && sa.TextInput == sb.TextInput &&
		slices.Equal(a.Result.ExcludedLeaks, b.Result.ExcludedLeaks)
}

// cvCandidates lists the settings a cross-validation tried (none without
// one, as for a setting a tune file fixed).
func cvCandidates(cv *heads.CVReport) []heads.LinearConfig {
	if cv == nil {
		return nil
	}
	out := make([]heads.LinearConfig, len(cv.Grid))
	for i, p := range cv.Grid {
		out[i] = p.Setting
	}
	return out
}

func cvFolds(cv *heads.CVReport) int {
	if cv == nil {
		return 0
	}
	return cv.Folds
}

func group(runs []Run) Group {
	g := Group{Role: runs[0].Role}
	var mrp, r10 [2][]float64
	for _, r := range runs {
		g.Runs = append(g.Runs, r.Name)
		g.Seeds = append(g.Seeds, r.Seed)
		for d, s := range []metrics.Scores{r.Result.PosterToIntro, r.Result.IntroToPoster} {
			mrp[d] = append(mrp[d], s.MeanRankPercentile)
			r10[d] = append(r10[d], s.R10)
		}
	}
	g.PosterToIntro = Spreads{MeanRankPercentile: metrics.SpreadOf(mrp[0]), R10: metrics.SpreadOf(r10[0])}
	g.IntroToPoster = Spreads{MeanRankPercentile: metrics.SpreadOf(mrp[1]), R10: metrics.SpreadOf(r10[1])}
	return g
}

// GroupOf returns the group holding run, if any.
func (b *Board) GroupOf(run string) (Group, bool) {
	for _, g := range b.Groups {
		if slices.Contains(g.Runs, run) {
			return g, true
		}
	}
	return Group{}, false
}

// Describe says in a few words what a run is, as the board's "what"
// column prints it.
func (r Run) Describe() string {
	var s string
	switch r.Heads {
	case heads.KindMLP:
		s = "MLP heads"
	case heads.KindLinear:
		s = "ridge map"
	case heads.KindCCA:
		s = "CCA"
	case heads.KindIdentity:
		s = "no heads"
	default:
		s = r.Heads + " heads"
	}
	switch r.Role {
	case RoleControl:
		s += ", pairs shuffled"
	case RoleSeedProtocol:
		s += ", seed's recipe"
	}
	return s
}

// isMainOrSeed reports whether name is encoder's main run or one of its
// other training seeds (<encoder>.seedN, as run --seeds names them).
func isMainOrSeed(name, encoder string) bool {
	if name == workdir.MainRun(encoder) {
		return true
	}
	n, ok := strings.CutPrefix(name, workdir.RunName(encoder, "seed"))
	if !ok || n == "" {
		return false
	}
	for _, r := range n {
		if r < '0' || r > '9' {
			return false
		}
	}
	return true
}
