package dataset

import (
	"cmp"
	"fmt"
	"slices"
	"strings"

	"github.com/reelmatch/reelmatch/internal/reel"
)

// Leak kinds: what a test movie shares with a training movie.
const (
	// LeakIntro: the two cleaned intros are identical or nearly so.
	LeakIntro = "intro"
	// LeakPoster: the two poster files have the same SHA-256.
	LeakPoster = "poster"
)

// IntroLeakJaccard is the smallest Jaccard similarity of two cleaned
// intros' token sets (|A ∩ B| / |A ∪ B|) that counts as a leak. Cleaning
// (textprep: lower case, no punctuation or stop words, lemmas) already
// folds case, punctuation and inflection, so 0.8 catches an intro copied
// with a few words changed. On ../shared/data/movielens-posters the one
// duplicated intro across the split (2559/2565) scores 1.0 and the most
// similar other test/train pair 0.28 (`reelmatch prepare -v` prints it, see
// ClosestIntros), so the threshold sits far from ordinary overlap.
const IntroLeakJaccard = 0.8

// Leak is a held-out movie that shares an intro or a poster with a
// training movie, so retrieving it can be learnt from the training pairs.
type Leak struct {
	Kind  string       `json:"kind"`
	Test  reel.MovieID `json:"test"`
	Train reel.MovieID `json:"train"`
	// Similarity is the Jaccard similarity of the cleaned intros' token
	// sets for LeakIntro, 1 for LeakPoster.
	Similarity float64 `json:"similarity"`
}

// FindLeaks returns every (test, train) pair of movies whose cleaned intros
// have a token-set Jaccard similarity of at least IntroLeakJaccard, or
// whose posters have the same SHA-256, sorted by test id, kind and train
// id. Intros that clean to nothing are not compared. It looks only at the
// fields prepare fills (CleanIntro, PosterHash, Split), so it gives the
// same answer on a manifest read back from disk.
func FindLeaks(movies []reel.Movie) []Leak {
	train, test := splitIndices(movies)
	leaks := []Leak{}
	if len(train) == 0 || len(test) == 0 {
		return leaks
	}

	// Posters: the same bytes on both sides.
	byHash := map[string][]reel.MovieID{}
	for _, i := range train {
		if h := movies[i].PosterHash; h != "" {
			byHash[h] = append(byHash[h], movies[i].ID)
		}
	}
	for _, i := range test {
		for _, id := range byHash[movies[i].PosterHash] {
			leaks = append(leaks, Leak{Kind: LeakPoster, Test: movies[i].ID, Train: id, Similarity: 1})
		}
	}

	introPairs(movies, train, test, func(ti, tr int, j float64) {
		if j >= IntroLeakJaccard {
			leaks = append(leaks, Leak{Kind: LeakIntro, Test: movies[ti].ID, Train: movies[tr].ID, Similarity: j})
		}
	})
	slices.SortFunc(leaks, func(a, b Leak) int {
		return cmp.Or(CompareIDs(a.Test, b.Test), cmp.Compare(a.Kind, b.Kind), CompareIDs(a.Train, b.Train))
	})
	return leaks
}

// ClosestIntros returns the test/train pair of cleaned intros with the
// highest Jaccard similarity below IntroLeakJaccard (ties: the first by
// test id, then train id): how close ordinary overlap comes to the leak
// threshold. ok is false when no pair shares a token.
func ClosestIntros(movies []reel.Movie) (closest Leak, ok bool) {
	train, test := splitIndices(movies)
	introPairs(movies, train, test, func(ti, tr int, j float64) {
		if j >= IntroLeakJaccard {
			return
		}
		c := Leak{Kind: LeakIntro, Test: movies[ti].ID, Train: movies[tr].ID, Similarity: j}
		if !ok || j > closest.Similarity || j == closest.Similarity &&
			cmp.Or(CompareIDs(c.Test, closest.Test), CompareIDs(c.Train, closest.Train)) < 0 {
			closest, ok = c, true
		}
	})
	return closest, ok
}

// splitIndices returns the indices of movies in the training and the test
// split.
func splitIndices(movies []reel.Movie) (train, test []int) {
	for i, m := range movies {
		switch m.Split {
		case reel.SplitTrain:
			train = append(train, i)
		case reel.SplitTest:
			test = append(test, i)
		}
	}
	return train, test
}

