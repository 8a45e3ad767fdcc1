package main

import (
	"bytes"
	"testing"

	"github.com/google/go-cmp/cmp"
)

func TestTable(t *testing.T) {
	tb := table{right: []bool{false, false, true}}
	tb.add("direction", "R@10 [95% CI]", "MedR")
	tb.add("poster->intro", "83.33% [58.33%, 100.00%]", "6")
	tb.add("intro->poster", "9.00% [1.00%, 20.00%]", "12")
	tb.add("chance", "16.67%")
	var b bytes.Buffer
	if err := tb.write(&b); err != nil {
		t.Fatal(err)
	}
	want := "" +
		"direction      R@10 [95% CI]             MedR\n" +
		"poster->intro  83.33% [58.33%, 100.00%]     6\n" +
		"intro->poster  9.00% [1.00%, 20.00%]       12\n" +
		"chance         16.67%\n"
	if diff := cmp.Diff(want, b.String()); diff != "" {
		t.Errorf("table (-want +got):\n%s", diff)
	}
	checkColumns(t, b.String())
}
