package bound

import (
	"errors"
	"math"
	"testing"

	"github.com/google/go-cmp/cmp"
)

func TestCheck(t *testing.T) {
	unit := Float{Min: 0, Max: 1, OpenMax: true}
	positive := Float{Min: 0, Max: 10, OpenMin: true}
	tests := []struct {
		name string
		err  error
		want string // "" for ok
	}{
		{"int in", Int{1, 10}.Check(1), ""},
		{"int max", Int{1, 10}.Check(10), ""},
		{"int below", Int{1, 10}.Check(0), "must be in [1, 10], got 0"},
		{"int above", Int{1, 10}.Check(11), "must be in [1, 10], got 11"},
		{"int open top", Int{Min: 2, Max: math.MaxInt}.Check(1), "must be at least 2, got 1"},
		{"int64 any", AnyInt64.Check(math.MinInt64), ""},
		{"int64 above", Int64{0, 5}.Check(6), "must be in [0, 5], got 6"},
		{"float in", unit.Check(0), ""},
		{"float open max", unit.Check(1), "must be in [0, 1), got 1"},
		{"float open min", positive.Check(0), "must be in (0, 10], got 0"},
		{"float closed max", positive.Check(10), ""},
		{"float tiny", positive.Check(1e-300), ""},
		{"float negative", unit.Check(-0.5), "must be in [0, 1), got -0.5"},
		{"float nan", unit.Check(math.NaN()), "must be a finite number in [0, 1), got NaN"},
		{"float inf", positive.Check(math.Inf(1)), "must be a finite number in (0, 10], got +Inf"},
		{"float -inf", positive.Check(math.Inf(-1)), "must be a finite number in (0, 10], got -Inf"},
		{"float huge", positive.Check(1e300), "must be in (0, 10], got 1e+300"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := ""
			if tt.err != nil {
				got = tt.err.Error()
				if !errors.Is(tt.err, ErrOutOfRange) {
					t.Errorf("error %q does not wrap ErrOutOfRange", got)
				}
			}
			if diff := cmp.Diff(tt.want, got); diff != "" {
				t.Errorf("(-want +got)\n%s", diff)
			}
		})
	}
}

func TestString(t *testing.T) {
	got := []string{
		Int{0, 8}.String(),
		Int{Min: math.MinInt, Max: math.MaxInt}.String(),
		AnyInt64.String(),
		Int64{Min: 1, Max: math.MaxInt64}.String(),
		Float{Min: 0.001, Max: 10}.String(),
	}
	want := []string{"in [0, 8]", "a whole number", "a whole number", "at least 1", "in [0.001, 10]"}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("(-want +got)\n%s", diff)
	}
}
