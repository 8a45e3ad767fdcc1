package tokenize

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"path/filepath"
	"slices"
	"strings"

	"github.com/reelmatch/reelmatch/internal/inputfile"
)

// Default windows when no tokenizer_config.json says otherwise: BERT's
// max_position_embeddings (512) and CLIP's text context_length (77, from
// openai/CLIP clip.tokenize and CLIPTextConfig.max_position_embeddings).
const (
	defaultBERTMaxLen = 512
	defaultCLIPMaxLen = 77
)

// modelMaxLengthUnset: transformers writes int(1e30)
// (VERY_LARGE_INTEGER) when a tokenizer has no limit; anything this large
// means "not set".
const modelMaxLengthUnset = 1e9

// clipPattern is the Split regex of CLIP's tokenizer.json; the hub's file
// prefixes it with clipSpecialAlts.
const (
	clipPattern     = `'s|'t|'re|'ve|'m|'ll|'d|[\p{L}]+|[\p{N}]|[^\s\p{L}\p{N}]+`
	clipSpecialAlts = `<\|startoftext\|>|<\|endoftext\|>|`
)

// fileJSON is the part of tokenizer.json this package reads.
type fileJSON struct {
	AddedTokens []struct {
		ID         int64  `json:"id"`
		Content    string `json:"content"`
		SingleWord bool   `json:"single_word"`
		Lstrip     bool   `json:"lstrip"`
		Rstrip     bool   `json:"rstrip"`
		Normalized bool   `json:"normalized"`
	} `json:"added_tokens"`
	Normalizer    *componentJSON `json:"normalizer"`
	PreTokenizer  *componentJSON `json:"pre_tokenizer"`
	PostProcessor *componentJSON `json:"post_processor"`
	Padding       *struct {
		Strategy json.RawMessage `json:"strategy"`
		PadID    *int64          `json:"pad_id"`
	} `json:"padding"`
	Model struct {
		Type                    string            `json:"type"`
		UnkToken                string            `json:"unk_token"`
		ContinuingSubwordPrefix *string           `json:"continuing_subword_prefix"`
		EndOfWordSuffix         *string           `json:"end_of_word_suffix"`
		MaxInputCharsPerWord    int               `json:"max_input_chars_per_word"`
		Vocab                   map[string]int64  `json:"vocab"`
		Merges                  []json.RawMessage `json:"merges"`
		Dropout                 *float64          `json:"dropout"`
		ByteFallback            bool              `json:"byte_fallback"`
	} `json:"model"`
}

// componentJSON covers the normalizer, pre-tokenizer and post-processor
// fields this package understands.
type componentJSON struct {
	Type          string          `json:"type"`
	Normalizers   []componentJSON `json:"normalizers"`
	Pretokenizers []componentJSON `json:"pretokenizers"`

	// BertNormalizer
	CleanText          *bool `json:"clean_text"`
	HandleChineseChars *bool `json:"handle_chinese_chars"`
	StripAccents       *bool `json:"strip_accents"`
	Lowercase          *bool `json:"lowercase"`

	// Replace, Split
	Pattern  *struct{ Regex, String *string } `json:"pattern"`
	Content  *string                          `json:"content"`
	Behavior string                           `json:"behavior"`
	Invert   bool                             `json:"invert"`

	// ByteLevel
	AddPrefixSpace bool  `json:"add_prefix_space"`
	UseRegex       *bool `json:"use_regex"`

	// BertProcessing, RobertaProcessing: ["[CLS]", 101]
	Cls []json.RawMessage `json:"cls"`
	Sep []json.RawMessage `json:"sep"`
}

// configJSON is the part of tokenizer_config.json this package reads.
type configJSON struct {
	TokenizerClass string          `json:"tokenizer_class"`
	ModelMaxLength *float64        `json:"model_max_length"`
	PadToken       json.RawMessage `json:"pad_token"`
	Padding        string          `json:"padding"`
}

func load(path string) (Tokenizer, error) {
	p, err := loadFile(path)
	if err != nil {
		return nil, fmt.Errorf("load tokenizer %q: %w", path, err)
	}
	return p, nil
}

