package dataset

import "bytes"

// oldMacLines turns the line ends of a file written with classic Mac OS
// line breaks (a lone CR, as Excel's "CSV (Macintosh)" still writes) into
// LF, so its lines are lines and not one long first line; it reports
// whether it did. A file holding any LF is left alone: CRLF files already
// read well, and a CR inside one of their fields is data.
func oldMacLines(data []byte) ([]byte, bool) {
	if !bytes.Contains(data, []byte{'\r'}) || bytes.Contains(data, []byte{'\n'}) {
		return data, false
	}
	return bytes.ReplaceAll(data, []byte{'\r'}, []byte{'\n'}), true
}

// oldMacNotice is the warning for a file oldMacLines converted.
const oldMacNotice = "%s has old Mac line ends (CR only): read each CR as a line break"
