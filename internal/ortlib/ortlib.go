package ortlib

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
)

// Version is the ONNX Runtime release reelmatch is built and tested against:
// github.com/yalue/onnxruntime_go v1.27.0 speaks its C API (ORT_API_VERSION
// 24), and scripts/setup.sh installs exactly this release.
const Version = "1.24.1"

// EnvVar names the environment variable that points at the library file and
// overrides every other location.
const EnvVar = "ORT_LIB"

// libNames are the file names tried in system folders, versioned first as
// the dynamic loader would.
var libNames = []string{"libonnxruntime.so.1", "libonnxruntime.so"}

// systemDirs are searched after ORT_LIB and the project cache. The
// multiarch folders are where Debian and Ubuntu packages put libraries.
var systemDirs = []string{
	"/usr/local/lib",
	"/usr/lib",
	"/usr/lib/x86_64-linux-gnu",
	"/usr/lib/aarch64-linux-gnu",
	"/lib/x86_64-linux-gnu",
	"/lib/aarch64-linux-gnu",
}

// ErrNotFound is wrapped by Find when no library file exists.
var ErrNotFound = errors.New("ONNX Runtime library not found")

// Env is what Find consults; tests replace it, real callers use OSEnv.
type Env struct {
	Getenv func(key string) string
	// IsFile reports whether path names an existing regular file (or a
	// symlink to one).
	IsFile func(path string) bool
	// Home is the user's home folder, used when XDG_CACHE_HOME is unset.
	Home string
}

// OSEnv is the process environment and file system.
func OSEnv() Env {
	home, _ := os.UserHomeDir()
	return Env{
		Getenv: os.Getenv,
		IsFile: func(p string) bool {
			st, err := os.Stat(p)
			return err == nil && st.Mode().IsRegular()
		},
		Home: home,
	}
}

// CachePath is where scripts/setup.sh installs the library:
// ${XDG_CACHE_HOME:-~/.cache}/reelmatch/onnxruntime/<Version>/libonnxruntime.so.1.
// It is empty when neither XDG_CACHE_HOME nor a home folder is known.
func (e Env) CachePath() string {
	base := e.Getenv("XDG_CACHE_HOME")
	if base == "" {
		if e.Home == "" {
			return ""
		}
		base = filepath.Join(e.Home, ".cache")
	}
	return filepath.Join(base, "reelmatch", "onnxruntime", Version, "libonnxruntime.so.1")
}

// Find returns the library path from the process environment; see Env.Find.
func Find() (string, error) { return OSEnv().Find() }

// Find returns the first library file in this order: the file ORT_LIB names
// (when set, it must exist: a wrong ORT_LIB is reported, not silently
// skipped), the project cache (CachePath), then libonnxruntime.so.1 and
// libonnxruntime.so in LD_LIBRARY_PATH folders and the usual system
// folders. The error, wrapping ErrNotFound, is one line saying how to
// install the library.
func (e Env) Find() (string, error) {
	if p := e.Getenv(EnvVar); p != "" {
		if e.IsFile(p) {
			return p, nil
		}
		return "", fmt.Errorf("%w: %s=%q is not a file; run `make setup` (scripts/setup.sh) to install ONNX Runtime %s, or point %s at libonnxruntime.so.1",
			ErrNotFound, EnvVar, p, Version, EnvVar)
	}
	var tried []string
	if p := e.CachePath(); p != "" {
		if e.IsFile(p) {
			return p, nil
		}
		tried = append(tried, p)
	}
	var dirs []string
	for _, d := range strings.Split(e.Getenv("LD_LIBRARY_PATH"), ":") {
		if d != "" {
			dirs = append(dirs, d)
		}
	}
	dirs = append(dirs, systemDirs...)
	for _, d := range dirs {
		for _, n := range libNames {
			if p := filepath.Join(d, n); e.IsFile(p) {
				return p, nil
			}
		}
	}
	tried = append(tried, "LD_LIBRARY_PATH", "/usr/lib", "/usr/local/lib")
	return "", fmt.Errorf("%w (looked in %s); run `make setup` (scripts/setup.sh) to install ONNX Runtime %s, or set %s to the path of libonnxruntime.so.1",
		ErrNotFound, strings.Join(tried, ", "), Version, EnvVar)
}
