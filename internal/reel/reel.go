package reel

// MovieID is a movie's id as written in info.csv (MovieLens ids are
// integers, but ids are kept as text so that any catalogue works).
type MovieID string

// Split says which part of the data a movie belongs to.
type Split string

const (
	// SplitTrain marks movies listed in train.txt.
	SplitTrain Split = "train"
	// SplitTest marks every kept movie not listed in train.txt (held out).
	SplitTest Split = "test"
)

// Modality names one side of a poster/intro pair.
type Modality string

const (
	// Poster is the image side.
	Poster Modality = "poster"
	// Intro is the text side.
	Intro Modality = "intro"
)

// Movie is one kept row of the dataset manifest.
type Movie struct {
	ID         MovieID `json:"id"`
	Name       string  `json:"name"`
	Intro      string  `json:"intro"`       // raw intro as in info.csv
	CleanIntro string  `json:"clean_intro"` // the seed's preprocessing (textprep)
	PosterPath string  `json:"poster"`      // absolute path of the poster file
	Split      Split   `json:"split"`
	PosterHash string  `json:"poster_sha256"` // hex SHA-256 of the poster file bytes
	IntroHash  string  `json:"intro_sha256"`  // hex SHA-256 of the raw intro (UTF-8)
}

// Vector is one embedding, float32 as stored in caches and checkpoints.
type Vector []float32

// Hit is one search result: a movie and its distance (1 - cosine similarity)
// to the query, smaller is nearer.
type Hit struct {
	ID       MovieID `json:"id"`
	Distance float32 `json:"distance"`
}
