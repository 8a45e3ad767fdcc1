package main

import (
	"io"
	"strings"
	"unicode/utf8"
)

// table lays out text rows in columns two spaces apart, each as wide as
// its widest cell, so that a value wider than usual (an interval reaching
// 100.00%) moves its whole column instead of the cells after it. Columns
// marked in right are aligned right (numbers), the others left. A row may
// have fewer cells than the header.
type table struct {
	right []bool
	rows  [][]string
}

// add appends a row.
func (t *table) add(cells ...string) { t.rows = append(t.rows, cells) }

// write prints the rows, without trailing spaces.
func (t *table) write(w io.Writer) error {
	var widths []int
	for _, r := range t.rows {
		for k, c := range r {
			if k == len(widths) {
				widths = append(widths, 0)
			}
			widths[k] = max(widths[k], utf8.RuneCountInString(c))
		}
	}
	var b strings.Builder
	for _, r := range t.rows {
		var line strings.Builder
		for k, c := range r {
			pad := strings.Repeat(" ", widths[k]-utf8.RuneCountInString(c))
			if k > 0 {
				line.WriteString("  ")
			}
			if k < len(t.right) && t.right[k] {
				line.WriteString(pad + c)
			} else {
				line.WriteString(c + pad)
			}
		}
		b.WriteString(strings.TrimRight(line.String(), " "))
		b.WriteByte('\n')
	}
	_, err := io.WriteString(w, b.String())
	return err
}
