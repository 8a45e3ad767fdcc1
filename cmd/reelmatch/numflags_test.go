package main

import (
	"bytes"
	"fmt"
	"math"
	"os"
	"strconv"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
	"github.com/spf13/cobra"
	"github.com/spf13/pflag"

	"github.com/reelmatch/reelmatch/internal/bound"
)

// commandFlag is one flag of one command, with the command line that
// reaches the command.
type commandFlag struct {
	path []string // e.g. ["models", "quantize"]
	flag *pflag.Flag
}

// allFlags lists every flag of every command, persistent ones under the
// root only.
func allFlags(t *testing.T) []commandFlag {
	t.Helper()
	root := newRootCommand(&globalOptions{stdout: &bytes.Buffer{}, stderr: &bytes.Buffer{}})
	var out []commandFlag
	var walk func(c *cobra.Command, path []string)
	walk = func(c *cobra.Command, path []string) {
		seen := map[string]bool{}
		for _, fs := range []*pflag.FlagSet{c.LocalNonPersistentFlags(), c.PersistentFlags()} {
			fs.VisitAll(func(fl *pflag.Flag) {
				if !seen[fl.Name] {
					seen[fl.Name] = true
					out = append(out, commandFlag{append([]string(nil), path...), fl})
				}
			})
		}
		for _, sub := range c.Commands() {
			walk(sub, append(path, sub.Name()))
		}
	}
	walk(root, nil)
	return out
}

// TestNumericFlagsHaveRanges fails for a number flag registered without
// intFlag, int64Flag, floatFlag or intsFlag (see numflags.go): every
// number a user types gets a range check and a documented range.
func TestNumericFlagsHaveRanges(t *testing.T) {
	numeric := 0
	for _, cf := range allFlags(t) {
		typ := cf.flag.Value.Type()
		if typ == "bool" || typ == "string" || typ == "count" || strings.HasPrefix(typ, "string") {
			continue
		}
		numeric++
		name := strings.Join(append(cf.path, "--"+cf.flag.Name), " ")
		rv, ok := cf.flag.Value.(rangedValue)
		if !ok {
			t.Errorf("%s is a %s flag without a range: register it with intFlag/floatFlag/intsFlag (numflags.go)", name, typ)
			continue
		}
		if r := rv.Range(); !strings.HasPrefix(r, "a whole number") && !strings.Contains(cf.flag.Usage, r) {
			t.Errorf("%s: help %q does not state the range %q", name, cf.flag.Usage, r)
		}
	}
	if numeric < 20 {
		t.Errorf("found only %d numeric flags: the command walk is broken", numeric)
	}
}

// badValues returns values outside v's range (and ones that are not
// numbers), each with a fragment the error must contain.
func badValues(v rangedValue) map[string]string {
	out := map[string]string{"abc": "must be"}
	switch v := v.(type) {
	case *intValue:
		out["1.5"] = "whole number"
		if v.r.Min > math.MinInt {
			out[strconv.Itoa(v.r.Min-1)] = v.r.String()
		}
		if v.r.Max < math.MaxInt {
			out[strconv.Itoa(v.r.Max+1)] = v.r.String()
		}
		out["99999999999999999999"] = "whole number"
	case *int64Value:
		out["1e3"] = "whole number"
		out["99999999999999999999"] = "whole number"
		if v.r.Min > math.MinInt64 {
			out[strconv.FormatInt(v.r.Min-1, 10)] = v.r.String()
		}
	case *floatValue:
		for _, s := range []string{"nan", "NaN", "inf", "-Inf", "+inf", "1e400"} {
			out[s] = "finite number " + v.r.String()
		}
		lo, hi := v.r.Min, v.r.Max
		if !v.r.OpenMin {
			lo = math.Nextafter(lo, math.Inf(-1))
		}
		if !v.r.OpenMax {
			hi = math.Nextafter(hi, math.Inf(1))
		}
		out[strconv.FormatFloat(lo, 'g', -1, 64)] = v.r.String()
		out[strconv.FormatFloat(hi, 'g', -1, 64)] = v.r.String()
		out["-1e300"] = v.r.String()
		out["1e300"] = v.r.String()
	case *floatsValue:
		ok := strconv.FormatFloat((v.elem.Min+v.elem.Max)/2, 'g', -1, 64)
		out[ok+",nan"] = "finite number " + v.elem.String()
		out[ok+",x"] = "must be a number"
		out["-1e300"] = v.elem.String()
		out["1e300"] = v.elem.String()
		out[strings.Repeat("0.5,", v.count.Max)+"0.5"] = v.count.String()
	case *intsValue:
		ok := strconv.Itoa(v.elem.Min) // a valid value, so the list's other faults are what is refused
		out[ok+",nan"] = "whole number"
		out[strconv.Itoa(v.elem.Min-1)] = v.elem.String()
		out[strconv.Itoa(v.elem.Max+1)] = v.elem.String()
		out["100000000"] = v.elem.String()
		out[strings.Repeat(ok+",", v.count.Max)+ok] = v.count.String()
	}
	return out
}