// introPairs calls fn with every (test, train) pair of movies (indices into
// movies) whose cleaned intros share at least one token, and their
// Jaccard similarity. An inverted index over the training intros' token
// sets means each test intro meets only the training intros it shares a
// token with. Intros that clean to nothing are skipped.
func introPairs(movies []reel.Movie, train, test []int, fn func(test, train int, jaccard float64)) {
	vocab := map[string]int{}
	tokens := func(clean string) []int {
		var out []int
		for _, w := range strings.Fields(clean) {
			id, ok := vocab[w]
			if !ok {
				id = len(vocab)
				vocab[w] = id
			}
			out = append(out, id)
		}
		slices.Sort(out)
		return slices.Compact(out)
	}
	trainSize := make([]int, len(train))
	postings := map[int][]int{} // token -> positions in train
	for k, i := range train {
		set := tokens(movies[i].CleanIntro)
		trainSize[k] = len(set)
		for _, t := range set {
			postings[t] = append(postings[t], k)
		}
	}
	shared := make([]int, len(train))
	var touched []int
	for _, i := range test {
		set := tokens(movies[i].CleanIntro)
		if len(set) == 0 {
			continue
		}
		for _, t := range set {
			for _, k := range postings[t] {
				if shared[k] == 0 {
					touched = append(touched, k)
				}
				shared[k]++
			}
		}
		for _, k := range touched {
			inter := shared[k]
			fn(i, train[k], float64(inter)/float64(len(set)+trainSize[k]-inter))
			shared[k] = 0
		}
		touched = touched[:0]
	}
}

// LeakedTestIDs returns the distinct test movies of leaks, in the order
// FindLeaks sorts them.
func LeakedTestIDs(leaks []Leak) []reel.MovieID {
	var ids []reel.MovieID
	for _, l := range leaks {
		if len(ids) == 0 || ids[len(ids)-1] != l.Test {
			ids = append(ids, l.Test)
		}
	}
	return ids
}

// LeakWarnings are the one-line warnings prepare prints for leaks (in
// FindLeaks' order): one a test movie and kind, so a placeholder poster
// shared by hundreds of movies is a line a movie, not one a pair. A test
// movie with several training partners names the first maxLeakPartners
// and counts the rest. man supplies the movies' names.
func LeakWarnings(leaks []Leak, man *Manifest) []string {
	name := func(id reel.MovieID) string {
		if m, ok := man.ByID(id); ok {
			return fmt.Sprintf("%s (%s)", id, m.Name)
		}
		return string(id)
	}
	const fix = "`reelmatch eval --exclude-leaks` leaves such test movies out"
	var out []string
	for start := 0; start < len(leaks); {
		l := leaks[start]
		end := start + 1
		for end < len(leaks) && leaks[end].Test == l.Test && leaks[end].Kind == l.Kind {
			end++
		}
		group := leaks[start:end]
		start = end
		what := fmt.Sprintf("near-identical intros (Jaccard %.2f of the cleaned tokens)", l.Similarity)
		if l.Kind == LeakPoster {
			what = "identical posters (same SHA-256)"
		}
		if len(group) == 1 {
			out = append(out, fmt.Sprintf("leak: test movie %s and train movie %s have %s; %s", name(l.Test), name(l.Train), what, fix))
			continue
		}
		if l.Kind == LeakIntro {
			what = fmt.Sprintf("near-identical intros (Jaccard of the cleaned tokens %.2f or more)", IntroLeakJaccard)
		}
		var partners []string
		for _, g := range group[:min(len(group), maxLeakPartners)] {
			partners = append(partners, name(g.Train))
		}
		list := strings.Join(partners, ", ")
		if more := len(group) - len(partners); more > 0 {
			list += fmt.Sprintf(" and %d more", more)
		}
		out = append(out, fmt.Sprintf("leak: test movie %s and %d train movies have %s: %s; %s", name(l.Test), len(group), what, list, fix))
	}
	return out
}

// maxLeakPartners is how many training movies a leak warning names.
const maxLeakPartners = 5
