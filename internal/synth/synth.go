package synth

import (
	"bytes"
	"encoding/csv"
	"fmt"
	"image"
	"image/color"
	"image/jpeg"
	"math"
	"math/rand/v2"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"

	"github.com/reelmatch/reelmatch/internal/atomicfile"
)

// DefaultMovies is the size of the demo dataset.
const DefaultMovies = 300

// TrainFraction is the share of ids listed in train.txt, as in the real
// set (2,594 of 3,242).
const TrainFraction = 0.8

// Poster size in pixels: the real posters' 2:3 shape, small enough that
// 300 of them are written in well under a second.
const (
	posterW = 120
	posterH = 180
)

// offStyle is the share of posters drawn in another genre's style, so that
// a poster does not always give its genre away.
const offStyle = 0.15

// Genres lists the genre of every movie Write(dir, n, seed) makes, in id
// order (ids are 1..n); tests use it as ground truth.
func Genres(n int, seed int64) []string {
	ms := plan(n, seed)
	out := make([]string, n)
	for i, m := range ms {
		out[i] = m.genre.name
	}
	return out
}

type movie struct {
	id    int
	genre *genre
	style *genre // the genre whose look the poster has
	light *lighting
	name  string
	intro string
	rng   *rand.Rand
}

// plan decides every movie's genre, title and intro.
func plan(n int, seed int64) []movie {
	rng := rand.New(rand.NewPCG(uint64(seed), 0x5eed))
	ms := make([]movie, n)
	for i := range ms {
		g := &genres[rng.IntN(len(genres))]
		style := g
		if rng.Float64() < offStyle {
			style = &genres[rng.IntN(len(genres))]
		}
		light := &lightings[rng.IntN(len(lightings))]
		ms[i] = movie{
			id: i + 1, genre: g, style: style, light: light,
			name:  title(rng, g),
			intro: intro(rng, g) + " " + light.sentences[rng.IntN(len(light.sentences))],
			rng:   rand.New(rand.NewPCG(uint64(seed), uint64(i+1))),
		}
	}
	return ms
}

// Write creates dir (if needed) and writes n synthetic movies into it:
// info.csv, poster/<id>.jpg and train.txt. The same seed gives the same
// bytes.
func Write(dir string, n int, seed int64) error {
	if n <= 0 {
		return fmt.Errorf("synthetic dataset: %d movies, want at least 1", n)
	}
	posterDir := filepath.Join(dir, "poster")
	if err := os.MkdirAll(posterDir, 0o755); err != nil {
		return fmt.Errorf("synthetic dataset: %w", err)
	}
	ms := plan(n, seed)
	var info bytes.Buffer
	w := csv.NewWriter(&info)
	_ = w.Write([]string{"id", "name", "intro"})
	var jpg bytes.Buffer
	for _, m := range ms {
		_ = w.Write([]string{strconv.Itoa(m.id), m.name, m.intro})
		jpg.Reset()
		if err := jpeg.Encode(&jpg, draw(m), &jpeg.Options{Quality: 85}); err != nil {
			return fmt.Errorf("synthetic dataset: encode poster %d: %w", m.id, err)
		}
		if err := os.WriteFile(filepath.Join(posterDir, strconv.Itoa(m.id)+".jpg"), jpg.Bytes(), 0o644); err != nil {
			return fmt.Errorf("synthetic dataset: %w", err)
		}
	}
	w.Flush()
	if err := w.Error(); err != nil {
		return fmt.Errorf("synthetic dataset: info.csv: %w", err)
	}
	if err := atomicfile.WriteFile(filepath.Join(dir, "info.csv"), info.Bytes(), 0o644); err != nil {
		return fmt.Errorf("synthetic dataset: %w", err)
	}
	// The train split: a seeded sample of round(0.8 n) ids, sorted, as the
	// real train.txt was made.
	rng := rand.New(rand.NewPCG(uint64(seed), 0x7a1))
	perm := rng.Perm(n)
	ids := perm[:int(math.Round(TrainFraction*float64(n)))]
	slices.Sort(ids)
	var train strings.Builder
	for _, i := range ids {
		fmt.Fprintf(&train, "%d\n", i+1)
	}
	if err := atomicfile.WriteFile(filepath.Join(dir, "train.txt"), []byte(train.String()), 0o644); err != nil {
		return fmt.Errorf("synthetic dataset: %w", err)
	}
	return nil
}

