package main

// Numeric flags. Every int and float flag of every command is registered
// through intFlag, int64Flag, floatFlag, intsFlag or floatsFlag with its allowed range
// (a bound.Int or bound.Float: declared by the package that owns the
// setting, like heads.EpochsRange, or below for the flags only cmd knows).
// pflag calls Set while it parses the command line, so NaN, ±Inf, a
// negative or an absurd value is a usage error (exit 2) before any work
// starts, naming the flag and the range:
//
//	reelmatch: invalid argument "nan" for "--lr" flag: must be a finite number in (0, 1], got NaN
//
// The range is appended to the flag's help text. envDefault gives a flag
// its default from a REELMATCH_* variable through the same Set; a bad value
// there is a usage error when a command runs without the flag (a flag beats
// the environment). TestNumericFlagsHaveRanges fails for a numeric flag
// registered any other way, and TestNumericFlagsRefuseBadValues tries NaN,
// ±Inf and both ends of every range.

import (
	"fmt"
	"math"
	"strconv"
	"strings"

	"github.com/spf13/cobra"
	"github.com/spf13/pflag"

	"github.com/reelmatch/reelmatch/internal/bound"
)

// Ranges of the flags that no library package owns (docs/cli.md lists
// every range).
var (
	// kRange bounds search -k: the results are printed one a line.
	kRange = bound.Int{Min: 1, Max: 10_000}
	// embedBatchRange bounds embed --batch and run --embed-batch: a batch of
	// 32 posters already takes about 1.4 GiB in ResNet-50 (README).
	embedBatchRange = bound.Int{Min: 1, Max: 256}
	// workersRange bounds prepare --workers (0: one per CPU).
	workersRange = bound.Int{Min: 0, Max: 256}
	// demoMoviesRange bounds demo --movies: a split of ten needs a few
	// movies per side, and 100,000 synthetic posters take minutes to draw.
	demoMoviesRange = bound.Int{Min: 10, Max: 100_000}
	// calibrationImagesRange bounds models quantize --calibration-images.
	calibrationImagesRange = bound.Int{Min: 1, Max: 4096}
	// reportExamplesRange and heatmapSizeRange keep the HTML report small.
	reportExamplesRange = bound.Int{Min: 0, Max: 50}
	heatmapSizeRange    = bound.Int{Min: 0, Max: 200}
)

// checkFlag turns a range check of an option set without parsing flags
// (tests, run, demo) into a usage error naming the flag.
func checkFlag(name string, err error) error {
	if err != nil {
		return usagef("--%s %v", name, err)
	}
	return nil
}

// rangedValue is a pflag.Value that checks a range in Set.
type rangedValue interface {
	pflag.Value
	// Range describes the allowed values, as bound's String does.
	Range() string
}

// intFlag registers an int flag that refuses values outside r.
func intFlag(f *pflag.FlagSet, p *int, name string, def int, r bound.Int, usage string) *pflag.Flag {
	*p = def
	return addRanged(f, &intValue{p: p, r: r}, name, "", usage)
}

// intFlagP is intFlag with a one-letter shorthand.
func intFlagP(f *pflag.FlagSet, p *int, name, short string, def int, r bound.Int, usage string) *pflag.Flag {
	*p = def
	return addRanged(f, &intValue{p: p, r: r}, name, short, usage)
}

// int64Flag registers an int64 flag that refuses values outside r
// (bound.AnyInt64 for seeds).
func int64Flag(f *pflag.FlagSet, p *int64, name string, def int64, r bound.Int64, usage string) *pflag.Flag {
	*p = def
	return addRanged(f, &int64Value{p: p, r: r}, name, "", usage)
}

// floatFlag registers a float64 flag that refuses NaN, ±Inf and values
// outside r.
func floatFlag(f *pflag.FlagSet, p *float64, name string, def float64, r bound.Float, usage string) *pflag.Flag {
	*p = def
	return addRanged(f, &floatValue{p: p, r: r}, name, "", usage)
}

