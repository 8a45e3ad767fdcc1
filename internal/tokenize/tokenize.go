package tokenize

import (
	"errors"
)

// ErrUnsupportedModel is wrapped by Load when tokenizer.json describes a
// pipeline this package does not implement (a model other than WordPiece or
// CLIP's byte-level BPE, or an unknown normalizer or pre-tokenizer).
var ErrUnsupportedModel = errors.New("unsupported tokenizer")

// Tokenizer turns text into model input ids. Tokenizers returned by Load
// are immutable after Load and safe for concurrent use by many goroutines.
type Tokenizer interface {
	// Encode tokenizes text, adds the model's special tokens
	// ([CLS]/[SEP] or <|startoftext|>/<|endoftext|>) and truncates the
	// result to MaxLen, keeping the final special token as HF does
	// (truncation=True). Encoding.FullLen reports the length before
	// truncation. Any string is valid input; the empty string gives just
	// the two special tokens.
	Encode(text string) Encoding
	// MaxLen is the model window in tokens, special tokens included
	// (tokenizer_config.json model_max_length: 512 for DistilBERT, 77 for
	// CLIP).
	MaxLen() int
	// PadID is the id Pad fills rows with.
	PadID() int64
}

// Encoding is one tokenized text.
type Encoding struct {
	// IDs are the vocabulary ids, special tokens included, at most MaxLen.
	IDs []int64
	// Tokens are the vocabulary strings of IDs, index for index.
	Tokens []string
	// FullLen is the number of tokens, special tokens included, that the
	// text had before truncation; it exceeds len(IDs) when the text was cut.
	FullLen int
}

// Truncated reports whether the text did not fit the model window.
func (e Encoding) Truncated() bool { return e.FullLen > len(e.IDs) }

// FixedLength is implemented by tokenizers whose model expects every row
// padded to MaxLen (CLIP's text tower was trained on 77-token rows). Pad
// detects it with a type assertion.
type FixedLength interface {
	PadsToMaxLen() bool
}

// Chunker is implemented by tokenizers that can split a long text into
// several model windows (for --long-text chunk).
type Chunker interface {
	// Chunks splits text into consecutive, non-overlapping windows of at
	// most MaxLen tokens, each carrying its own special tokens. A window
	// ends at a word boundary when one lies in its last quarter, so words
	// are rarely split across windows. A text that fits gives one window
	// equal to Encode(text); the empty string gives one window holding
	// only the special tokens.
	Chunks(text string) []Encoding
}

// Load reads a Hugging Face tokenizer.json, detects its model (WordPiece or
// CLIP's byte-level BPE) and reads tokenizer_config.json beside it, when
// present, for model_max_length, pad_token and padding. Errors name the
// file; an unknown pipeline wraps ErrUnsupportedModel.
func Load(tokenizerJSON string) (Tokenizer, error) {
	return load(tokenizerJSON)
}

// Chunks splits text into model windows with tk's Chunker, or returns the
// single truncated Encode(text) when tk cannot chunk.
func Chunks(tk Tokenizer, text string) []Encoding {
	if c, ok := tk.(Chunker); ok {
		return c.Chunks(text)
	}
	return []Encoding{tk.Encode(text)}
}

// Pad packs encodings into row-major [batch, seqLen] ids and attention
// mask (1 for real tokens, 0 for padding), padding on the right with
// tk.PadID(). seqLen is the longest encoding, or MaxLen when tk pads to a
// fixed length (FixedLength), as CLIP does. Pad does not truncate: callers
// pass encodings from tk, which are at most MaxLen long. An empty batch
// gives nil slices.
func Pad(tk Tokenizer, encs []Encoding) (ids, mask []int64, seqLen int) {
	for _, e := range encs {
		seqLen = max(seqLen, len(e.IDs))
	}
	if f, ok := tk.(FixedLength); ok && f.PadsToMaxLen() {
		seqLen = max(seqLen, tk.MaxLen())
	}
	if len(encs) == 0 {
		return nil, nil, seqLen
	}
	ids = make([]int64, len(encs)*seqLen)
	mask = make([]int64, len(encs)*seqLen)
	pad := tk.PadID()
	for i, e := range encs {
		row := ids[i*seqLen : (i+1)*seqLen]
		n := copy(row, e.IDs)
		for j := n; j < seqLen; j++ {
			row[j] = pad
		}
		m := mask[i*seqLen : i*seqLen+n]
		for j := range m {
			m[j] = 1
		}
	}
	return ids, mask, seqLen
}