func title(rng *rand.Rand, g *genre) string {
	adj := pick(rng, g.adjectives)
	noun := pick(rng, g.nouns)
	year := 1950 + rng.IntN(50)
	return fmt.Sprintf("The %s %s (%d)", capitalize(adj), capitalize(noun), year)
}

// intro builds two or three sentences from the genre's templates and
// vocabulary, with shared filler so genres overlap in wording. One in four
// intros borrows a sentence from another genre, so an intro does not
// always give its genre away.
func intro(rng *rand.Rand, g *genre) string {
	n := 2 + rng.IntN(2)
	parts := make([]string, 0, n+1)
	for _, k := range rng.Perm(len(templates))[:n] {
		parts = append(parts, sentence(rng, templates[k], g))
	}
	if rng.IntN(4) == 0 {
		parts = append(parts, sentence(rng, pick(rng, templates), &genres[rng.IntN(len(genres))]))
	}
	return strings.Join(parts, " ")
}

// sentence fills one template with g's words: two different nouns, and
// "a" or "an" as the next word needs.
func sentence(rng *rand.Rand, tpl string, g *genre) string {
	noun := pick(rng, g.nouns)
	noun2 := pick(rng, g.nouns)
	for noun2 == noun {
		noun2 = pick(rng, g.nouns)
	}
	s := strings.NewReplacer(
		"{name}", pick(rng, names),
		"{adj}", pick(rng, g.adjectives),
		"{noun}", noun,
		"{noun2}", noun2,
		"{verb}", pick(rng, g.verbs),
		"{place}", pick(rng, g.places),
		"{role}", pick(rng, g.roles),
		"{filler}", pick(rng, filler),
	).Replace(tpl)
	return articles.ReplaceAllString(s, "${1}n $2")
}

// articles finds "a" before a vowel ("a alien"), to make it "an".
var articles = regexp.MustCompile(`\b([Aa]) ([aeiouAEIOU])`)

func pick(rng *rand.Rand, xs []string) string { return xs[rng.IntN(len(xs))] }

// capitalize upper-cases the first letter of every word, for titles.
func capitalize(s string) string {
	words := strings.Fields(s)
	for i, w := range words {
		words[i] = strings.ToUpper(w[:1]) + w[1:]
	}
	return strings.Join(words, " ")
}

// templates are the intro sentences. Each reads as English whatever words
// fill it: verbs are third person singular, and every subject is one
// person or thing.
var templates = []string{
	"{name} {verb} a {adj} {noun} in {place}.",
	"When a {adj} {noun} arrives in {place}, {name} has to act {filler}.",
	"In {place}, a {noun} {verb} the {adj} {noun2}.",
	"{name}, a {adj} {role}, {verb} a {noun2} {filler}.",
	"A {adj} story about a {noun} that {verb} a {noun2} {filler}.",
	"Nobody in {place} believes {name} until the {noun} {verb} the {noun2}.",
}

// filler ends a sentence; every genre uses it.
var filler = []string{
	"before it is too late", "against all odds", "for one last time",
	"with the help of an old friend", "while the family watches",
	"to save the town", "during one long summer", "despite a terrible secret",
}

var names = []string{
	"Anna", "Ben", "Carla", "David", "Elena", "Frank", "Grace", "Hector",
	"Iris", "Jack", "Kate", "Leo", "Maria", "Nick", "Olga", "Paul",
	"Rosa", "Sam", "Tina", "Victor",
}

// lighting is a second, genre-independent link between poster and intro:
// the time of day the intro mentions tints the whole poster, so matching
// can do better than guessing within a genre.
type lighting struct {
	sentences []string
	// scale multiplies each channel, then add is added.
	scale, add [3]float64
}

var lightings = []lighting{
	{
		sentences: []string{"It all happens at night.", "The story unfolds over one long night.", "Everything changes after dark."},
		scale:     [3]float64{0.45, 0.5, 0.7}, add: [3]float64{0, 0, 25},
	},
	{
		sentences: []string{"It all happens on a bright sunny day.", "The story unfolds in broad daylight.", "Everything changes one sunny morning."},
		scale:     [3]float64{0.8, 0.8, 0.8}, add: [3]float64{50, 50, 45},
	},
	{
		sentences: []string{"It all happens at dusk.", "The story unfolds at sunset.", "Everything changes as the sun goes down."},
		scale:     [3]float64{0.85, 0.65, 0.5}, add: [3]float64{40, 15, 0},
	},
}