func loadFile(path string) (*pipeline, error) {
	data, err := inputfile.ReadFile(context.Background(), path, inputfile.Config)
	if err != nil {
		return nil, err
	}
	var f fileJSON
	if err := json.Unmarshal(data, &f); err != nil {
		return nil, fmt.Errorf("parse JSON: %w", err)
	}
	var cfg configJSON
	cfgPath := filepath.Join(filepath.Dir(path), "tokenizer_config.json")
	switch data, err := inputfile.ReadFile(context.Background(), cfgPath, inputfile.Config); {
	case errors.Is(err, fs.ErrNotExist):
	case err != nil:
		return nil, err
	default:
		if err := json.Unmarshal(data, &cfg); err != nil {
			return nil, fmt.Errorf("parse %s: %w", cfgPath, err)
		}
	}

	p := &pipeline{}
	if err := p.setVocab(&f); err != nil {
		return nil, err
	}
	switch f.Model.Type {
	case "WordPiece":
		p.model, err = newWordPiece(&f)
		p.maxLen = defaultBERTMaxLen
	case "BPE":
		p.model, err = newCLIPBPE(&f)
		p.maxLen = defaultCLIPMaxLen
		// openai/CLIP's clip.tokenize always returns [n, 77] rows, and the
		// text tower's position embeddings cover exactly 77 tokens.
		p.padToMax = true
	default:
		return nil, fmt.Errorf("%w: model type %q (want WordPiece or BPE)", ErrUnsupportedModel, f.Model.Type)
	}
	if err != nil {
		return nil, err
	}
	if p.first, p.last, err = specialPair(f.PostProcessor, f.Model.Type); err != nil {
		return nil, err
	}
	for _, id := range []int64{p.first, p.last} {
		if id < 0 || id >= int64(len(p.vocab)) || p.vocab[id] == "" {
			return nil, fmt.Errorf("post_processor special token id %d is not in the vocabulary", id)
		}
	}
	if err := p.configure(&f, &cfg); err != nil {
		return nil, err
	}
	return p, nil
}

// setVocab builds the id -> token table from the model vocabulary and the
// added tokens, and the added-token matcher.
func (p *pipeline) setVocab(f *fileJSON) error {
	if len(f.Model.Vocab) == 0 {
		return fmt.Errorf("model.vocab is empty or missing")
	}
	n := int64(0)
	for tok, id := range f.Model.Vocab {
		if id < 0 {
			return fmt.Errorf("model.vocab: token %q has negative id %d", tok, id)
		}
		n = max(n, id+1)
	}
	for _, a := range f.AddedTokens {
		n = max(n, a.ID+1)
	}
	if n > 10*int64(len(f.Model.Vocab)+len(f.AddedTokens)) {
		return fmt.Errorf("model.vocab: ids up to %d for %d tokens", n-1, len(f.Model.Vocab))
	}
	p.vocab = make([]string, n)
	for tok, id := range f.Model.Vocab {
		p.vocab[id] = tok
	}
	for _, a := range f.AddedTokens {
		if a.ID < 0 || a.Content == "" {
			return fmt.Errorf("added_tokens: bad entry %q with id %d", a.Content, a.ID)
		}
		// single_word/lstrip/rstrip/normalized change how HF matches an
		// added token; the BERT and CLIP files set none of them.
		if a.SingleWord || a.Lstrip || a.Rstrip || a.Normalized {
			return fmt.Errorf("%w: added token %q uses single_word/lstrip/rstrip/normalized", ErrUnsupportedModel, a.Content)
		}
		p.vocab[a.ID] = a.Content
		p.added = append(p.added, addedToken{content: a.Content, id: a.ID})
		p.addedAt[a.Content[0]] = true
	}
	slices.SortStableFunc(p.added, func(a, b addedToken) int { return len(b.content) - len(a.content) })
	return nil
}

// specialPair reads the [CLS]/[SEP] (BertProcessing) or bos/eos
// (RobertaProcessing) ids the post-processor wraps every text in.
func specialPair(pp *componentJSON, modelType string) (first, last int64, err error) {
	want := map[string]string{"WordPiece": "BertProcessing", "BPE": "RobertaProcessing"}[modelType]
	if pp == nil || pp.Type != want {
		got := "none"
		if pp != nil {
			got = pp.Type
		}
		return 0, 0, fmt.Errorf("%w: post_processor %s with a %s model (want %s)", ErrUnsupportedModel, got, modelType, want)
	}
	parse := func(field string, raw []json.RawMessage) (int64, error) {
		var id int64
		if len(raw) != 2 || json.Unmarshal(raw[1], &id) != nil {
			return 0, fmt.Errorf("post_processor.%s: want [token, id]", field)
		}
		return id, nil
	}
	if first, err = parse("cls", pp.Cls); err != nil {
		return 0, 0, err
	}
	if last, err = parse("sep", pp.Sep); err != nil {
		return 0, 0, err
	}
	return first, last, nil
}

