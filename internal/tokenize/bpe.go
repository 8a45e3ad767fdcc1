package tokenize

import (
	"strings"
	"unicode"
	"unicode/utf8"

	"golang.org/x/text/unicode/norm"
)

// clipBPE is CLIP's pipeline as its tokenizer.json spells it: normalizer
// Sequence[NFC, Replace(\s+ -> " "), Lowercase], pre_tokenizer
// Sequence[Split(clipPattern, Removed, invert), ByteLevel(use_regex
// false)], and a BPE model with end_of_word_suffix "</w>".
type clipBPE struct {
	// specialAlts: the Split pattern starts with the alternatives
	// <\|startoftext\|>|<\|endoftext\|> (the hub's file), which keep those
	// strings whole when normalisation produced them (say from
	// "<|ENDOFTEXT|>").
	specialAlts bool
	byteID      [256]int64 // id of the byte's symbol inside a word
	byteEndID   [256]int64 // id of the byte's symbol + "</w>" ending a word
	merges      map[uint64]merge
	endsWord    []bool // id -> the token ends with "</w>"
}

// merge is one entry of the merges list: its rank (earlier merges win)
// and the id of the merged symbol.
type merge struct {
	rank int32
	id   int32
}

func pairKey(a, b int64) uint64 { return uint64(a)<<32 | uint64(uint32(b)) }

func (c *clipBPE) continues(prev, _ int64) bool {
	return prev >= 0 && int(prev) < len(c.endsWord) && !c.endsWord[prev]
}

func (c *clipBPE) appendIDs(ids []int64, text string) []int64 {
	text = clipNormalize(text)
	var sym []int64
	var ranks []int32
	for i := 0; i < len(text); {
		n := c.preToken(text[i:])
		if n == 0 { // whitespace between pre-tokens
			_, size := utf8.DecodeRuneInString(text[i:])
			i += size
			continue
		}
		ids, sym, ranks = c.bpe(ids, text[i:i+n], sym, ranks)
		i += n
	}
	return ids
}

// preToken returns the byte length of the pre-token at the start of s, or
// 0 when s starts with whitespace. It is the Split regex, tried in order
// at the current position like a backtracking engine (Oniguruma, which HF
// uses) does:
//
//	<\|startoftext\|>|<\|endoftext\|>|'s|'t|'re|'ve|'m|'ll|'d|[\p{L}]+|[\p{N}]|[^\s\p{L}\p{N}]+
//
// Hand-written because Go's regexp \s is ASCII-only while Oniguruma's is
// Unicode, and a scanner is several times faster.
func (c *clipBPE) preToken(s string) int {
	if c.specialAlts && s[0] == '<' {
		for _, t := range [...]string{"<|startoftext|>", "<|endoftext|>"} {
			if strings.HasPrefix(s, t) {
				return len(t)
			}
		}
	}
	if s[0] == '\'' {
		for _, t := range [...]string{"'s", "'t", "'re", "'ve", "'m", "'ll", "'d"} {
			if strings.HasPrefix(s, t) {
				return len(t)
			}
		}
	}
	r, size := utf8.DecodeRuneInString(s)
	switch {
	case unicode.IsLetter(r):
		n := size
		for n < len(s) {
			r, size = utf8.DecodeRuneInString(s[n:])
			if !unicode.IsLetter(r) {
				break
			}
			n += size
		}
		return n
	case unicode.IsNumber(r):
		return size
	case unicode.IsSpace(r):
		return 0
	}
	n := size
	for n < len(s) {
		r, size = utf8.DecodeRuneInString(s[n:])
		if unicode.IsSpace(r) || unicode.IsLetter(r) || unicode.IsNumber(r) {
			break
		}
		n += size
	}
	return n
}

// bpe maps the word's bytes to symbols (ByteLevel: one symbol per byte,
// the last one carrying "</w>") and applies merges lowest rank first, the
// leftmost pair on ties, as HF's BPE model does. sym and ranks are scratch
// buffers handed back for reuse.
func (c *clipBPE) bpe(ids []int64, word string, sym []int64, ranks []int32) ([]int64, []int64, []int32) {
	sym = sym[:0]
	for i := 0; i < len(word)-1; i++ {
		sym = append(sym, c.byteID[word[i]])
	}
	sym = append(sym, c.byteEndID[word[len(word)-1]])
	if len(sym) == 1 {
		return append(ids, sym[0]), sym, ranks
	}
	// ranks[i] is the rank of the pair (sym[i], sym[i+1]), -1 if none.
	ranks = ranks[:0]
	for i := 0; i+1 < len(sym); i++ {
		ranks = append(ranks, c.rank(sym[i], sym[i+1]))
	}
	for len(sym) > 1 {
		best := -1
		for i, r := range ranks {
			if r >= 0 && (best < 0 || r < ranks[best]) {
				best = i
			}
		}
		if best < 0 {
			break
		}
		sym[best] = int64(c.merges[pairKey(sym[best], sym[best+1])].id)
		sym = append(sym[:best+1], sym[best+2:]...)
		ranks = append(ranks[:best], ranks[best+1:]...)
		if best > 0 {
			ranks[best-1] = c.rank(sym[best-1], sym[best])
		}
		if best < len(ranks) {
			ranks[best] = c.rank(sym[best], sym[best+1])
		}
	}
	return append(ids, sym...), sym, ranks
}

func (c *clipBPE) rank(a, b int64) int32 {
	if m, ok := c.merges[pairKey(a, b)]; ok {
		return m.rank
	}
	return -1
}

// clipNormalize is CLIP's normalizer: NFC, every run of Unicode whitespace
// to one space (Oniguruma's \s, which Go's unicode.IsSpace matches:
// U+00A0 NO-BREAK SPACE counts, U+200B ZERO WIDTH SPACE does not), then
// lowercase character by character.
func clipNormalize(text string) string {
	if isPlainASCII(text) {
		b := make([]byte, 0, len(text))
		inSpace := false
		for i := 0; i < len(text); i++ {
			c := text[i]
			if c == ' ' || c >= '\t' && c <= '\r' {
				if !inSpace {
					b = append(b, ' ')
				}
				inSpace = true
				continue
			}
			inSpace = false
			if c >= 'A' && c <= 'Z' {
				c += 'a' - 'A'
			}
			b = append(b, c)
		}
		return string(b)
	}
	text = norm.NFC.String(text)
	var sb strings.Builder
	sb.Grow(len(text))
	inSpace := false
	for _, r := range text {
		if unicode.IsSpace(r) {
			if !inSpace {
				sb.WriteByte(' ')
			}
			inSpace = true
			continue
		}
		inSpace = false
		sb.WriteRune(r)
	}
	return lowerChars(sb.String())
}

// byteToRune is GPT-2's ByteLevel alphabet: printable Latin-1 bytes map to
// themselves, the other 68 bytes to U+0100 onwards in byte order
// (bytes_to_unicode in openai/CLIP simple_tokenizer.py and HF
// pre_tokenizers/byte_level.rs).
func byteToRune() [256]rune {
	var m [256]rune
	n := rune(0)
	for b := 0; b < 256; b++ {
		if b >= '!' && b <= '~' || b >= 0xA1 && b <= 0xAC || b >= 0xAE && b <= 0xFF {
			m[b] = rune(b)
		} else {
			m[b] = 256 + n
			n++
		}
	}
	return m
}