func (l *lighting) apply(img *image.RGBA) {
	for i := 0; i < len(img.Pix); i += 4 {
		for c := range 3 {
			img.Pix[i+c] = clamp(int(float64(img.Pix[i+c])*l.scale[c] + l.add[c]))
		}
	}
}

// genre is one genre's words and look.
type genre struct {
	name                             string
	adjectives, nouns, verbs, places []string
	// roles are what a named hero can be ("Anna, a lonely widow, ...").
	roles []string
	paint func(img *image.RGBA, rng *rand.Rand)
}

var genres = []genre{
	{
		name:       "horror",
		roles:      []string{"priest", "babysitter", "night nurse", "gravedigger"},
		adjectives: []string{"haunted", "bloody", "cursed", "midnight", "deadly", "terrifying"},
		nouns:      []string{"ghost", "demon", "killer", "corpse", "witch", "house", "vampire"},
		verbs:      []string{"haunts", "hunts", "murders", "possesses", "terrorizes"},
		places:     []string{"a haunted house", "the old house at midnight", "a house by the graveyard", "the haunted mansion at midnight"},
		paint:      paintHorror,
	},
	{
		name:       "comedy",
		roles:      []string{"roommate", "uncle", "best man", "substitute teacher"},
		adjectives: []string{"hilarious", "clumsy", "goofy", "zany", "silly", "cheerful"},
		nouns:      []string{"roommate", "wedding", "party", "prank", "dog", "uncle", "road trip"},
		verbs:      []string{"crashes", "bungles", "jokes about", "pranks", "stumbles into"},
		places:     []string{"a suburban home", "a summer camp", "the office", "Las Vegas"},
		paint:      paintComedy,
	},
	{
		name:       "romance",
		roles:      []string{"widow", "florist", "painter", "bookseller"},
		adjectives: []string{"tender", "passionate", "lonely", "charming", "heartbroken", "beautiful"},
		nouns:      []string{"lover", "kiss", "bride", "heart", "romance", "sweetheart"},
		verbs:      []string{"falls in love with", "marries", "kisses", "longs for", "courts"},
		places:     []string{"Paris", "a small bookshop", "Venice", "a seaside village"},
		paint:      paintRomance,
	},
	{
		name:       "scifi",
		roles:      []string{"astronaut", "engineer", "pilot", "android"},
		adjectives: []string{"alien", "robotic", "futuristic", "galactic", "cybernetic", "quantum"},
		nouns:      []string{"spaceship", "android", "planet", "starship", "robot", "time machine"},
		verbs:      []string{"invades", "colonizes", "reprograms", "teleports", "explores"},
		places:     []string{"a distant galaxy", "Mars", "an orbiting station", "the year 3000"},
		paint:      paintSciFi,
	},
	{
		name:       "western",
		roles:      []string{"cowboy", "sheriff", "rancher", "gunslinger"},
		adjectives: []string{"dusty", "outlaw", "lonesome", "rugged", "wild", "desperate"},
		nouns:      []string{"cowboy", "sheriff", "gunslinger", "ranch", "horse", "bandit", "saloon"},
		verbs:      []string{"rides with", "duels", "robs", "rounds up", "chases"},
		places:     []string{"the frontier", "Texas", "a desert town", "the canyon"},
		paint:      paintWestern,
	},
	{
		name:       "ocean",
		roles:      []string{"sailor", "captain", "diver", "pirate"},
		adjectives: []string{"stormy", "sunken", "nautical", "tropical", "deep", "shipwrecked"},
		nouns:      []string{"sailor", "captain", "submarine", "island", "pirate", "whale", "reef"},
		verbs:      []string{"sails", "dives for", "navigates", "shipwrecks", "rescues"},
		places:     []string{"the open sea", "a coral island", "the harbor", "the Pacific"},
		paint:      paintOcean,
	},
}