// intsFlag registers a comma-separated list of ints, each in elem, with a
// length in count. Like pflag's IntSlice, the first use replaces the
// default and later uses append.
func intsFlag(f *pflag.FlagSet, p *[]int, name string, def []int, elem, count bound.Int, usage string) *pflag.Flag {
	*p = append([]int(nil), def...)
	return addRanged(f, &intsValue{p: p, elem: elem, count: count}, name, "", usage)
}

// floatsFlag registers a comma-separated float list flag whose values must
// each be in elem and whose length in count, with intsFlag's semantics.
func floatsFlag(f *pflag.FlagSet, p *[]float64, name string, def []float64, elem bound.Float, count bound.Int, usage string) *pflag.Flag {
	*p = append([]float64(nil), def...)
	return addRanged(f, &floatsValue{p: p, elem: elem, count: count}, name, "", usage)
}

func addRanged(f *pflag.FlagSet, v rangedValue, name, short, usage string) *pflag.Flag {
	if r := v.Range(); !strings.HasPrefix(r, "a whole number") {
		usage += ", " + r
	}
	return f.VarPF(v, name, short, usage)
}

// wholeNumber phrases a range description as "a whole number in [1, 5]".
func wholeNumber(rangeDesc string) string {
	if strings.HasPrefix(rangeDesc, "a whole number") {
		return rangeDesc
	}
	return "a whole number " + rangeDesc
}

type intValue struct {
	p *int
	r bound.Int
}

func (v *intValue) Set(s string) error {
	n, err := strconv.ParseInt(strings.TrimSpace(s), 10, strconv.IntSize)
	if err != nil {
		return fmt.Errorf("must be %s", wholeNumber(v.r.String()))
	}
	if err := v.r.Check(int(n)); err != nil {
		return err
	}
	*v.p = int(n)
	return nil
}
func (v *intValue) String() string { return strconv.Itoa(*v.p) }
func (v *intValue) Type() string   { return "int" }
func (v *intValue) Range() string  { return v.r.String() }

type int64Value struct {
	p *int64
	r bound.Int64
}

func (v *int64Value) Set(s string) error {
	n, err := strconv.ParseInt(strings.TrimSpace(s), 10, 64)
	if err != nil {
		return fmt.Errorf("must be %s", wholeNumber(v.r.String()))
	}
	if err := v.r.Check(n); err != nil {
		return err
	}
	*v.p = n
	return nil
}
func (v *int64Value) String() string { return strconv.FormatInt(*v.p, 10) }
func (v *int64Value) Type() string   { return "int" }
func (v *int64Value) Range() string  { return v.r.String() }

type floatValue struct {
	p *float64
	r bound.Float
}

func (v *floatValue) Set(s string) error {
	x, err := strconv.ParseFloat(strings.TrimSpace(s), 64)
	if err != nil && !math.IsInf(x, 0) { // an overflow parses to ±Inf, which Check names
		return fmt.Errorf("must be a number %s", v.r)
	}
	if err := v.r.Check(x); err != nil {
		return err
	}
	*v.p = x
	return nil
}
func (v *floatValue) String() string { return strconv.FormatFloat(*v.p, 'g', -1, 64) }
func (v *floatValue) Type() string   { return "float" }
func (v *floatValue) Range() string  { return v.r.String() }

type intsValue struct {
	p           *[]int
	elem, count bound.Int
	changed     bool
}

func (v *intsValue) Set(s string) error {
	var list []int
	if s = strings.TrimSpace(s); s != "" {
		for _, part := range strings.Split(s, ",") {
			n, err := strconv.ParseInt(strings.TrimSpace(part), 10, strconv.IntSize)
			if err != nil {
				return fmt.Errorf("%q: each value must be %s", part, wholeNumber(v.elem.String()))
			}
			if err := v.elem.Check(int(n)); err != nil {
				return fmt.Errorf("each value %w", err)
			}
			list = append(list, int(n))
		}
	}
	if v.changed {
		list = append(append([]int(nil), *v.p...), list...)
	}
	if err := v.count.Check(len(list)); err != nil {
		return fmt.Errorf("the number of values %w", err)
	}
	*v.p, v.changed = list, true
	return nil
}

