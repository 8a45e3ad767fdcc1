package tokenize

import (
	"strings"
	"unicode"
	"unicode/utf8"

	"golang.org/x/text/unicode/norm"
)

// wordPiece is BERT's pipeline: BertNormalizer, BertPreTokenizer and the
// WordPiece model, following HF tokenizers (normalizers/bert.rs,
// pre_tokenizers/bert.rs, models/wordpiece/mod.rs).
type wordPiece struct {
	cleanText    bool
	chineseChars bool
	stripAccents bool
	lowercase    bool

	vocab    map[string]int64 // word-initial pieces
	cont     map[string]int64 // continuing pieces, keyed without the prefix
	prefix   string           // "##"
	contTok  []bool           // id -> is a continuing piece
	unk      int64
	maxChars int // max_input_chars_per_word: longer words become unk
}

func (w *wordPiece) continues(_, cur int64) bool {
	return cur >= 0 && int(cur) < len(w.contTok) && w.contTok[cur]
}

func (w *wordPiece) appendIDs(ids []int64, text string) []int64 {
	text = w.normalize(text)
	// BertPreTokenizer: split on whitespace (removed) and on punctuation
	// (each punctuation char is its own word).
	start := -1
	for i, r := range text {
		switch {
		case isBertWhitespace(r):
			if start >= 0 {
				ids = w.word(ids, text[start:i])
				start = -1
			}
		case isBertPunct(r):
			if start >= 0 {
				ids = w.word(ids, text[start:i])
				start = -1
			}
			ids = w.word(ids, text[i:i+utf8.RuneLen(r)])
		default:
			if start < 0 {
				start = i
			}
		}
	}
	if start >= 0 {
		ids = w.word(ids, text[start:])
	}
	return ids
}

// word runs greedy longest-match-first WordPiece on one word; a word with
// any unmatched part, or longer than maxChars characters, becomes unk.
func (w *wordPiece) word(ids []int64, word string) []int64 {
	if utf8.RuneCountInString(word) > w.maxChars {
		return append(ids, w.unk)
	}
	n := len(ids)
	for start := 0; start < len(word); {
		end := len(word)
		found := false
		for end > start {
			var id int64
			if start == 0 {
				id, found = w.vocab[word[:end]]
			} else {
				id, found = w.cont[word[start:end]]
			}
			if found {
				ids = append(ids, id)
				break
			}
			_, size := utf8.DecodeLastRuneInString(word[start:end])
			end -= size
		}
		if !found {
			return append(ids[:n], w.unk)
		}
		start = end
	}
	return ids
}

// normalize is BertNormalizer: clean text (drop NUL, U+FFFD and "other"
// characters, map whitespace to a space), pad CJK ideographs with spaces,
// strip accents (NFD, drop Mn), lowercase, in that order.
func (w *wordPiece) normalize(text string) string {
	if isPlainASCII(text) {
		// Fast path: ASCII has no accents, CJK or format characters, and
		// the only "other" characters are C0 controls and DEL.
		b := make([]byte, 0, len(text))
		for i := 0; i < len(text); i++ {
			c := text[i]
			switch {
			case c == '\t' || c == '\n' || c == '\r':
				if w.cleanText {
					c = ' '
				}
			case (c < 0x20 || c == 0x7f) && w.cleanText:
				continue
			case c >= 'A' && c <= 'Z' && w.lowercase:
				c += 'a' - 'A'
			}
			b = append(b, c)
		}
		return string(b)
	}
	var sb strings.Builder
	sb.Grow(len(text) + 8)
	for _, r := range text {
		switch {
		case r < utf8.RuneSelf && r >= ' ' && r != 0x7f:
			sb.WriteByte(byte(r)) // printable ASCII: kept as is
		case w.cleanText && (r == 0 || r == utf8.RuneError || isBertControl(r)):
			continue
		case w.cleanText && isBertWhitespace(r):
			sb.WriteByte(' ')
		case w.chineseChars && isChineseChar(r):
			sb.WriteByte(' ')
			sb.WriteRune(r)
			sb.WriteByte(' ')
		default:
			sb.WriteRune(r)
		}
	}
	s := sb.String()
	if w.stripAccents {
		d := norm.NFD.String(s)
		sb.Reset()
		for _, r := range d {
			// Mn starts at U+0300 (combining grave accent).
			if r < 0x300 || !unicode.Is(unicode.Mn, r) {
				sb.WriteRune(r)
			}
		}
		s = sb.String()
	}
	if w.lowercase {
		s = lowerChars(s)
	}
	return s
}

// isPlainASCII reports whether s is all ASCII.
func isPlainASCII(s string) bool {
	for i := 0; i < len(s); i++ {
		if s[i] >= utf8.RuneSelf {
			return false
		}
	}
	return true
}

// isBertWhitespace is HF's bert is_whitespace: tab, newline, carriage
// return or Unicode White_Space (which Go's unicode.IsSpace implements).
func isBertWhitespace(r rune) bool {
	return unicode.IsSpace(r)
}

// isBertControl is HF's bert is_control: any "other" character (Cc, Cf,
// Co, Cs, Cn) except tab, newline and carriage return. Cf covers U+200B
// ZERO WIDTH SPACE, which HF deletes, so "zero\u200bwidth" is one word.
func isBertControl(r rune) bool {
	if r == '\t' || r == '\n' || r == '\r' {
		return false
	}
	return unicode.Is(unicode.C, r) || !isAssigned(r)
}

// isAssigned reports whether r has a General Category other than Cn.
func isAssigned(r rune) bool {
	return unicode.In(r, unicode.L, unicode.M, unicode.N, unicode.P,
		unicode.S, unicode.Z, unicode.C)
}

// isBertPunct is HF's is_bert_punc: ASCII punctuation (which includes
// symbols such as $ + < = > ^ ` | ~) or Unicode P*.
func isBertPunct(r rune) bool {
	if r < utf8.RuneSelf {
		return r >= '!' && r <= '/' || r >= ':' && r <= '@' ||
			r >= '[' && r <= '`' || r >= '{' && r <= '~'
	}
	return unicode.IsPunct(r)
}

// isChineseChar is HF's bert is_chinese_char: the CJK Unified Ideograph
// blocks, copied from tokenizers normalizers/bert.rs (note 0x2B920, not
// the 0x2B820 of Python BERT).
func isChineseChar(r rune) bool {
	switch {
	case r >= 0x4E00 && r <= 0x9FFF,
		r >= 0x3400 && r <= 0x4DBF,
		r >= 0x20000 && r <= 0x2A6DF,
		r >= 0x2A700 && r <= 0x2B73F,
		r >= 0x2B740 && r <= 0x2B81F,
		r >= 0x2B920 && r <= 0x2CEAF,
		r >= 0xF900 && r <= 0xFAFF,
		r >= 0x2F800 && r <= 0x2FA1F:
		return true
	}
	return false
}

// lowerChars lowercases character by character as Rust's
// char::to_lowercase does, which HF's Lowercase and BertNormalizer use: Go's
// simple case mapping plus the one unconditional special casing, U+0130
// (capital I with dot above) -> "i\u0307".
func lowerChars(s string) string {
	if !strings.ContainsRune(s, 'İ') {
		return strings.ToLower(s)
	}
	return strings.ToLower(strings.ReplaceAll(s, "İ", "i\u0307"))
}
