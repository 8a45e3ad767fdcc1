package tokenize

import (
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/reelmatch/reelmatch/internal/reeltest"
)

// The hub files and the goldens made with transformers' AutoTokenizer, as
// paths in the repository's golden fixtures (reeltest.Fixture; see
// testdata/fixtures/README.md at the module root). Each tokenizer.json has
// its tokenizer_config.json beside it, as on the hub.
const (
	bertJSON   = "tokenizers/distilbert-base-uncased/tokenizer.json"
	clipJSON   = "tokenizers/clip-vit-base-patch32/tokenizer.json"
	bertGolden = "tokenizers/wordpiece_golden.json"
	clipGolden = "tokenizers/clip_bpe_golden.json"
)

type golden struct {
	MaxLength int `json:"max_length"`
	Cases     []struct {
		Text   string   `json:"text"`
		IDs    []int64  `json:"ids"`
		Tokens []string `json:"tokens"`
	} `json:"cases"`
	Batch struct {
		Texts         []string  `json:"texts"`
		InputIDs      [][]int64 `json:"input_ids"`
		AttentionMask [][]int64 `json:"attention_mask"`
	} `json:"batch"`
}

// readGolden reads a golden fixture (bertGolden, clipGolden).
func readGolden(tb testing.TB, rel string) golden {
	tb.Helper()
	var g golden
	if err := json.Unmarshal(reeltest.ReadFixture(tb, rel), &g); err != nil {
		tb.Fatalf("%s: %v", rel, err)
	}
	return g
}

// loaded caches tokenizers across tests: the CLIP file is 3.6 MB of JSON.
var loaded sync.Map

// mustLoad loads a fixture tokenizer (bertJSON, clipJSON) once per process.
func mustLoad(tb testing.TB, rel string) Tokenizer {
	tb.Helper()
	if tk, ok := loaded.Load(rel); ok {
		return tk.(Tokenizer)
	}
	tk, err := Load(reeltest.Fixture(tb, rel))
	if err != nil {
		tb.Fatal(err)
	}
	loaded.Store(rel, tk)
	return tk
}

var both = []struct{ name, tokenizer, golden string }{
	{"wordpiece", bertJSON, bertGolden},
	{"clip", clipJSON, clipGolden},
}

func TestEncodeGolden(t *testing.T) {
	for _, tc := range both {
		t.Run(tc.name, func(t *testing.T) {
			tk := mustLoad(t, tc.tokenizer)
			g := readGolden(t, tc.golden)
			if len(g.Cases) != 26 {
				t.Fatalf("%s has %d cases, want 26", tc.golden, len(g.Cases))
			}
			if tk.MaxLen() != g.MaxLength {
				t.Errorf("MaxLen() = %d, want %d", tk.MaxLen(), g.MaxLength)
			}
			for i, c := range g.Cases {
				t.Run(fmt.Sprintf("%02d", i), func(t *testing.T) {
					got := tk.Encode(c.Text)
					if diff := cmp.Diff(c.Tokens, got.Tokens); diff != "" {
						t.Errorf("Encode(%q) tokens (-want +got):\n%s", c.Text, diff)
					}
					if diff := cmp.Diff(c.IDs, got.IDs); diff != "" {
						t.Errorf("Encode(%q) ids (-want +got):\n%s", c.Text, diff)
					}
					if got.FullLen < len(got.IDs) {
						t.Errorf("FullLen %d < len(IDs) %d", got.FullLen, len(got.IDs))
					}
					if got.Truncated() != (len(c.IDs) == g.MaxLength && got.FullLen > g.MaxLength) {
						t.Errorf("Truncated() = %v with FullLen %d", got.Truncated(), got.FullLen)
					}
				})
			}
		})
	}
}

func TestPadGoldenBatch(t *testing.T) {
	for _, tc := range both {
		t.Run(tc.name, func(t *testing.T) {
			tk := mustLoad(t, tc.tokenizer)
			g := readGolden(t, tc.golden)
			var encs []Encoding
			for _, text := range g.Batch.Texts {
				encs = append(encs, tk.Encode(text))
			}
			ids, mask, seqLen := Pad(tk, encs)
			if want := len(g.Batch.InputIDs[0]); seqLen != want {
				t.Fatalf("seqLen = %d, want %d", seqLen, want)
			}
			var wantIDs, wantMask []int64
			for i := range g.Batch.InputIDs {
				wantIDs = append(wantIDs, g.Batch.InputIDs[i]...)
				wantMask = append(wantMask, g.Batch.AttentionMask[i]...)
			}
			if diff := cmp.Diff(wantIDs, ids); diff != "" {
				t.Errorf("ids (-want +got):\n%s", diff)
			}
			if diff := cmp.Diff(wantMask, mask); diff != "" {
				t.Errorf("mask (-want +got):\n%s", diff)
			}
		})
	}
}

