package workdir

import (
	"errors"
	"path/filepath"
	"testing"
)

func TestCheckRunName(t *testing.T) {
	for _, tc := range []struct {
		name string
		ok   bool
	}{
		{"builtin", true},
		{"builtin.linear", true},
		{"clip-vit-b32.none", true},
		{"seed_protocol-2", true},
		{"", false},
		{".hidden", false},
		{"-flag", false},
		{"a/b", false},
		{"..", false},
		{"a b", false},
		{"é", false},
		{string(make([]byte, 101)), false},
	} {
		err := CheckRunName(tc.name)
		if (err == nil) != tc.ok {
			t.Errorf("CheckRunName(%q) = %v, want ok %v", tc.name, err, tc.ok)
		}
		if err != nil && !errors.Is(err, ErrBadRunName) {
			t.Errorf("CheckRunName(%q) = %v, want ErrBadRunName", tc.name, err)
		}
	}
}

func TestRunPaths(t *testing.T) {
	d := Dir("w")
	if got, want := d.Run(MainRun("builtin")), filepath.Join("w", "runs", "builtin"); got != want {
		t.Errorf("main run folder %q, want %q", got, want)
	}
	if got, want := d.Heads(RunName("builtin", "cca")), filepath.Join("w", "runs", "builtin.cca", "heads.safetensors"); got != want {
		t.Errorf("cca heads %q, want %q", got, want)
	}
	if got, want := d.Tune("builtin"), filepath.Join("w", "tune", "builtin.json"); got != want {
		t.Errorf("tune file %q, want %q", got, want)
	}
}
