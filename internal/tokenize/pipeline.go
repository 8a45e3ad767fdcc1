package tokenize

import "strings"

// model is the part that differs between WordPiece and CLIP BPE: the
// normaliser, the pre-tokeniser and the subword model, applied to a piece
// of text that holds no added (special) token.
type model interface {
	// appendIDs appends the ids of text to ids.
	appendIDs(ids []int64, text string) []int64
	// continues reports whether token cur continues the word that token
	// prev belongs to, so Chunks can cut windows at word boundaries.
	continues(prev, cur int64) bool
}

// addedToken is an entry of tokenizer.json added_tokens matched verbatim
// in the raw text before normalisation, as HF does for tokens with
// "normalized": false.
type addedToken struct {
	content string
	id      int64
}

// pipeline is the Tokenizer returned by Load; it is immutable after Load.
type pipeline struct {
	model    model
	added    []addedToken // longest first: HF matches leftmost-longest
	addedAt  [256]bool    // first bytes of added tokens, to skip fast
	first    int64        // [CLS] or <|startoftext|>
	last     int64        // [SEP] or <|endoftext|>
	maxLen   int
	padID    int64
	padToMax bool
	vocab    []string // id -> token string
}

var (
	_ Tokenizer   = (*pipeline)(nil)
	_ Chunker     = (*pipeline)(nil)
	_ FixedLength = (*pipeline)(nil)
)

func (p *pipeline) MaxLen() int        { return p.maxLen }
func (p *pipeline) PadID() int64       { return p.padID }
func (p *pipeline) PadsToMaxLen() bool { return p.padToMax }

// contentIDs tokenizes text without special tokens around it: added
// tokens found in the raw text become their ids, the text between them
// goes through the model.
func (p *pipeline) contentIDs(text string) []int64 {
	ids := make([]int64, 0, len(text)/3+4)
	start := 0
	for i := 0; i < len(text); i++ {
		if !p.addedAt[text[i]] {
			continue
		}
		for _, a := range p.added {
			if strings.HasPrefix(text[i:], a.content) {
				ids = p.model.appendIDs(ids, text[start:i])
				ids = append(ids, a.id)
				i += len(a.content) - 1
				start = i + 1
				break
			}
		}
	}
	return p.model.appendIDs(ids, text[start:])
}

// window wraps content ids in the special tokens.
func (p *pipeline) window(content []int64, fullLen int) Encoding {
	e := Encoding{
		IDs:     make([]int64, 0, len(content)+2),
		Tokens:  make([]string, 0, len(content)+2),
		FullLen: fullLen,
	}
	e.IDs = append(e.IDs, p.first)
	e.IDs = append(e.IDs, content...)
	e.IDs = append(e.IDs, p.last)
	for _, id := range e.IDs {
		e.Tokens = append(e.Tokens, p.vocab[id])
	}
	return e
}

// Encode implements Tokenizer.
func (p *pipeline) Encode(text string) Encoding {
	content := p.contentIDs(text)
	full := len(content) + 2
	// HF truncation keeps the first maxLen-2 content tokens and then adds
	// the special tokens, so the final [SEP]/<|endoftext|> always survives.
	if n := p.maxLen - 2; len(content) > n {
		content = content[:n]
	}
	return p.window(content, full)
}

// Chunks implements Chunker.
func (p *pipeline) Chunks(text string) []Encoding {
	content := p.contentIDs(text)
	n := p.maxLen - 2
	if len(content) <= n {
		return []Encoding{p.window(content, len(content)+2)}
	}
	var out []Encoding
	for len(content) > 0 {
		end := min(n, len(content))
		if end < len(content) {
			// Back off to a word boundary within the last quarter.
			for cut := end; cut > n-n/4 && cut > 1; cut-- {
				if !p.model.continues(content[cut-1], content[cut]) {
					end = cut
					break
				}
			}
		}
		out = append(out, p.window(content[:end], end+2))
		content = content[end:]
	}
	return out
}
