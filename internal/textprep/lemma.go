package textprep

import (
	"bufio"
	"bytes"
	"compress/gzip"
	_ "embed"
	"fmt"
	"strings"
	"sync"
)

//go:generate go run ./internal/gen -wordnet /usr/share/wordnet -out gen_wordnet_noun.txt.gz

// wordnetNoun holds WordNet 3.0's noun lemmas (index.noun) and noun
// exceptions (noun.exc), gzip'd; see internal/gen and WORDNET_LICENSE.
//
//go:embed gen_wordnet_noun.txt.gz
var wordnetNoun []byte

// nounRules are WordNet's detachment rules for nouns in NLTK's order
// (nltk/corpus/reader/wordnet.py MORPHOLOGICAL_SUBSTITUTIONS[NOUN]). The
// order matters: it fixes the candidate order, and lemmatize keeps the first
// of the shortest candidates.
var nounRules = [...]struct{ old, new string }{
	{"s", ""}, {"ses", "s"}, {"ves", "f"}, {"xes", "x"}, {"zes", "z"},
	{"ches", "ch"}, {"shes", "sh"}, {"men", "man"}, {"ies", "y"},
}

// nounData is the parsed WordNet noun data.
type nounData struct {
	lemmas     map[string]struct{}
	exceptions map[string][]string
}

var loadNouns = sync.OnceValues(func() (*nounData, error) { return parseNouns(wordnetNoun) })

func parseNouns(gz []byte) (*nounData, error) {
	zr, err := gzip.NewReader(bytes.NewReader(gz))
	if err != nil {
		return nil, fmt.Errorf("read embedded wordnet data: %w", err)
	}
	d := &nounData{lemmas: make(map[string]struct{}, 120_000), exceptions: make(map[string][]string, 2_100)}
	sc := bufio.NewScanner(zr)
	inExc := false
	for sc.Scan() {
		line := sc.Text()
		switch {
		case strings.HasPrefix(line, "#") || line == "":
		case line == "%%":
			inExc = true
		case inExc:
			f := strings.Fields(line)
			// A later line for the same form replaces an earlier one, as in
			// NLTK's _load_exception_map.
			d.exceptions[f[0]] = f[1:]
		default:
			d.lemmas[line] = struct{}{}
		}
	}
	if err := sc.Err(); err != nil {
		return nil, fmt.Errorf("read embedded wordnet data: %w", err)
	}
	if len(d.lemmas) == 0 || len(d.exceptions) == 0 {
		return nil, fmt.Errorf("embedded wordnet data is empty (regenerate with go generate ./internal/textprep)")
	}
	return d, nil
}

func mustNouns() *nounData {
	d, err := loadNouns()
	if err != nil {
		// The data is compiled in and checked by tests: failing here is a
		// broken build, not bad input.
		panic(err)
	}
	return d
}

// WordNetLemmatizer replaces each token with its WordNet noun lemma, exactly
// as NLTK's WordNetLemmatizer().lemmatize(token) does with its default
// pos="n": the shortest of the forms morphy finds (the first one on a tie),
// or the token itself when morphy finds none. Only nouns are tried, so verbs
// keep their inflection ("followed" stays) and some plural-looking words
// shrink oddly ("dies" -> "dy", "species" -> "specie"), as in the seed.
type WordNetLemmatizer struct{}

// Filter implements TokenFilter.
func (WordNetLemmatizer) Filter(tokens []string) []string {
	d := mustNouns()
	for i, t := range tokens {
		tokens[i] = d.lemmatize(t)
	}
	return tokens
}

// Describe implements describer.
func (WordNetLemmatizer) Describe() string { return "wordnet-3.0-noun-morphy" }

// Lemmatize returns the WordNet noun lemma of one lower-case word.
func Lemmatize(word string) string { return mustNouns().lemmatize(word) }

// Morphy returns every WordNet noun base form of word in NLTK's order
// (nltk/corpus/reader/wordnet.py WordNetCorpusReader._morphy with pos "n").
func Morphy(word string) []string { return mustNouns().morphy(word) }

func (d *nounData) lemmatize(word string) string {
	forms := d.morphy(word)
	if len(forms) == 0 {
		return word
	}
	best := forms[0]
	for _, f := range forms[1:] {
		// Python's min(key=len) keeps the first minimum: compare strictly.
		if len([]rune(f)) < len([]rune(best)) {
			best = f
		}
	}
	return best
}

// morphy follows NLTK's _morphy step by step:
//
//  0. a form in the exception list returns its listed lemmas (and the form
//     itself) that are noun lemmas, with no rules applied;
//  1. apply every rule once;
//  2. return the form and those results that are noun lemmas, if any;
//  3. otherwise apply the rules again to the results until some are lemmas
//     or no rule applies.
func (d *nounData) morphy(form string) []string {
	if exc, ok := d.exceptions[form]; ok {
		return d.filter(append([]string{form}, exc...))
	}
	forms := applyRules([]string{form})
	if res := d.filter(append([]string{form}, forms...)); len(res) > 0 {
		return res
	}
	// Every rule but "men" shortens the form and "man" matches no rule, so
	// this ends after at most len(form) rounds.
	for len(forms) > 0 {
		forms = applyRules(forms)
		if res := d.filter(forms); len(res) > 0 {
			return res
		}
	}
	return nil
}

func applyRules(forms []string) []string {
	var out []string
	for _, f := range forms {
		for _, r := range nounRules {
			if strings.HasSuffix(f, r.old) {
				out = append(out, f[:len(f)-len(r.old)]+r.new)
			}
		}
	}
	return out
}

// filter keeps the forms that are noun lemmas, first occurrence only.
func (d *nounData) filter(forms []string) []string {
	var out []string
	for _, f := range forms {
		if _, ok := d.lemmas[f]; ok && !containsString(out, f) {
			out = append(out, f)
		}
	}
	return out
}

func containsString(list []string, s string) bool {
	for _, x := range list {
		if x == s {
			return true
		}
	}
	return false
}
