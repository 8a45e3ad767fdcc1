package textprep

import (
	"strings"
	"unicode"

	"github.com/clipperhouse/uax29/v2/words"
	"golang.org/x/text/unicode/norm"
)

// NFC composes text to Unicode Normalization Form C, so a letter typed with
// a combining accent and its precomposed form become the same word.
type NFC struct{}

// FilterText implements CharFilter.
func (NFC) FilterText(text string) string { return norm.NFC.String(text) }

// Words splits text at Unicode word boundaries (UAX #29). Its output holds
// every segment, including whitespace and punctuation; Alnum drops those.
// Each CJK ideograph is a segment of its own, as UAX #29 specifies.
type Words struct{}

// Split implements Splitter.
func (Words) Split(text string) []string {
	var out []string
	it := words.FromString(text)
	for it.Next() {
		out = append(out, it.Value())
	}
	return out
}

// Alnum keeps the runs of letters, combining marks and digits of each token
// and drops everything else. Whitespace, punctuation, symbols and emoji
// tokens vanish; a token with an apostrophe, period or underscore inside
// ("couldn't", "U.S.", "3.5") splits into its runs ("couldn" "t").
type Alnum struct{}

// Filter implements TokenFilter. It writes a fresh slice, because one
// token may split into several.
func (Alnum) Filter(tokens []string) []string {
	out := make([]string, 0, len(tokens))
	for _, tok := range tokens {
		start := -1
		for i, r := range tok {
			if isWordRune(r) {
				if start < 0 {
					start = i
				}
				continue
			}
			if start >= 0 {
				out = append(out, tok[start:i])
				start = -1
			}
		}
		if start >= 0 {
			out = append(out, tok[start:])
		}
	}
	return out
}

func isWordRune(r rune) bool {
	return unicode.IsLetter(r) || unicode.IsDigit(r) || unicode.IsNumber(r) || unicode.Is(unicode.M, r)
}

// Lower lower-cases every token (Unicode simple case mapping).
type Lower struct{}

// Filter implements TokenFilter.
func (Lower) Filter(tokens []string) []string {
	for i, t := range tokens {
		tokens[i] = strings.ToLower(t)
	}
	return tokens
}
