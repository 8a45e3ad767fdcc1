package dataset

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/csv"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"runtime"
	"slices"
	"strings"
	"sync"
	"unicode/utf8"

	"golang.org/x/text/encoding/charmap"

	"github.com/reelmatch/reelmatch/internal/imageprep"
	"github.com/reelmatch/reelmatch/internal/inputfile"
	"github.com/reelmatch/reelmatch/internal/progress"
	"github.com/reelmatch/reelmatch/internal/reel"
	"github.com/reelmatch/reelmatch/internal/textprep"
)

// File and folder names inside the data folder.
const (
	InfoFile  = "info.csv"
	PosterDir = "poster"
	TrainFile = "train.txt"
	colID     = "id"
	colName   = "name"
	colIntro  = "intro"
	utf8BOM   = "\ufeff"
)

// PosterExts are the accepted poster extensions (case-insensitive), in the
// order one is picked when an id has several files.
var PosterExts = []string{".jpg", ".jpeg", ".png", ".webp"}

// Options tune Prepare. The zero value is ready to use.
type Options struct {
	// TrainFile is the list of training ids; "" means DATA/train.txt.
	TrainFile string
	// Pipeline cleans intros; nil means textprep.Default().
	Pipeline *textprep.Pipeline
	// Workers decode posters in parallel; 0 means runtime.NumCPU().
	Workers int
	// Warnf receives each warning as it is found (a dropped movie, a
	// converted file); nil discards them. They are also in Report.Warnings.
	// Called from one goroutine at a time.
	Warnf func(format string, args ...any)
	// NewBar starts a progress bar over the posters to check; nil draws none.
	NewBar func(total int) progress.Bar
	// Previous is the manifest of an earlier run, or nil. A poster whose
	// absolute path and SHA-256 match its entry there is known to decode,
	// so only its bytes are hashed, which makes a rerun on unchanged data
	// cheap. Decoding is deterministic, so this changes no result.
	Previous *Manifest
}

// Report says what Prepare kept and dropped.
type Report struct {
	Movies int // kept movies
	Train  int
	Test   int
	// Dropped maps each reason to the ids it dropped, sorted with CompareIDs.
	// Reasons with no id are absent.
	Dropped map[Reason][]reel.MovieID
	// IgnoredPosters are poster files whose id has no row in info.csv,
	// sorted by name.
	IgnoredPosters []string
	// Latin1 is true when info.csv was not UTF-8 and was read as
	// Windows-1252 (the superset of Latin-1 that such files use).
	Latin1   bool
	Warnings []string
	// Leaks are the test movies whose intro or poster also appears in the
	// training split (FindLeaks); each is also a warning. They are kept.
	Leaks []Leak
}

// DroppedCount is the number of dropped entries over all reasons.
func (r *Report) DroppedCount() int {
	n := 0
	for _, ids := range r.Dropped {
		n += len(ids)
	}
	return n
}

// row is one record of info.csv.
type row struct {
	line  int
	id    reel.MovieID
	name  string
	intro string
}

