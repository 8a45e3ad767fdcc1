package textprep

import "testing"

// benchIntros are intro-sized texts like the seed's (MovieLens plots).
var benchIntros = []string{
	"A cowboy doll is profoundly threatened and jealous when a new spaceman figure supplants him as top toy in a boy's room.",
	"When two kids find and play a magical board game, they release a man trapped in it for decades - and a host of dangers that can only be stopped by finishing the game.",
	"John and Max resolve to save their beloved bait shop from turning into an Italian restaurant, just as its new female owner catches Max's attention.",
	"Based on Terry McMillan's novel, this film follows four very different African-American women and their relationships with men.",
}

// BenchmarkClean cleans one intro per iteration (rotating over four).
func BenchmarkClean(b *testing.B) {
	p := Default()
	p.Clean("warm up") // load the WordNet data outside the timer
	i := 0
	for b.Loop() {
		p.Clean(benchIntros[i%len(benchIntros)])
		i++
	}
}

// BenchmarkLoadWordNet measures parsing the embedded noun data (paid once
// per process).
func BenchmarkLoadWordNet(b *testing.B) {
	for b.Loop() {
		if _, err := parseNouns(wordnetNoun); err != nil {
			b.Fatal(err)
		}
	}
}