// configure applies tokenizer_config.json (model_max_length, pad_token,
// padding) and tokenizer.json padding on top of the model defaults.
func (p *pipeline) configure(f *fileJSON, cfg *configJSON) error {
	if m := cfg.ModelMaxLength; m != nil && *m < modelMaxLengthUnset {
		if *m < 3 || *m != float64(int(*m)) {
			return fmt.Errorf("tokenizer_config.json: model_max_length %v must be a whole number of at least 3", *m)
		}
		p.maxLen = int(*m)
	}
	switch cfg.Padding {
	case "":
	case "max_length":
		p.padToMax = true
	case "longest":
		p.padToMax = false
	default:
		return fmt.Errorf("tokenizer_config.json: padding %q (want max_length or longest)", cfg.Padding)
	}

	// Pad id: tokenizer_config pad_token, else tokenizer.json padding,
	// else [PAD] (BERT), else the end token (CLIP pads with <|endoftext|>).
	p.padID = p.last
	if id, ok := f.Model.Vocab["[PAD]"]; ok {
		p.padID = id
	}
	if f.Padding != nil && f.Padding.PadID != nil {
		p.padID = *f.Padding.PadID
	}
	if len(cfg.PadToken) > 0 && string(cfg.PadToken) != "null" {
		var tok string
		if err := json.Unmarshal(cfg.PadToken, &tok); err != nil {
			// transformers may write an AddedToken object.
			var obj struct{ Content string }
			if err := json.Unmarshal(cfg.PadToken, &obj); err != nil || obj.Content == "" {
				return fmt.Errorf("tokenizer_config.json: pad_token is neither a string nor {\"content\": ...}")
			}
			tok = obj.Content
		}
		id, ok := p.tokenID(tok)
		if !ok {
			return fmt.Errorf("tokenizer_config.json: pad_token %q is not in the vocabulary", tok)
		}
		p.padID = id
	}
	return nil
}

func (p *pipeline) tokenID(tok string) (int64, bool) {
	for _, a := range p.added {
		if a.content == tok {
			return a.id, true
		}
	}
	for id, s := range p.vocab {
		if s == tok {
			return int64(id), true
		}
	}
	return 0, false
}

func newWordPiece(f *fileJSON) (*wordPiece, error) {
	n := f.Normalizer
	if n == nil || n.Type != "BertNormalizer" {
		return nil, fmt.Errorf("%w: WordPiece with normalizer %s (want BertNormalizer)", ErrUnsupportedModel, typeOf(n))
	}
	if pt := f.PreTokenizer; pt == nil || pt.Type != "BertPreTokenizer" {
		return nil, fmt.Errorf("%w: WordPiece with pre_tokenizer %s (want BertPreTokenizer)", ErrUnsupportedModel, typeOf(pt))
	}
	// HF defaults: every flag true; strip_accents null follows lowercase.
	flag := func(b *bool) bool { return b == nil || *b }
	w := &wordPiece{
		cleanText:    flag(n.CleanText),
		chineseChars: flag(n.HandleChineseChars),
		lowercase:    flag(n.Lowercase),
		prefix:       "##",
		maxChars:     f.Model.MaxInputCharsPerWord,
		vocab:        make(map[string]int64, len(f.Model.Vocab)),
		cont:         make(map[string]int64, len(f.Model.Vocab)/4),
	}
	w.stripAccents = w.lowercase
	if n.StripAccents != nil {
		w.stripAccents = *n.StripAccents
	}
	if f.Model.ContinuingSubwordPrefix != nil {
		w.prefix = *f.Model.ContinuingSubwordPrefix
	}
	if w.maxChars <= 0 {
		w.maxChars = 100 // HF WordPiece default
	}
	unk, ok := f.Model.Vocab[f.Model.UnkToken]
	if !ok {
		return nil, fmt.Errorf("model.unk_token %q is not in model.vocab", f.Model.UnkToken)
	}
	w.unk = unk
	var maxID int64
	for tok, id := range f.Model.Vocab {
		maxID = max(maxID, id)
		w.vocab[tok] = id
		if rest, ok := strings.CutPrefix(tok, w.prefix); ok && w.prefix != "" {
			w.cont[rest] = id
		}
	}
	w.contTok = make([]bool, maxID+1)
	for _, id := range w.cont {
		w.contTok[id] = true
	}
	return w, nil
}