type floatsValue struct {
	p       *[]float64
	elem    bound.Float
	count   bound.Int
	changed bool
}

func (v *floatsValue) Set(s string) error {
	var list []float64
	if s = strings.TrimSpace(s); s != "" {
		for _, part := range strings.Split(s, ",") {
			x, err := strconv.ParseFloat(strings.TrimSpace(part), 64)
			if err != nil && !math.IsInf(x, 0) {
				return fmt.Errorf("%q: each value must be a number %s", part, v.elem)
			}
			if err := v.elem.Check(x); err != nil {
				return fmt.Errorf("each value %w", err)
			}
			list = append(list, x)
		}
	}
	if v.changed {
		list = append(append([]float64(nil), *v.p...), list...)
	}
	if err := v.count.Check(len(list)); err != nil {
		return fmt.Errorf("the number of values %w", err)
	}
	*v.p, v.changed = list, true
	return nil
}

func (v *floatsValue) String() string {
	parts := make([]string, len(*v.p))
	for i, x := range *v.p {
		parts[i] = strconv.FormatFloat(x, 'g', -1, 64)
	}
	return "[" + strings.Join(parts, ",") + "]"
}
func (v *floatsValue) Type() string { return "floats" }
func (v *floatsValue) Range() string {
	return fmt.Sprintf("%d to %d values, each %s", v.count.Min, v.count.Max, v.elem)
}

func (v *intsValue) String() string {
	parts := make([]string, len(*v.p))
	for i, n := range *v.p {
		parts[i] = strconv.Itoa(n)
	}
	return "[" + strings.Join(parts, ",") + "]"
}
func (v *intsValue) Type() string { return "ints" }
func (v *intsValue) Range() string {
	return fmt.Sprintf("%d to %d values, each %s", v.count.Min, v.count.Max, v.elem)
}

// envErrorKey is the flag annotation holding a bad environment default.
const envErrorKey = "reelmatch-env-error"

// envDefault sets fl's default from the environment variable env when it
// is set and not empty, through the flag's own Set (so numeric defaults
// get the flag's range check; booleans also take yes/no/on/off). A value
// the flag refuses is kept as an annotation and reported by checkEnvDefaults
// when a command runs without the flag.
func envDefault(fl *pflag.Flag, env string) {
	fl.Usage += " (env " + env + ")"
	s, ok := lookupEnv(env)
	if !ok {
		return
	}
	if fl.Value.Type() == "bool" {
		switch strings.ToLower(s) {
		case "yes", "on":
			s = "true"
		case "no", "off":
			s = "false"
		}
	}
	if err := fl.Value.Set(s); err != nil {
		msg := fmt.Sprintf("environment variable %s=%q is not a valid --%s: %v", env, s, fl.Name, err)
		if fl.Value.Type() == "bool" {
			msg = fmt.Sprintf("environment variable %s=%q is not a valid --%s: use 1, true, yes, 0, false or no", env, s, fl.Name)
		}
		if fl.Annotations == nil {
			fl.Annotations = map[string][]string{}
		}
		fl.Annotations[envErrorKey] = []string{msg}
		return
	}
	fl.DefValue = fl.Value.String()
}

// lookupEnv returns a non-empty environment variable.
func lookupEnv(name string) (string, bool) {
	v := envOr(name, "")
	return v, v != ""
}

// checkEnvDefaults returns a usage error for the first flag of cmd whose
// environment default was refused and that the command line did not set.
func checkEnvDefaults(cmd *cobra.Command) error {
	var err error
	cmd.Flags().VisitAll(func(fl *pflag.Flag) {
		if msg := fl.Annotations[envErrorKey]; err == nil && len(msg) > 0 && !fl.Changed {
			err = usagef("%s", msg[0])
		}
	})
	return err
}
