package ort

import (
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/reelmatch/reelmatch/internal/encoder"
	"github.com/reelmatch/reelmatch/internal/encoder/encodertest"
	"github.com/reelmatch/reelmatch/internal/ortlib"
)

func TestConformance(t *testing.T) {
	encodertest.Run(t, Runtime{})
}

// TestMissingLibrary checks the message a user sees without the library:
// one line, naming the set-up command and ORT_LIB.
func TestMissingLibrary(t *testing.T) {
	missing := t.TempDir() + "/libonnxruntime.so.1"
	t.Setenv("ORT_LIB", missing)
	_, err := libraryPath(ortlib.OSEnv())
	if !errors.Is(err, encoder.ErrBackendUnavailable) {
		t.Fatalf("libraryPath: %v, want an error wrapping ErrBackendUnavailable", err)
	}
	msg := err.Error()
	for _, want := range []string{"make setup", "scripts/setup.sh", "ORT_LIB", missing} {
		if !strings.Contains(msg, want) {
			t.Errorf("error %q lacks %q", msg, want)
		}
	}
	if strings.Contains(msg, "\n") {
		t.Errorf("error spans lines: %q", msg)
	}
}

func TestRegistered(t *testing.T) {
	rt, err := encoder.OpenRuntime(Name)
	if err != nil {
		t.Fatalf("OpenRuntime(%q): %v", Name, err)
	}
	if rt.Name() != Name {
		t.Errorf("OpenRuntime(%q).Name() = %q", Name, rt.Name())
	}
	if LibraryPath() == "" {
		t.Errorf("LibraryPath() is empty after a successful Available")
	}
}

// TestAvailableMissingLibrary runs Available in a child process (the
// environment is initialised once per process) with ORT_LIB pointing at
// nothing, and checks the error it prints.
func TestAvailableMissingLibrary(t *testing.T) {
	if os.Getenv("REELMATCH_ORT_CHILD") == "1" {
		err := Runtime{}.Available()
		fmt.Printf("%v|%v\n", errors.Is(err, encoder.ErrBackendUnavailable), err)
		_, openErr := Runtime{}.Open("x.onnx", encoder.SessionOptions{})
		fmt.Printf("%v\n", errors.Is(openErr, encoder.ErrBackendUnavailable))
		return
	}
	missing := filepath.Join(t.TempDir(), "libonnxruntime.so.1")
	cmd := exec.Command(os.Args[0], "-test.run=^TestAvailableMissingLibrary$")
	cmd.Env = append(os.Environ(), "REELMATCH_ORT_CHILD=1", "ORT_LIB="+missing)
	out, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("child: %v\n%s", err, out)
	}
	lines := strings.Split(string(out), "\n")
	if len(lines) < 2 {
		t.Fatalf("child printed %q", out)
	}
	is, msg, _ := strings.Cut(lines[0], "|")
	t.Logf("child: %s", msg)
	if is != "true" || lines[1] != "true" {
		t.Errorf("Available/Open errors do not wrap ErrBackendUnavailable: %q", out)
	}
	for _, want := range []string{"make setup", "scripts/setup.sh", "ORT_LIB", missing} {
		if !strings.Contains(msg, want) {
			t.Errorf("Available() = %q, lacks %q", msg, want)
		}
	}
}