func TestPadEmptyBatch(t *testing.T) {
	tk := mustLoad(t, bertJSON)
	ids, mask, seqLen := Pad(tk, nil)
	if ids != nil || mask != nil || seqLen != 0 {
		t.Errorf("Pad(nil) = %v, %v, %d; want nil, nil, 0", ids, mask, seqLen)
	}
}

// TestTruncationBoundary encodes "a a a ..." so the text fills the window
// exactly, and then by one token more. The ids of "a" are the goldens'
// (first case, second token).
func TestTruncationBoundary(t *testing.T) {
	for _, tc := range both {
		t.Run(tc.name, func(t *testing.T) {
			tk := mustLoad(t, tc.tokenizer)
			g := readGolden(t, tc.golden)
			first, a, last := g.Cases[0].IDs[0], g.Cases[0].IDs[1], g.Cases[4].IDs[3]
			n := tk.MaxLen()
			for _, words := range []int{n - 2, n - 1, n + 40} {
				t.Run(fmt.Sprint(words), func(t *testing.T) {
					got := tk.Encode(strings.Repeat("A ", words))
					want := []int64{first}
					for range min(words, n-2) {
						want = append(want, a)
					}
					want = append(want, last)
					if diff := cmp.Diff(want, got.IDs); diff != "" {
						t.Errorf("ids (-want +got):\n%s", diff)
					}
					if got.FullLen != words+2 {
						t.Errorf("FullLen = %d, want %d", got.FullLen, words+2)
					}
					if got.Truncated() != (words > n-2) {
						t.Errorf("Truncated() = %v for %d words", got.Truncated(), words)
					}
				})
			}
		})
	}
}

func TestEncodeEmpty(t *testing.T) {
	for _, tc := range both {
		t.Run(tc.name, func(t *testing.T) {
			tk := mustLoad(t, tc.tokenizer)
			g := readGolden(t, tc.golden)
			want := g.Cases[4].IDs // "HELLO World": first, hello, world, last
			for _, text := range []string{"", " \t\n", "\u200b"[:0]} {
				got := tk.Encode(text)
				if diff := cmp.Diff([]int64{want[0], want[3]}, got.IDs); diff != "" {
					t.Errorf("Encode(%q) (-want +got):\n%s", text, diff)
				}
				if got.FullLen != 2 || got.Truncated() {
					t.Errorf("Encode(%q): FullLen %d, Truncated %v", text, got.FullLen, got.Truncated())
				}
			}
		})
	}
}

func TestChunks(t *testing.T) {
	for _, tc := range both {
		t.Run(tc.name, func(t *testing.T) {
			tk := mustLoad(t, tc.tokenizer)
			g := readGolden(t, tc.golden)
			long := g.Cases[len(g.Cases)-1] // longer than the window
			// Repeat it so even BERT needs several windows.
			text := strings.Repeat(long.Text+" ", 3)
			chunks := Chunks(tk, text)
			full := tk.(*pipeline).contentIDs(text)
			if len(chunks) < 2 {
				t.Fatalf("got %d chunks for %d tokens", len(chunks), len(full))
			}
			var content []int64
			for i, c := range chunks {
				n := len(c.IDs)
				if n > tk.MaxLen() || n < 3 {
					t.Fatalf("chunk %d has %d tokens (window %d)", i, n, tk.MaxLen())
				}
				if c.IDs[0] != long.IDs[0] || c.IDs[n-1] != long.IDs[len(long.IDs)-1] {
					t.Errorf("chunk %d is not wrapped in special tokens: %v ... %v", i, c.Tokens[0], c.Tokens[n-1])
				}
				if c.Truncated() {
					t.Errorf("chunk %d says truncated", i)
				}
				if i+1 < len(chunks) {
					// Windows end at word boundaries.
					next := chunks[i+1].Tokens[1]
					lastTok := c.Tokens[n-2]
					if strings.HasPrefix(next, "##") || tc.name == "clip" && !strings.HasSuffix(lastTok, "</w>") {
						t.Errorf("chunk %d splits a word: ... %q | %q ...", i, lastTok, next)
					}
				}
				content = append(content, c.IDs[1:n-1]...)
			}
			if diff := cmp.Diff(full, content); diff != "" {
				t.Errorf("chunks do not cover the text (-want +got):\n%s", diff)
			}
			// The first window starts like the golden's truncated encoding.
			k := min(len(chunks[0].IDs), len(long.IDs)) - 1
			if diff := cmp.Diff(long.IDs[:k], chunks[0].IDs[:k]); diff != "" {
				t.Errorf("first chunk (-want +got):\n%s", diff)
			}
			short := g.Cases[4]
			if diff := cmp.Diff([]Encoding{tk.Encode(short.Text)}, Chunks(tk, short.Text)); diff != "" {
				t.Errorf("Chunks of a short text (-want +got):\n%s", diff)
			}
		})
	}
}

