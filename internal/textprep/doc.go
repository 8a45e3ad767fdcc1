// Package textprep owns the plot-normalisation chain the seed applied to
// intros before its TF-IDF step: char filters, then a splitter, then token
// filters, each a small single-method type run in a fixed order (the shape of
// bleve's analysis.DefaultAnalyzer). It does no file I/O and keeps no
// vocabulary; callers read stop-word files and feed text in.
//
// Default() is the seed's chain:
//
//  1. NFC: Unicode canonical composition, so "e" + U+0301 and "é" are one word.
//  2. Words: Unicode word segmentation (UAX #29).
//  3. Alnum: keep each segment's runs of letters, marks and digits; segments
//     with none (spaces, punctuation, symbols, emoji) vanish. A hyphen already
//     separates words under UAX #29, and an apostrophe, period or underscore
//     inside a word splits it here, so "self-destructing" gives "self
//     destructing" and "couldn't" gives "couldn t", as the seed's output shows
//     (it tokenised like NLTK's RegexpTokenizer(r"\w+")).
//  4. Lower: Unicode lower case.
//  5. StopWords: NLTK's English stop-word list (179 words; see NLTKEnglish).
//     The seed's own "HW09 STOPWORDS" list is lost; NLTK's list also removes
//     "couldn", "t" and "s", which the seed kept.
//  6. Lemmatize: NLTK's WordNetLemmatizer().lemmatize(word) with its default
//     noun part of speech, reimplemented exactly over embedded WordNet 3.0
//     noun data ("dies" -> "dy", "women" -> "woman", "followed" unchanged).
//
// A Pipeline is safe for concurrent use.
package textprep
