package textprep

import (
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"strings"
)

// CharFilter rewrites the whole text before it is split.
type CharFilter interface {
	FilterText(text string) string
}

// Splitter cuts text into segments (words, and for UAX #29 also the
// whitespace and punctuation between them).
type Splitter interface {
	Split(text string) []string
}

// TokenFilter transforms a token stream. It may reuse the input slice's
// backing array for its output, so callers must not keep the input.
type TokenFilter interface {
	Filter(tokens []string) []string
}

// describer is an optional ability of a filter: a short stable description
// that goes into the pipeline fingerprint (for example a stop-word list's
// hash). Filters without it are described by their type name.
type describer interface {
	Describe() string
}

// Pipeline runs char filters, one splitter and token filters in that order.
type Pipeline struct {
	CharFilters  []CharFilter
	Splitter     Splitter
	TokenFilters []TokenFilter
}

// Default returns the seed's chain with NLTK's English stop words (see the
// package comment).
func Default() *Pipeline { return New(NLTKEnglish()) }

// New returns the seed's chain with the given stop words in place of NLTK's
// list.
func New(stop *StopWords) *Pipeline {
	return &Pipeline{
		CharFilters:  []CharFilter{NFC{}},
		Splitter:     Words{},
		TokenFilters: []TokenFilter{Alnum{}, Lower{}, stop, WordNetLemmatizer{}},
	}
}

// Tokens returns the cleaned tokens of text, in order; never nil.
func (p *Pipeline) Tokens(text string) []string {
	for _, f := range p.CharFilters {
		text = f.FilterText(text)
	}
	toks := p.Splitter.Split(text)
	for _, f := range p.TokenFilters {
		toks = f.Filter(toks)
	}
	if toks == nil {
		toks = []string{}
	}
	return toks
}

// Clean returns the cleaned tokens of text joined by single spaces, the form
// the seed stored as its "clean intro".
func (p *Pipeline) Clean(text string) string {
	return strings.Join(p.Tokens(text), " ")
}

// Fingerprint identifies the chain (filters in order, stop-word list, lemma
// data), so caches built from cleaned text can tell when it changed.
func (p *Pipeline) Fingerprint() string {
	var parts []string
	add := func(v any) {
		if d, ok := v.(describer); ok {
			parts = append(parts, d.Describe())
			return
		}
		parts = append(parts, fmt.Sprintf("%T", v))
	}
	for _, f := range p.CharFilters {
		add(f)
	}
	add(p.Splitter)
	for _, f := range p.TokenFilters {
		add(f)
	}
	sum := sha256.Sum256([]byte(strings.Join(parts, "\n")))
	return "textprep-" + hex.EncodeToString(sum[:8])
}