func TestEncodeConcurrent(t *testing.T) {
	for _, tc := range both {
		t.Run(tc.name, func(t *testing.T) {
			tk := mustLoad(t, tc.tokenizer)
			g := readGolden(t, tc.golden)
			var wg sync.WaitGroup
			errs := make(chan string, 8*len(g.Cases))
			for range 8 {
				wg.Go(func() {
					for _, c := range g.Cases {
						if got := tk.Encode(c.Text); !cmp.Equal(c.IDs, got.IDs) {
							errs <- c.Text
						}
					}
				})
			}
			wg.Wait()
			close(errs)
			for text := range errs {
				t.Errorf("concurrent Encode(%q) differs from the golden", text)
			}
		})
	}
}

// writeTokenizer writes a tokenizer.json (and optionally a
// tokenizer_config.json) into a fresh folder and returns its path.
func writeTokenizer(t *testing.T, tokenizerJSON []byte, config string) string {
	t.Helper()
	dir := t.TempDir()
	path := filepath.Join(dir, "tokenizer.json")
	if err := os.WriteFile(path, tokenizerJSON, 0o644); err != nil {
		t.Fatal(err)
	}
	if config != "" {
		if err := os.WriteFile(filepath.Join(dir, "tokenizer_config.json"), []byte(config), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	return path
}

// editJSON decodes a fixture JSON file, lets edit change it, and encodes it.
func editJSON(t *testing.T, rel string, edit func(m map[string]any)) []byte {
	t.Helper()
	data := reeltest.ReadFixture(t, rel)
	var m map[string]any
	if err := json.Unmarshal(data, &m); err != nil {
		t.Fatal(err)
	}
	edit(m)
	out, err := json.Marshal(m)
	if err != nil {
		t.Fatal(err)
	}
	return out
}

func TestLoadErrors(t *testing.T) {
	missing := filepath.Join(t.TempDir(), "nope", "tokenizer.json")
	malformed := writeTokenizer(t, []byte(`{"model": {"type": "WordPiece", `), "")
	unigram := writeTokenizer(t, editJSON(t, bertJSON, func(m map[string]any) {
		m["model"].(map[string]any)["type"] = "Unigram"
	}), "")
	gpt2 := writeTokenizer(t, editJSON(t, clipJSON, func(m map[string]any) {
		m["pre_tokenizer"] = map[string]any{"type": "ByteLevel", "add_prefix_space": false, "use_regex": true}
	}), "")
	otherSplit := writeTokenizer(t, editJSON(t, clipJSON, func(m map[string]any) {
		pts := m["pre_tokenizer"].(map[string]any)["pretokenizers"].([]any)
		pts[0].(map[string]any)["pattern"] = map[string]any{"Regex": `\w+`}
	}), "")
	noVocab := writeTokenizer(t, editJSON(t, bertJSON, func(m map[string]any) {
		delete(m["model"].(map[string]any), "vocab")
	}), "")
	badMerge := writeTokenizer(t, editJSON(t, clipJSON, func(m map[string]any) {
		model := m["model"].(map[string]any)
		model["merges"] = append(model["merges"].([]any), []any{"zzqq", "xxyy"})
	}), "")
	bertRaw := reeltest.ReadFixture(t, bertJSON)
	badConfig := writeTokenizer(t, bertRaw, `{"model_max_length": "many"}`)
	badPad := writeTokenizer(t, bertRaw, `{"pad_token": "[NOPE]"}`)
	tests := []struct {
		name, path string
		is         error  // nil: any error
		mention    string // besides the path
	}{
		{"missing file", missing, fs.ErrNotExist, ""},
		{"malformed JSON", malformed, nil, "parse JSON"},
		{"unsupported model type", unigram, ErrUnsupportedModel, `"Unigram"`},
		{"GPT-2 style BPE", gpt2, ErrUnsupportedModel, "pre_tokenizer ByteLevel"},
		{"other Split pattern", otherSplit, ErrUnsupportedModel, `\\w+`},
		{"no vocab", noVocab, nil, "model.vocab"},
		{"merge outside vocab", badMerge, nil, "zzqq"},
		{"bad tokenizer_config", badConfig, nil, "tokenizer_config.json"},
		{"unknown pad_token", badPad, nil, "[NOPE]"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			tk, err := Load(tt.path)
			if err == nil {
				t.Fatalf("Load(%q) = %v, want an error", tt.path, tk)
			}
			if tt.is != nil && !errors.Is(err, tt.is) {
				t.Errorf("error %q is not %v", err, tt.is)
			}
			if !strings.Contains(err.Error(), tt.path) || !strings.Contains(err.Error(), tt.mention) {
				t.Errorf("error %q should name %q and %q", err, tt.path, tt.mention)
			}
		})
	}
}

// TestLoadConfig checks what tokenizer_config.json changes: without it the
// model defaults hold; with it its window and padding apply.
func TestLoadConfig(t *testing.T) {
	bertRaw, clipRaw := reeltest.ReadFixture(t, bertJSON), reeltest.ReadFixture(t, clipJSON)
	tests := []struct {
		name       string
		raw        []byte
		config     string
		maxLen     int
		padID      int64
		padsToMax  bool
		wantSeqLen int // Pad of ["hello world"]
	}{
		{"bert defaults", bertRaw, "", 512, 0, false, 4},
		{"clip defaults", clipRaw, "", 77, 49407, true, 77},
		{"bert huge max length means unset", bertRaw, `{"model_max_length": 1e30}`, 512, 0, false, 4},
		{"bert padded to 16", bertRaw, `{"model_max_length": 16, "padding": "max_length"}`, 16, 0, true, 16},
		{"clip padded to longest", clipRaw, `{"padding": "longest", "pad_token": {"content": "<|startoftext|>"}}`, 77, 49406, false, 4},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			tk, err := Load(writeTokenizer(t, tt.raw, tt.config))
			if err != nil {
				t.Fatal(err)
			}
			f, ok := tk.(FixedLength)
			if tk.MaxLen() != tt.maxLen || tk.PadID() != tt.padID || !ok || f.PadsToMaxLen() != tt.padsToMax {
				t.Errorf("MaxLen %d, PadID %d, PadsToMaxLen %v; want %d, %d, %v",
					tk.MaxLen(), tk.PadID(), f.PadsToMaxLen(), tt.maxLen, tt.padID, tt.padsToMax)
			}
			_, _, seqLen := Pad(tk, []Encoding{tk.Encode("hello world")})
			if seqLen != tt.wantSeqLen {
				t.Errorf("seqLen = %d, want %d", seqLen, tt.wantSeqLen)
			}
		})
	}
}