// Prepare reads dataDir (info.csv, poster/, train.txt), checks every poster
// and intro, and returns the manifest of kept movies with a report of the
// rest. It returns a *DataError for problems with the input as a whole.
func Prepare(ctx context.Context, dataDir string, opts Options) (*Manifest, *Report, error) {
	rep := &Report{Dropped: map[Reason][]reel.MovieID{}}
	warn := func(format string, args ...any) {
		msg := fmt.Sprintf(format, args...)
		rep.Warnings = append(rep.Warnings, msg)
		if opts.Warnf != nil {
			opts.Warnf("%s", msg)
		}
	}
	pipe := opts.Pipeline
	if pipe == nil {
		pipe = textprep.Default()
	}
	absDir, err := filepath.Abs(dataDir)
	if err != nil {
		return nil, nil, fmt.Errorf("data folder %q: %w", dataDir, err)
	}
	if st, err := os.Stat(dataDir); err != nil || !st.IsDir() {
		return nil, nil, &DataError{File: dataDir, Msg: "data folder not found", Fix: "pass --data DIR, a folder holding info.csv, poster/ and train.txt"}
	}

	infoPath := filepath.Join(dataDir, InfoFile)
	rows, latin1, err := readInfo(ctx, infoPath, warn)
	if err != nil {
		return nil, nil, err
	}
	if latin1 {
		rep.Latin1 = true
		warn("%s is not UTF-8: read it as Latin-1 (Windows-1252) and converted the text to UTF-8", infoPath)
	}

	// Duplicate ids: identical rows are dropped, different ones are fatal.
	first := map[reel.MovieID]row{}
	var uniq []row
	for _, r := range rows {
		if prev, ok := first[r.id]; ok {
			if prev.name != r.name || prev.intro != r.intro {
				return nil, nil, &DataError{File: infoPath, Line: r.line,
					Msg: fmt.Sprintf("id %s already used on line %d with a different name or intro", r.id, prev.line),
					Fix: "keep one row per id"}
			}
			rep.Dropped[DuplicateID] = append(rep.Dropped[DuplicateID], r.id)
			warn("%s:%d: id %s repeats line %d exactly; kept line %d", infoPath, r.line, r.id, prev.line, prev.line)
			continue
		}
		first[r.id] = r
		uniq = append(uniq, r)
	}

	posterDir := filepath.Join(dataDir, PosterDir)
	posters, ignored, err := listPosters(posterDir, first, warn)
	if err != nil {
		return nil, nil, err
	}
	rep.IgnoredPosters = ignored

	trainPath := opts.TrainFile
	if trainPath == "" {
		trainPath = filepath.Join(dataDir, TrainFile)
	}
	train, err := readTrain(ctx, trainPath, first, rep, warn)
	if err != nil {
		return nil, nil, err
	}

	// Rows worth decoding a poster for.
	var todo []row
	for _, r := range uniq {
		switch {
		case strings.TrimSpace(r.intro) == "":
			rep.Dropped[EmptyIntro] = append(rep.Dropped[EmptyIntro], r.id)
			warn("%s:%d: id %s has an empty intro; dropped", infoPath, r.line, r.id)
		case posters[r.id] == "":
			rep.Dropped[NoPoster] = append(rep.Dropped[NoPoster], r.id)
			warn("%s:%d: id %s has no poster (%s/%s.jpg); dropped", infoPath, r.line, r.id, posterDir, r.id)
		default:
			todo = append(todo, r)
		}
	}

	checked, err := checkPosters(ctx, todo, posters, pipe, opts)
	if err != nil {
		return nil, nil, err
	}
	man := &Manifest{Version: ManifestVersion, DataDir: absDir, TextPrep: pipe.Fingerprint(), PosterRule: imageprep.Rule()}
	for i, r := range todo {
		c := checked[i]
		if c.err != nil {
			rep.Dropped[c.reason] = append(rep.Dropped[c.reason], r.id)
			warn("poster %v; dropped movie %s (%s)", c.err, r.id, c.reason)
			continue
		}
		split := reel.SplitTest
		if train[r.id] {
			split = reel.SplitTrain
			rep.Train++
		} else {
			rep.Test++
		}
		introSum := sha256.Sum256([]byte(r.intro))
		man.Movies = append(man.Movies, reel.Movie{
			ID: r.id, Name: r.name, Intro: r.intro, CleanIntro: c.clean,
			PosterPath: c.abs, Split: split, PosterHash: c.hash,
			IntroHash: hex.EncodeToString(introSum[:]),
		})
	}
	for reason, ids := range rep.Dropped {
		slices.SortFunc(ids, CompareIDs)
		rep.Dropped[reason] = ids
	}
	if len(man.Movies) == 0 {
		return nil, rep, &DataError{File: infoPath, Msg: "no movie kept (" + dropSummary(rep) + ")",
			Fix: "each movie needs a non-empty intro and a decodable poster/<id>.jpg"}
	}
	sortMovies(man.Movies)
	if err := man.check(); err != nil {
		return nil, nil, fmt.Errorf("build manifest: %w", err) // ids were deduplicated above
	}
	rep.Movies = len(man.Movies)
	switch {
	case rep.Train == 0:
		warn("%s names none of the kept movies: every movie is a test movie", trainPath)
	case rep.Test == 0:
		warn("%s lists every kept movie: the test split is empty", trainPath)
	}
	rep.Leaks = FindLeaks(man.Movies)
	for _, w := range LeakWarnings(rep.Leaks, man) {
		warn("%s", w)
	}
	return man, rep, nil
}

