package textprep

import (
	"bufio"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"io"
	"slices"
	"strings"
)

// nltkEnglish is NLTK's English stop-word list as shipped in nltk_data
// corpora/stopwords/english before 2023 (179 words, in file order). The
// seed's own "HW09 STOPWORDS" list is lost, so this stands in for it.
var nltkEnglish = strings.Fields(`
i me my myself we our ours ourselves you you're you've you'll you'd your
yours yourself yourselves he him his himself she she's her hers herself it
it's its itself they them their theirs themselves what which who whom this
that that'll these those am is are was were be been being have has had
having do does did doing a an the and but if or because as until while of
at by for with about against between into through during before after above
below to from up down in out on off over under again further then once here
there when where why how all any both each few more most other some such no
nor not only own same so than too very s t can will just don don't should
should've now d ll m o re ve y ain aren aren't couldn couldn't didn didn't
doesn doesn't hadn hadn't hasn hasn't haven haven't isn isn't ma mightn
mightn't mustn mustn't needn needn't shan shan't shouldn shouldn't wasn
wasn't weren weren't won won't wouldn wouldn't`)

// StopWords drops tokens found in its list. Tokens are compared as they
// arrive, so it runs after Lower; the list itself is lower-cased on load.
type StopWords struct {
	set  map[string]struct{}
	hash string
}

// NLTKEnglish returns NLTK's 179-word English stop-word list.
func NLTKEnglish() *StopWords { return NewStopWords(nltkEnglish) }

// NewStopWords builds a stop-word filter from a list of words (lower-cased,
// surrounding spaces trimmed, empty entries ignored).
func NewStopWords(list []string) *StopWords {
	s := &StopWords{set: make(map[string]struct{}, len(list))}
	for _, w := range list {
		w = strings.ToLower(strings.TrimSpace(w))
		if w != "" {
			s.set[w] = struct{}{}
		}
	}
	keys := make([]string, 0, len(s.set))
	for w := range s.set {
		keys = append(keys, w)
	}
	slices.Sort(keys)
	sum := sha256.Sum256([]byte(strings.Join(keys, "\n")))
	s.hash = hex.EncodeToString(sum[:8])
	return s
}

// ParseStopWords reads a stop-word file: one word a line, blank lines and
// lines starting with '#' ignored. name is used in errors only. An empty
// list is an error, since it is almost surely the wrong file.
func ParseStopWords(r io.Reader, name string) (*StopWords, error) {
	var list []string
	sc := bufio.NewScanner(r)
	line := 0
	for sc.Scan() {
		line++
		w := strings.TrimSpace(strings.TrimPrefix(sc.Text(), "\ufeff"))
		if w == "" || strings.HasPrefix(w, "#") {
			continue
		}
		if strings.ContainsAny(w, " \t") {
			return nil, fmt.Errorf("%s:%d: %q holds more than one word (put one stop word per line)", name, line, w)
		}
		list = append(list, w)
	}
	if err := sc.Err(); err != nil {
		return nil, fmt.Errorf("read stop words %s: %w", name, err)
	}
	if len(list) == 0 {
		return nil, fmt.Errorf("%s: no stop words found (one word per line; '#' starts a comment)", name)
	}
	return NewStopWords(list), nil
}

// Len is the number of distinct stop words.
func (s *StopWords) Len() int { return len(s.set) }

// Contains reports whether w is a stop word.
func (s *StopWords) Contains(w string) bool {
	_, ok := s.set[w]
	return ok
}

// Filter implements TokenFilter.
func (s *StopWords) Filter(tokens []string) []string {
	out := tokens[:0]
	for _, t := range tokens {
		if _, stop := s.set[t]; !stop {
			out = append(out, t)
		}
	}
	return out
}

// Describe implements describer.
func (s *StopWords) Describe() string { return "stopwords:" + s.hash }
