package embed

import (
	"fmt"
	"sync"

	"github.com/reelmatch/reelmatch/internal/reel"
	"github.com/reelmatch/reelmatch/internal/textprep"
)

// Text-input settings: which intro the text tower sees.
const (
	// TextRaw is the intro as written in info.csv.
	TextRaw = "raw"
	// TextClean is the intro after the seed's cleaning (textprep.Default).
	TextClean = "clean"
)

// fallbackTextInput is used for encoders that state no default. The seed
// fed cleaned intros to its text model.
const fallbackTextInput = TextClean

// TextInputDefaulter is an optional ability of an encoder: the text input
// it works best with when the user does not choose one. The pretrained
// encoders' defaults are decided by measurement.
type TextInputDefaulter interface {
	DefaultTextInput() string
}

// ResolveTextInput returns the text-input setting to use: requested when
// set, else the encoder's default, else "clean". enc may be nil.
func ResolveTextInput(enc any, requested string) (string, error) {
	switch requested {
	case TextRaw, TextClean:
		return requested, nil
	case "":
	default:
		return "", fmt.Errorf("text input %q: want %q or %q", requested, TextRaw, TextClean)
	}
	if d, ok := enc.(TextInputDefaulter); ok {
		if v := d.DefaultTextInput(); v == TextRaw || v == TextClean {
			return v, nil
		}
	}
	return fallbackTextInput, nil
}

// MovieText picks the text the text tower encodes for a movie: its raw
// intro, or its cleaned intro from the manifest (cleaned here when the
// manifest lacks it).
func MovieText(m reel.Movie, textInput string) string {
	if textInput == TextRaw {
		return m.Intro
	}
	if m.CleanIntro == "" && m.Intro != "" {
		return cleaner().Clean(m.Intro)
	}
	return m.CleanIntro
}

// QueryText prepares free text (a search query) the way embed prepared
// intros under the same setting, so query and cache vectors compare.
func QueryText(text, textInput string) string {
	if textInput == TextRaw {
		return text
	}
	return cleaner().Clean(text)
}

// cleaner builds the default cleaning chain once; it loads the lemma data.
var cleaner = sync.OnceValue(textprep.Default)