func newCLIPBPE(f *fileJSON) (*clipBPE, error) {
	c := &clipBPE{}
	if err := checkCLIPNormalizer(f.Normalizer); err != nil {
		return nil, err
	}
	specialAlts, err := checkCLIPPreTokenizer(f.PreTokenizer)
	if err != nil {
		return nil, err
	}
	c.specialAlts = specialAlts
	m := &f.Model
	if m.Dropout != nil && *m.Dropout > 0 || m.ByteFallback {
		return nil, fmt.Errorf("%w: BPE with dropout or byte_fallback", ErrUnsupportedModel)
	}
	if m.ContinuingSubwordPrefix != nil && *m.ContinuingSubwordPrefix != "" {
		return nil, fmt.Errorf("%w: BPE with continuing_subword_prefix %q", ErrUnsupportedModel, *m.ContinuingSubwordPrefix)
	}
	suffix := ""
	if m.EndOfWordSuffix != nil {
		suffix = *m.EndOfWordSuffix
	}
	unk := int64(-1)
	if id, ok := m.Vocab[m.UnkToken]; ok {
		unk = id
	}
	lookup := func(tok string) int64 {
		if id, ok := m.Vocab[tok]; ok {
			return id
		}
		return unk
	}
	b2r := byteToRune()
	for b := range 256 {
		c.byteID[b] = lookup(string(b2r[b]))
		c.byteEndID[b] = lookup(string(b2r[b]) + suffix)
		if c.byteID[b] < 0 || c.byteEndID[b] < 0 {
			return nil, fmt.Errorf("model.vocab lacks byte symbol %q and has no unk_token", string(b2r[b]))
		}
	}
	c.merges = make(map[uint64]merge, len(m.Merges))
	for rank, raw := range m.Merges {
		a, b, err := parseMerge(raw)
		if err != nil {
			return nil, fmt.Errorf("model.merges[%d]: %w", rank, err)
		}
		ida, oka := m.Vocab[a]
		idb, okb := m.Vocab[b]
		idm, okm := m.Vocab[a+b]
		if !oka || !okb || !okm {
			return nil, fmt.Errorf("model.merges[%d] %q %q: token not in model.vocab", rank, a, b)
		}
		k := pairKey(ida, idb)
		if _, dup := c.merges[k]; !dup { // the first (lowest) rank wins
			c.merges[k] = merge{rank: int32(rank), id: int32(idm)}
		}
	}
	var maxID int64
	for _, id := range m.Vocab {
		maxID = max(maxID, id)
	}
	c.endsWord = make([]bool, maxID+1)
	for tok, id := range m.Vocab {
		c.endsWord[id] = suffix != "" && strings.HasSuffix(tok, suffix)
	}
	return c, nil
}

// parseMerge reads a merge in either tokenizer.json form: "a b" (tokenizers
// < 0.20) or ["a", "b"].
func parseMerge(raw json.RawMessage) (a, b string, err error) {
	var s string
	if json.Unmarshal(raw, &s) == nil {
		a, b, ok := strings.Cut(s, " ")
		if !ok {
			return "", "", fmt.Errorf("%q is not \"left right\"", s)
		}
		return a, b, nil
	}
	var pair []string
	if json.Unmarshal(raw, &pair) != nil || len(pair) != 2 {
		return "", "", fmt.Errorf("%s is neither \"left right\" nor [left, right]", raw)
	}
	return pair[0], pair[1], nil
}

// checkCLIPNormalizer accepts exactly Sequence[NFC, Replace(\s+ -> " "),
// Lowercase], which clipNormalize implements.
func checkCLIPNormalizer(n *componentJSON) error {
	ok := n != nil && n.Type == "Sequence" && len(n.Normalizers) == 3 &&
		n.Normalizers[0].Type == "NFC" &&
		n.Normalizers[1].Type == "Replace" && n.Normalizers[1].Pattern != nil &&
		n.Normalizers[1].Pattern.Regex != nil && *n.Normalizers[1].Pattern.Regex == `\s+` &&
		n.Normalizers[1].Content != nil && *n.Normalizers[1].Content == " " &&
		n.Normalizers[2].Type == "Lowercase"
	if !ok {
		return fmt.Errorf("%w: BPE with normalizer %s (want CLIP's Sequence[NFC, Replace \\s+, Lowercase])", ErrUnsupportedModel, typeOf(n))
	}
	return nil
}

// checkCLIPPreTokenizer accepts CLIP's Sequence[Split(pattern, Removed,
// invert), ByteLevel(no prefix space, no regex)] with or without the
// special-token alternatives at the front of the pattern.
func checkCLIPPreTokenizer(pt *componentJSON) (specialAlts bool, err error) {
	bad := fmt.Errorf("%w: BPE with pre_tokenizer %s (want CLIP's Sequence[Split, ByteLevel])", ErrUnsupportedModel, typeOf(pt))
	if pt == nil || pt.Type != "Sequence" || len(pt.Pretokenizers) != 2 {
		return false, bad
	}
	split, bl := pt.Pretokenizers[0], pt.Pretokenizers[1]
	if split.Type != "Split" || split.Behavior != "Removed" || !split.Invert ||
		split.Pattern == nil || split.Pattern.Regex == nil {
		return false, bad
	}
	switch *split.Pattern.Regex {
	case clipPattern:
	case clipSpecialAlts + clipPattern:
		specialAlts = true
	default:
		return false, fmt.Errorf("%w: Split pattern %q is not CLIP's", ErrUnsupportedModel, *split.Pattern.Regex)
	}
	if bl.Type != "ByteLevel" || bl.AddPrefixSpace || bl.UseRegex == nil || *bl.UseRegex {
		return false, bad
	}
	return specialAlts, nil
}

func typeOf(c *componentJSON) string {
	if c == nil {
		return "none"
	}
	return c.Type
}