// TestNumericFlagsRefuseBadValues gives every numeric flag of every command
// NaN, ±Inf, non-numbers and the values just outside its range: each is a
// usage error (exit 2) naming the flag and the range, and nothing is
// written.
func TestNumericFlagsRefuseBadValues(t *testing.T) {
	t.Chdir(t.TempDir())
	cases := 0
	for _, cf := range allFlags(t) {
		rv, ok := cf.flag.Value.(rangedValue)
		if !ok {
			continue
		}
		for value, fragment := range badValues(rv) {
			args := append(append([]string(nil), cf.path...), "--"+cf.flag.Name+"="+value)
			name := strings.Join(args, " ")
			cases++
			t.Run(name, func(t *testing.T) {
				_, stderr, code := runCLI(t, args...)
				if code != exitUsage {
					t.Fatalf("exit %d, want %d; stderr %q", code, exitUsage, stderr)
				}
				for _, want := range []string{"--" + cf.flag.Name + `"`, fragment} {
					if !strings.Contains(stderr, want) {
						t.Errorf("stderr %q lacks %q", stderr, want)
					}
				}
				if n := strings.Count(strings.TrimSpace(stderr), "\n"); n != 0 {
					t.Errorf("stderr has %d lines, want one: %q", n+1, stderr)
				}
			})
		}
	}
	if cases < 100 {
		t.Errorf("only %d cases", cases)
	}
	if entries, err := os.ReadDir("."); err != nil || len(entries) != 0 {
		t.Errorf("bad flags wrote into the working folder: %v %v", entries, err)
	}
}

// TestRangedValuesAcceptEnds checks both ends of each closed range are
// accepted and the value lands in the option.
func TestRangedValuesAcceptEnds(t *testing.T) {
	var n int
	var x float64
	var s []int
	var i64 int64
	tests := []struct {
		v    pflag.Value
		in   string
		want string
	}{
		{&intValue{p: &n, r: bound.Int{Min: 1, Max: 10}}, "1", "1"},
		{&intValue{p: &n, r: bound.Int{Min: 1, Max: 10}}, " 10 ", "10"},
		{&floatValue{p: &x, r: bound.Float{Min: 0, Max: 1, OpenMax: true}}, "0", "0"},
		{&floatValue{p: &x, r: bound.Float{Min: 0, Max: 1, OpenMin: true}}, "1", "1"},
		{&floatValue{p: &x, r: bound.Float{Min: 0, Max: 1}}, "1e-3", "0.001"},
		{&int64Value{p: &i64, r: bound.AnyInt64}, "-9223372036854775808", "-9223372036854775808"},
		{&intsValue{p: &s, elem: bound.Int{Min: 1, Max: 8}, count: bound.Int{Min: 0, Max: 3}}, "", "[]"},
		{&intsValue{p: &s, elem: bound.Int{Min: 1, Max: 8}, count: bound.Int{Min: 0, Max: 3}}, "1, 8,2", "[1,8,2]"},
	}
	for _, tt := range tests {
		if err := tt.v.Set(tt.in); err != nil {
			t.Errorf("Set(%q): %v", tt.in, err)
			continue
		}
		if got := tt.v.String(); got != tt.want {
			t.Errorf("Set(%q): value %s, want %s", tt.in, got, tt.want)
		}
	}
}

