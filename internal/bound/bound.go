package bound

import (
	"errors"
	"fmt"
	"math"
	"strconv"
)

// ErrOutOfRange matches every Check error (errors.Is).
var ErrOutOfRange = errors.New("out of range")

// rangeError is a Check failure; its message states the range and the
// value, with no prefix, so callers can put the setting's name first.
type rangeError struct{ msg string }

func (e *rangeError) Error() string        { return e.msg }
func (e *rangeError) Is(target error) bool { return target == ErrOutOfRange }

func outOf(format string, args ...any) error { return &rangeError{fmt.Sprintf(format, args...)} }

// Int is an inclusive range [Min, Max] of whole numbers.
type Int struct{ Min, Max int }

// Check returns nil when v is in r, otherwise an error that states the
// range: "must be in [1, 10000], got 0".
func (r Int) Check(v int) error {
	if v < r.Min || v > r.Max {
		return outOf("must be %s, got %d", r, v)
	}
	return nil
}

// String describes r for messages and help texts.
func (r Int) String() string {
	switch {
	case r.Min == math.MinInt && r.Max == math.MaxInt:
		return "a whole number"
	case r.Max == math.MaxInt:
		return fmt.Sprintf("at least %d", r.Min)
	}
	return fmt.Sprintf("in [%d, %d]", r.Min, r.Max)
}

// Int64 is an inclusive range [Min, Max] of 64-bit whole numbers.
type Int64 struct{ Min, Max int64 }

// AnyInt64 accepts every int64 (seeds).
var AnyInt64 = Int64{Min: math.MinInt64, Max: math.MaxInt64}

// Check returns nil when v is in r.
func (r Int64) Check(v int64) error {
	if v < r.Min || v > r.Max {
		return outOf("must be %s, got %d", r, v)
	}
	return nil
}

// String describes r.
func (r Int64) String() string {
	switch {
	case r == AnyInt64:
		return "a whole number"
	case r.Max == math.MaxInt64:
		return fmt.Sprintf("at least %d", r.Min)
	}
	return fmt.Sprintf("in [%d, %d]", r.Min, r.Max)
}

// Float is a range of finite numbers from Min to Max. OpenMin and OpenMax
// exclude the ends: Float{Min: 0, Max: 1, OpenMax: true} is [0, 1).
type Float struct {
	Min, Max         float64
	OpenMin, OpenMax bool
}

// Check returns nil when v is finite and in r; NaN and ±Inf are always
// refused.
func (r Float) Check(v float64) error {
	if math.IsNaN(v) || math.IsInf(v, 0) {
		return outOf("must be a finite number %s, got %v", r, v)
	}
	below := v < r.Min || (r.OpenMin && v == r.Min)
	above := v > r.Max || (r.OpenMax && v == r.Max)
	if below || above {
		return outOf("must be %s, got %s", r, format(v))
	}
	return nil
}

// String describes r in interval notation: "in (0, 10]".
func (r Float) String() string {
	lo, hi := "[", "]"
	if r.OpenMin {
		lo = "("
	}
	if r.OpenMax {
		hi = ")"
	}
	return "in " + lo + format(r.Min) + ", " + format(r.Max) + hi
}

func format(v float64) string { return strconv.FormatFloat(v, 'g', -1, 64) }
