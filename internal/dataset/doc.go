// Package dataset reads and validates a movie dataset folder (info.csv,
// poster/ and train.txt) and produces the manifest of kept movies that every
// later stage reads from WORK/manifest.json.
//
// Prepare keeps a movie when its intro is not blank and its poster fully
// decodes; everything else is dropped with a reason listed in the Report, so
// no row is lost silently. Problems with the input as a whole (a missing
// file, folder or column, a malformed CSV row, two different rows with one
// id, nothing kept) are a *DataError naming the file, the line and the fix.
//
// The package does not look at pixels beyond checking that a poster decodes,
// and it does not tokenize: cleaned intros come from textprep.
package dataset