// TestIntsFlagReplacesThenAppends matches pflag's IntSlice: the first use
// replaces the default, later uses append, and the count is checked on
// the whole list.
func TestIntsFlagReplacesThenAppends(t *testing.T) {
	f := pflag.NewFlagSet("t", pflag.ContinueOnError)
	var got []int
	intsFlag(f, &got, "hidden", []int{256, 256}, bound.Int{Min: 1, Max: 100}, bound.Int{Min: 0, Max: 3}, "sizes")
	if diff := cmp.Diff([]int{256, 256}, got); diff != "" {
		t.Errorf("default (-want +got)\n%s", diff)
	}
	if err := f.Parse([]string{"--hidden", "4,5", "--hidden", "6"}); err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff([]int{4, 5, 6}, got); diff != "" {
		t.Errorf("(-want +got)\n%s", diff)
	}
	err := f.Parse([]string{"--hidden", "7"})
	if err == nil || !strings.Contains(err.Error(), "the number of values must be in [0, 3], got 4") {
		t.Errorf("fourth value: %v", err)
	}
}

// TestEnvDefaults covers a default taken from the environment: a valid one
// becomes the default, a bad one is a usage error naming the variable
// unless the flag is given, a flag beats the environment.
func TestEnvDefaults(t *testing.T) {
	const env = "REELMATCH_TEST_EPOCHS"
	newCmd := func(got *int) *cobra.Command {
		cmd := &cobra.Command{Use: "x", RunE: func(*cobra.Command, []string) error { return nil }}
		envDefault(intFlag(cmd.Flags(), got, "epochs", 30, bound.Int{Min: 1, Max: 100}, "epochs"), env)
		cmd.PersistentPreRunE = func(c *cobra.Command, _ []string) error { return checkEnvDefaults(c) }
		cmd.SilenceErrors, cmd.SilenceUsage = true, true
		return cmd
	}
	for _, tc := range []struct {
		name, env string
		args      []string
		want      int
		err       string
	}{
		{"unset", "", nil, 30, ""},
		{"valid", "12", nil, 12, ""},
		{"flag beats env", "12", []string{"--epochs", "7"}, 7, ""},
		{"nan", "nan", nil, 30, `environment variable REELMATCH_TEST_EPOCHS="nan" is not a valid --epochs: must be a whole number in [1, 100]`},
		{"out of range", "1000", nil, 30, `REELMATCH_TEST_EPOCHS="1000" is not a valid --epochs: must be in [1, 100], got 1000`},
		{"flag beats bad env", "-5", []string{"--epochs", "7"}, 7, ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Setenv(env, tc.env)
			var got int
			cmd := newCmd(&got)
			cmd.SetArgs(tc.args)
			err := cmd.Execute()
			if tc.err == "" && err != nil || tc.err != "" && (err == nil || !strings.Contains(err.Error(), tc.err)) {
				t.Fatalf("error %v, want %q", err, tc.err)
			}
			if tc.err != "" {
				if _, ok := err.(usageError); !ok {
					t.Errorf("error %T is not a usage error", err)
				}
				return
			}
			if got != tc.want {
				t.Errorf("epochs %d, want %d", got, tc.want)
			}
		})
	}
}

// TestBoolEnvDefaults checks REELMATCH_JSON and REELMATCH_QUIET take the
// usual spellings and refuse others with exit 2.
func TestBoolEnvDefaults(t *testing.T) {
	for _, tc := range []struct {
		value    string
		code     int
		wantJSON bool
	}{
		{"1", exitOK, true}, {"yes", exitOK, true}, {"TRUE", exitOK, true}, {"on", exitOK, true},
		{"0", exitOK, false}, {"no", exitOK, false}, {"false", exitOK, false},
		{"maybe", exitUsage, false}, {"2", exitUsage, false},
	} {
		t.Run(tc.value, func(t *testing.T) {
			t.Setenv("REELMATCH_JSON", tc.value)
			stdout, stderr, code := runCLI(t, "version")
			if code != tc.code {
				t.Fatalf("exit %d, want %d; stderr %q", code, tc.code, stderr)
			}
			if code == exitUsage {
				want := fmt.Sprintf(`REELMATCH_JSON=%q is not a valid --json`, tc.value)
				if !strings.Contains(stderr, want) {
					t.Errorf("stderr %q lacks %q", stderr, want)
				}
				if _, _, code := runCLI(t, "version", "--json=false"); code != exitOK {
					t.Errorf("--json=false did not beat the bad environment value: exit %d", code)
				}
				return
			}
			if isJSON := strings.HasPrefix(stdout, "{"); isJSON != tc.wantJSON {
				t.Errorf("stdout %q: JSON %v, want %v", stdout, isJSON, tc.wantJSON)
			}
		})
	}
}