// draw paints the poster in its style's look, then adds a title band and
// pixel noise common to every genre.
func draw(m movie) *image.RGBA {
	img := image.NewRGBA(image.Rect(0, 0, posterW, posterH))
	m.style.paint(img, m.rng)
	m.light.apply(img)
	// A title band at the top or bottom, in a random light or dark tone.
	y0 := 6 + m.rng.IntN(10)
	if m.rng.IntN(2) == 0 {
		y0 = posterH - 30 - m.rng.IntN(10)
	}
	tone := uint8(m.rng.IntN(2) * 230)
	for y := y0; y < y0+14; y++ {
		for x := 10; x < posterW-10; x++ {
			if (x/4+y/3)%3 != 0 { // text-like texture
				set(img, x, y, color.RGBA{tone, tone, tone, 255})
			}
		}
	}
	for i := 0; i < len(img.Pix); i += 4 {
		d := m.rng.IntN(21) - 10
		for c := range 3 {
			img.Pix[i+c] = clamp(int(img.Pix[i+c]) + d)
		}
	}
	return img
}

func clamp(v int) uint8 { return uint8(min(max(v, 0), 255)) }

func set(img *image.RGBA, x, y int, c color.RGBA) {
	if x < 0 || y < 0 || x >= posterW || y >= posterH {
		return
	}
	i := img.PixOffset(x, y)
	img.Pix[i], img.Pix[i+1], img.Pix[i+2], img.Pix[i+3] = c.R, c.G, c.B, 255
}

// jitter shifts a colour by up to +-d per channel.
func jitter(rng *rand.Rand, c color.RGBA, d int) color.RGBA {
	j := func(v uint8) uint8 { return clamp(int(v) + rng.IntN(2*d+1) - d) }
	return color.RGBA{j(c.R), j(c.G), j(c.B), 255}
}

// gradient fills the poster from top colour a to bottom colour b.
func gradient(img *image.RGBA, a, b color.RGBA) {
	for y := range posterH {
		t := float64(y) / (posterH - 1)
		c := color.RGBA{mix(a.R, b.R, t), mix(a.G, b.G, t), mix(a.B, b.B, t), 255}
		for x := range posterW {
			set(img, x, y, c)
		}
	}
}

func mix(a, b uint8, t float64) uint8 { return uint8(float64(a)*(1-t) + float64(b)*t) }

func circle(img *image.RGBA, cx, cy, r int, c color.RGBA) {
	for y := cy - r; y <= cy+r; y++ {
		for x := cx - r; x <= cx+r; x++ {
			if (x-cx)*(x-cx)+(y-cy)*(y-cy) <= r*r {
				set(img, x, y, c)
			}
		}
	}
}

func rect(img *image.RGBA, x0, y0, x1, y1 int, c color.RGBA) {
	for y := y0; y < y1; y++ {
		for x := x0; x < x1; x++ {
			set(img, x, y, c)
		}
	}
}

// triangle fills the triangle with apex (ax, ay) over base y = by from
// x = bx0 to bx1.
func triangle(img *image.RGBA, ax, ay, bx0, bx1, by int, c color.RGBA) {
	if by == ay {
		return
	}
	step := 1
	if by < ay {
		step = -1
	}
	for y := ay; y != by+step; y += step {
		t := float64(y-ay) / float64(by-ay)
		x0 := int(float64(ax) + t*float64(bx0-ax))
		x1 := int(float64(ax) + t*float64(bx1-ax))
		for x := x0; x <= x1; x++ {
			set(img, x, y, c)
		}
	}
}

func paintHorror(img *image.RGBA, rng *rand.Rand) {
	gradient(img, jitter(rng, color.RGBA{10, 5, 5, 255}, 8), jitter(rng, color.RGBA{90, 5, 10, 255}, 20))
	// Jagged spikes rising from the bottom and hanging from the top.
	for range 6 + rng.IntN(6) {
		x := rng.IntN(posterW)
		w := 6 + rng.IntN(12)
		red := jitter(rng, color.RGBA{150, 0, 10, 255}, 30)
		if rng.IntN(2) == 0 {
			triangle(img, x, posterH-40-rng.IntN(90), x-w, x+w, posterH-1, color.RGBA{0, 0, 0, 255})
		} else {
			triangle(img, x, 30+rng.IntN(60), x-w/2, x+w/2, 0, red)
		}
	}
	// A pale moon or eye.
	circle(img, 20+rng.IntN(80), 30+rng.IntN(60), 5+rng.IntN(6), jitter(rng, color.RGBA{220, 210, 190, 255}, 15))
}

