package tokenize

import (
	"strings"
	"testing"
)

// benchIntro is a plot intro of the dataset's kind, written for this
// benchmark (the real dataset stays out of the repository).
const benchIntro = "When two kids find and play a magical board game, they release a man " +
	"trapped in it for decades and a host of dangers that can only be stopped by finishing the game. " +
	"Years later, a reclusive toymaker's café in Zürich becomes the unlikely refuge of a widowed " +
	"detective, her estranged brother and their neighbour's dog, who together must outwit a ruthless " +
	"art dealer, decode a 19th-century map hidden inside an antique clock, and survive one long, " +
	"storm-battered night before the river floods the old town. Meanwhile the mayor—desperate to win " +
	"re-election—covers up the dam's failing inspections, and a young reporter follows the money " +
	"from city hall to a shell company in Monaco. Along the way they learn that courage is not the " +
	"absence of fear but the decision that something else matters more, and that families, like " +
	"rivers, always find their way back to one another. "

// words returns the first n words of benchIntro, repeated as needed.
func words(n int) string {
	w := strings.Fields(strings.Repeat(benchIntro, n/150+1))
	return strings.Join(w[:n], " ")
}

// BenchmarkTokenize measures Encode (normalise, pre-tokenise, subword
// model, special tokens, truncation) per intro.
func BenchmarkTokenize(b *testing.B) {
	for _, tc := range both {
		tk := mustLoad(b, tc.tokenizer)
		for _, size := range []struct {
			name  string
			words int
		}{{"short", 30}, {"long", 200}} {
			text := words(size.words)
			b.Run(tc.name+"/"+size.name, func(b *testing.B) {
				b.SetBytes(int64(len(text)))
				for b.Loop() {
					tk.Encode(text)
				}
			})
		}
	}
}

// BenchmarkLoad measures reading tokenizer.json (done once per process).
func BenchmarkLoad(b *testing.B) {
	for _, tc := range both {
		b.Run(tc.name, func(b *testing.B) {
			for b.Loop() {
				if _, err := Load(tc.tokenizer); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}