// dropSummary is "3 no_poster, 1 empty_intro" in a fixed reason order.
func dropSummary(rep *Report) string {
	var parts []string
	for _, r := range Reasons {
		if n := len(rep.Dropped[r]); n > 0 {
			parts = append(parts, fmt.Sprintf("%d %s", n, r))
		}
	}
	if len(parts) == 0 {
		return "info.csv has no rows"
	}
	return strings.Join(parts, ", ")
}

// readInfo parses info.csv. It strips a UTF-8 BOM, converts a non-UTF-8
// file from Windows-1252, and reports CSV errors with their line.
func readInfo(ctx context.Context, path string, warn func(string, ...any)) ([]row, bool, error) {
	data, err := inputfile.ReadFile(ctx, path, inputfile.Table)
	if errors.Is(err, fs.ErrNotExist) {
		return nil, false, &DataError{File: path, Msg: "file not found", Fix: "the data folder needs info.csv with a header holding id,name,intro"}
	}
	if err != nil {
		return nil, false, fileError(path, err)
	}
	if bytes.HasPrefix(data, []byte{0xFF, 0xFE}) || bytes.HasPrefix(data, []byte{0xFE, 0xFF}) {
		return nil, false, &DataError{File: path, Line: 1, Msg: "file is UTF-16", Fix: "save it as UTF-8"}
	}
	data = bytes.TrimPrefix(data, []byte(utf8BOM))
	latin1 := false
	if !utf8.Valid(data) {
		// Windows-1252 decodes every byte, so this cannot fail; it keeps
		// line breaks where they were, so line numbers still match.
		conv, err := charmap.Windows1252.NewDecoder().Bytes(data)
		if err != nil {
			return nil, false, fmt.Errorf("convert %s from latin-1: %w", path, err)
		}
		data, latin1 = conv, true
	}
	if d, ok := oldMacLines(data); ok {
		data = d
		warn(oldMacNotice, path)
	}
	cr := csv.NewReader(bytes.NewReader(data))
	cr.FieldsPerRecord = -1 // checked below, to word the error
	header, err := cr.Read()
	if err != nil {
		if errors.Is(err, io.EOF) {
			return nil, latin1, &DataError{File: path, Msg: "file is empty", Fix: "add a header line id,name,intro and one row per movie"}
		}
		return nil, latin1, csvError(path, err)
	}
	col := map[string]int{}
	for i, h := range header {
		h = strings.ToLower(strings.TrimSpace(h))
		if _, dup := col[h]; dup && h != "" {
			return nil, latin1, &DataError{File: path, Line: 1, Msg: fmt.Sprintf("column %q appears twice in the header", h), Fix: "rename or remove one of them"}
		}
		col[h] = i
	}
	for _, need := range []string{colID, colName, colIntro} {
		if _, ok := col[need]; !ok {
			return nil, latin1, &DataError{File: path, Line: 1,
				Msg: fmt.Sprintf("missing column %q; the header has %s", need, strings.Join(header, ",")),
				Fix: "the header needs id, name and intro columns, in any order"}
		}
	}
	idc, namec, introc := col[colID], col[colName], col[colIntro]
	var rows []row
	for {
		rec, err := cr.Read()
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			return nil, latin1, csvError(path, err)
		}
		line, _ := cr.FieldPos(0)
		if len(rec) != len(header) {
			return nil, latin1, &DataError{File: path, Line: line,
				Msg: fmt.Sprintf("row has %d fields, the header has %d", len(rec), len(header)),
				Fix: `put fields holding commas or line breaks in double quotes`}
		}
		id := strings.TrimSpace(rec[idc])
		if id == "" {
			return nil, latin1, &DataError{File: path, Line: line, Msg: "empty id", Fix: "give the row an id or delete it"}
		}
		if strings.ContainsAny(id, `/\`) || id == "." || id == ".." {
			return nil, latin1, &DataError{File: path, Line: line, Msg: fmt.Sprintf("id %q contains a path separator", id), Fix: "ids name poster files, so use letters, digits, '-' or '_'"}
		}
		rows = append(rows, row{line: line, id: reel.MovieID(id), name: strings.TrimSpace(rec[namec]), intro: rec[introc]})
	}
	return rows, latin1, nil
}

// csvError turns an encoding/csv error into a DataError with its line.
func csvError(path string, err error) error {
	var pe *csv.ParseError
	if !errors.As(err, &pe) {
		return fmt.Errorf("read %s: %w", path, err)
	}
	fix := "check the quoting of this row"
	switch {
	case errors.Is(pe.Err, csv.ErrBareQuote):
		fix = `a double quote inside a field must be written "" and the field quoted`
	case errors.Is(pe.Err, csv.ErrQuote):
		fix = "a quoted field is not closed, or text follows its closing quote"
	}
	line := pe.StartLine
	if line == 0 {
		line = pe.Line
	}
	msg := pe.Err.Error()
	if pe.Line != pe.StartLine && pe.StartLine != 0 {
		msg += fmt.Sprintf(" (the row starts on line %d, the problem is on line %d)", pe.StartLine, pe.Line)
	}
	return &DataError{File: path, Line: line, Msg: msg, Fix: fix}
}

// listPosters maps ids to poster files. Files named by ids without a row
// are returned as ignored; other files are skipped.
func listPosters(dir string, rows map[reel.MovieID]row, warn func(string, ...any)) (map[reel.MovieID]string, []string, error) {
	entries, err := os.ReadDir(dir)
	if errors.Is(err, fs.ErrNotExist) {
		return nil, nil, &DataError{File: dir, Msg: "poster folder not found", Fix: "put one poster per movie in poster/<id>.jpg, .jpeg, .png or .webp inside the data folder"}
	}
	if err != nil {
		return nil, nil, fmt.Errorf("list posters: %w", err)
	}
	posters := map[reel.MovieID]string{}
	rank := map[reel.MovieID]int{}
	var ignored []string
	for _, e := range entries {
		if e.IsDir() {
			continue
		}
		name := e.Name()
		ext := strings.ToLower(filepath.Ext(name))
		r := slices.Index(PosterExts, ext)
		if r < 0 {
			continue
		}
		id := reel.MovieID(strings.TrimSuffix(name, filepath.Ext(name)))
		if _, ok := rows[id]; !ok {
			ignored = append(ignored, name)
			continue
		}
		if prev, ok := posters[id]; ok {
			keep, other := prev, filepath.Join(dir, name)
			if r < rank[id] {
				keep, other = other, prev
				posters[id], rank[id] = keep, r
			}
			warn("id %s has several posters: using %s, ignoring %s", id, keep, other)
			continue
		}
		posters[id], rank[id] = filepath.Join(dir, name), r
	}
	slices.Sort(ignored)
	return posters, ignored, nil
}

// readTrain reads the training ids: one per line, '#' starts a comment.
// Ids with no row in info.csv are reported as TrainIDNotKept.
func readTrain(ctx context.Context, path string, rows map[reel.MovieID]row, rep *Report, warn func(string, ...any)) (map[reel.MovieID]bool, error) {
	data, err := inputfile.ReadFile(ctx, path, inputfile.Table)
	if errors.Is(err, fs.ErrNotExist) {
		return nil, &DataError{File: path, Msg: "file not found", Fix: "list the training ids one per line; every other kept movie becomes a test movie"}
	}
	if err != nil {
		return nil, fileError(path, err)
	}
	data = bytes.TrimPrefix(data, []byte(utf8BOM))
	if d, ok := oldMacLines(data); ok {
		data = d
		warn(oldMacNotice, path)
	}
	train := map[reel.MovieID]bool{}
	seen := map[reel.MovieID]int{}
	for i, line := range strings.Split(string(data), "\n") {
		if c := strings.IndexByte(line, '#'); c >= 0 {
			line = line[:c]
		}
		line = strings.TrimSpace(line)
		if line == "" {
			continue
		}
		if strings.ContainsAny(line, " \t,;") {
			return nil, &DataError{File: path, Line: i + 1, Msg: fmt.Sprintf("%q is not one id", line), Fix: "write one id per line"}
		}
		id := reel.MovieID(line)
		if prev, dup := seen[id]; dup {
			warn("%s:%d: id %s already listed on line %d", path, i+1, id, prev)
			continue
		}
		seen[id] = i + 1
		if _, ok := rows[id]; !ok {
			rep.Dropped[TrainIDNotKept] = append(rep.Dropped[TrainIDNotKept], id)
			warn("%s:%d: id %s has no row in info.csv; ignored", path, i+1, id)
			continue
		}
		train[id] = true
	}
	return train, nil
}

// checked is the outcome of checking one poster.
type checked struct {
	abs    string // absolute poster path
	hash   string // hex SHA-256 of the file bytes
	clean  string // cleaned intro
	err    error  // why the poster is unusable, naming the file
	reason Reason // the drop reason, when err is set
}

// checkPosters reads, hashes and checks each row's poster against the
// poster rule (imageprep.Check: a full decode under the process's decode
// memory budget), and cleans its intro, on opts.Workers goroutines.
// Results line up with rows.
func checkPosters(ctx context.Context, rows []row, posters map[reel.MovieID]string, pipe *textprep.Pipeline, opts Options) ([]checked, error) {
	out := make([]checked, len(rows))
	workers := opts.Workers
	if workers <= 0 {
		workers = runtime.NumCPU()
	}
	var bar progress.Bar = nopBar{}
	if opts.NewBar != nil {
		bar = opts.NewBar(len(rows))
	}
	defer bar.Finish()
	// Posters an earlier run checked under the same rule are known to pass.
	known := map[string]string{} // absolute poster path -> SHA-256 known to pass
	if opts.Previous != nil && opts.Previous.PosterRule == imageprep.Rule() {
		for _, mv := range opts.Previous.Movies {
			known[mv.PosterPath] = mv.PosterHash
		}
	}
	jobs := make(chan int)
	var wg sync.WaitGroup
	for range workers {
		wg.Go(func() {
			for i := range jobs {
				out[i] = checkOne(ctx, posters[rows[i].id], known)
				out[i].clean = pipe.Clean(rows[i].intro)
				bar.Add(1)
			}
		})
	}
feed:
	for i := range rows {
		select {
		case jobs <- i:
		case <-ctx.Done():
			break feed
		}
	}
	close(jobs)
	wg.Wait()
	// select picks at random when both cases are ready, so check again:
	// a cancelled run never returns a partial result.
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	return out, nil
}

// checkOne reads a poster as an input file of kind inputfile.Image (a
// regular file within the cap), hashes it and checks it with
// imageprep.Check, the rule embed applies too. A poster listed in known
// with the same hash passed under the same rule in an earlier run and is
// not decoded again.
func checkOne(ctx context.Context, path string, known map[string]string) checked {
	abs, err := filepath.Abs(path)
	if err != nil {
		return checked{err: err, reason: UndecodablePoster}
	}
	data, err := inputfile.ReadFile(ctx, path, inputfile.Image)
	if err != nil {
		return checked{err: err, reason: dropReason(err)} // err names the file
	}
	sum := sha256.Sum256(data)
	c := checked{abs: abs, hash: hex.EncodeToString(sum[:])}
	if h, ok := known[abs]; ok && h == c.hash {
		return c
	}
	if len(data) == 0 {
		c.err, c.reason = fmt.Errorf("%s: empty file", path), UndecodablePoster
		return c
	}
	if err := imageprep.Check(ctx, data); err != nil {
		c.err, c.reason = fmt.Errorf("%s: %w", path, err), dropReason(err)
	}
	return c
}

// dropReason maps why a poster failed to its Reason.
func dropReason(err error) Reason {
	switch {
	case errors.Is(err, inputfile.ErrNotRegular):
		return NotRegularFile
	case errors.Is(err, inputfile.ErrTooLarge), errors.Is(err, imageprep.ErrTooLarge):
		return TooLarge
	case errors.Is(err, imageprep.ErrExtremeAspect):
		return ExtremeAspect
	}
	return UndecodablePoster
}

type nopBar struct{}

func (nopBar) Add(int) {}
func (nopBar) Finish() {}