func paintComedy(img *image.RGBA, rng *rand.Rand) {
	gradient(img, jitter(rng, color.RGBA{255, 235, 60, 255}, 15), jitter(rng, color.RGBA{255, 200, 40, 255}, 15))
	palette := []color.RGBA{{255, 80, 60, 255}, {60, 170, 255, 255}, {255, 255, 255, 255}, {90, 220, 90, 255}}
	for range 5 + rng.IntN(8) {
		circle(img, rng.IntN(posterW), rng.IntN(posterH), 6+rng.IntN(16), jitter(rng, palette[rng.IntN(len(palette))], 20))
	}
}

func heart(img *image.RGBA, cx, cy, r int, c color.RGBA) {
	circle(img, cx-r/2, cy, r/2+1, c)
	circle(img, cx+r/2, cy, r/2+1, c)
	triangle(img, cx, cy+r+r/2, cx-r, cx+r, cy+r/4, c)
}

func paintRomance(img *image.RGBA, rng *rand.Rand) {
	gradient(img, jitter(rng, color.RGBA{255, 200, 220, 255}, 12), jitter(rng, color.RGBA{230, 120, 160, 255}, 15))
	for range 3 + rng.IntN(5) {
		heart(img, 15+rng.IntN(posterW-30), 15+rng.IntN(posterH-40), 6+rng.IntN(12), jitter(rng, color.RGBA{220, 30, 80, 255}, 25))
	}
}

func paintSciFi(img *image.RGBA, rng *rand.Rand) {
	gradient(img, jitter(rng, color.RGBA{5, 10, 40, 255}, 8), jitter(rng, color.RGBA{20, 60, 140, 255}, 20))
	line := jitter(rng, color.RGBA{60, 200, 255, 255}, 30)
	step := 10 + rng.IntN(10)
	off := rng.IntN(step)
	for y := posterH / 2; y < posterH; y++ { // a perspective-free floor grid
		for x := range posterW {
			if (x+off)%step == 0 || (y+off)%step == 0 {
				set(img, x, y, line)
			}
		}
	}
	for range 20 + rng.IntN(20) { // stars
		set(img, rng.IntN(posterW), rng.IntN(posterH/2), color.RGBA{255, 255, 255, 255})
	}
	circle(img, rng.IntN(posterW), 20+rng.IntN(50), 8+rng.IntN(14), jitter(rng, color.RGBA{120, 130, 200, 255}, 30))
}

func paintWestern(img *image.RGBA, rng *rand.Rand) {
	horizon := posterH/2 + rng.IntN(posterH/4)
	gradient(img, jitter(rng, color.RGBA{250, 170, 60, 255}, 15), jitter(rng, color.RGBA{230, 110, 30, 255}, 15))
	rect(img, 0, horizon, posterW, posterH, jitter(rng, color.RGBA{120, 70, 30, 255}, 20))
	circle(img, 20+rng.IntN(80), horizon-10-rng.IntN(30), 10+rng.IntN(10), jitter(rng, color.RGBA{255, 230, 120, 255}, 10))
	// Mesas and cacti on the horizon.
	for range 1 + rng.IntN(3) {
		x := rng.IntN(posterW)
		rect(img, x, horizon-10-rng.IntN(25), x+15+rng.IntN(25), horizon, jitter(rng, color.RGBA{140, 60, 25, 255}, 15))
	}
	cx := rng.IntN(posterW)
	rect(img, cx, horizon-25, cx+4, horizon+5, color.RGBA{40, 90, 30, 255})
}

func paintOcean(img *image.RGBA, rng *rand.Rand) {
	gradient(img, jitter(rng, color.RGBA{150, 210, 240, 255}, 15), jitter(rng, color.RGBA{10, 60, 110, 255}, 15))
	phase := rng.Float64() * 2 * math.Pi
	amp := 3 + rng.Float64()*5
	wave := jitter(rng, color.RGBA{20, 150, 140, 255}, 25)
	for band := 0; band < 5; band++ {
		base := posterH/3 + band*posterH/8
		for x := range posterW {
			y := base + int(amp*math.Sin(float64(x)/8+phase+float64(band)))
			for d := range 3 {
				set(img, x, y+d, wave)
			}
		}
	}
	// A sail.
	sx := 20 + rng.IntN(80)
	triangle(img, sx, posterH/3-40, sx, sx+20, posterH/3-5, color.RGBA{245, 245, 235, 255})
}
