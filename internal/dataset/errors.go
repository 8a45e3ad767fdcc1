package dataset

import (
	"errors"
	"fmt"
	"strings"

	"github.com/reelmatch/reelmatch/internal/inputfile"
)

// DataError is a problem with the dataset as a whole: it names the file (and
// the line when there is one) and says how to fix it. Prepare stops on it.
type DataError struct {
	File string // path as the user gave it (data folder joined with the name)
	Line int    // 1-based; 0 when the problem is not on one line
	Msg  string // what is wrong, lower case
	Fix  string // the next step, lower case
}

func (e *DataError) Error() string {
	var b strings.Builder
	b.WriteString(e.File)
	if e.Line > 0 {
		fmt.Fprintf(&b, ":%d", e.Line)
	}
	b.WriteString(": ")
	b.WriteString(e.Msg)
	if e.Fix != "" {
		b.WriteString(" (")
		b.WriteString(e.Fix)
		b.WriteString(")")
	}
	return b.String()
}

// Reason says why a movie (or a train.txt id) was left out.
type Reason string

// Reasons for dropping, as keys of Report.Dropped and of prepare --json.
const (
	// NoPoster: no poster/<id>.{jpg,jpeg,png,webp} file.
	NoPoster Reason = "no_poster"
	// UndecodablePoster: the poster file is empty, corrupt, truncated or in
	// an unsupported format.
	UndecodablePoster Reason = "undecodable_poster"
	// NotRegularFile: the poster path names (after symlinks) a folder,
	// named pipe, device or socket; it is never read.
	NotRegularFile Reason = "not_regular_file"
	// TooLarge: the poster file is over the image file cap, or its header
	// declares more pixels than the pixel budget (see
	// imageprep.MaxPixels); it is refused before its pixels are decoded.
	TooLarge Reason = "too_large"
	// ExtremeAspect: one side of the poster is more than
	// imageprep.MaxAspect times the other.
	ExtremeAspect Reason = "extreme_aspect_ratio"
	// EmptyIntro: the intro is empty or only whitespace.
	EmptyIntro Reason = "empty_intro"
	// DuplicateID: a row repeating an earlier row exactly (same id, name and
	// intro); the first is kept. Rows sharing an id with different content
	// are a DataError instead.
	DuplicateID Reason = "duplicate_id"
	// TrainIDNotKept: an id listed in train.txt with no row in info.csv.
	// (A listed id whose row was dropped is reported under that row's own
	// reason only.)
	TrainIDNotKept Reason = "train_id_not_kept"
)

// Reasons lists every Reason in the order reports print them.
var Reasons = []Reason{NoPoster, UndecodablePoster, NotRegularFile, TooLarge, ExtremeAspect, EmptyIntro, DuplicateID, TrainIDNotKept}

// fileError turns an input file refused by inputfile's rule (not a regular
// file, over its cap) into a DataError naming the file; other errors come
// back unchanged.
func fileError(path string, err error) error {
	var ie *inputfile.Error
	if errors.As(err, &ie) {
		return &DataError{File: path, Msg: ie.Detail}
	}
	return err
}