// clipSplit is the CLIP Split pattern for Go's regexp, with Oniguruma's
// Unicode \s spelt out (Go's \s is ASCII only).
var clipSplit = regexp.MustCompile(`<\|startoftext\|>|<\|endoftext\|>|'s|'t|'re|'ve|'m|'ll|'d|[\p{L}]+|[\p{N}]|[^\t\n\v\f\r \x{85}\p{Z}\p{L}\p{N}]+`)

// FuzzCLIPPreTokenize checks the hand-written scanner against the regular
// expression it replaces, on normalised text.
func FuzzCLIPPreTokenize(f *testing.F) {
	for _, path := range []string{clipGolden, bertGolden} {
		for _, c := range readGolden(f, path).Cases {
			f.Add(c.Text)
		}
	}
	f.Add("!'s <|ENDOFTEXT|>x!<|startoftext|> ½² ⅷ İstanbul")
	c := &clipBPE{specialAlts: true}
	f.Fuzz(func(t *testing.T, text string) {
		s := clipNormalize(text)
		want := clipSplit.FindAllString(s, -1)
		var got []string
		for i := 0; i < len(s); {
			n := c.preToken(s[i:])
			if n == 0 {
				i++
				for i < len(s) && !utfStart(s[i]) {
					i++
				}
				continue
			}
			got = append(got, s[i:i+n])
			i += n
		}
		if diff := cmp.Diff(want, got); diff != "" {
			t.Errorf("pre-tokens of %q (-regexp +scanner):\n%s", s, diff)
		}
	})
}

func utfStart(b byte) bool { return b&0xC0 != 0x80 }

// FuzzEncode checks that any input encodes within the window, wrapped in
// the special tokens, with one token string per id.
func FuzzEncode(f *testing.F) {
	for _, c := range readGolden(f, bertGolden).Cases {
		f.Add(c.Text)
	}
	f.Add("\xff\xfe invalid \x00 utf8 \u0130")
	tks := []Tokenizer{mustLoad(f, bertJSON), mustLoad(f, clipJSON)}
	f.Fuzz(func(t *testing.T, text string) {
		for _, tk := range tks {
			e := tk.Encode(text)
			n := len(e.IDs)
			if n < 2 || n > tk.MaxLen() || len(e.Tokens) != n || e.FullLen < n {
				t.Fatalf("Encode(%q): %d ids, %d tokens, FullLen %d", text, n, len(e.Tokens), e.FullLen)
			}
			for i, tok := range e.Tokens {
				if tok == "" {
					t.Errorf("Encode(%q): id %d at %d has no token", text, e.IDs[i], i)
				}
			}
		}
	})
}
