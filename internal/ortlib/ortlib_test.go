package ortlib

import (
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func fakeEnv(vars map[string]string, files ...string) Env {
	set := map[string]bool{}
	for _, f := range files {
		set[f] = true
	}
	return Env{
		Getenv: func(k string) string { return vars[k] },
		IsFile: func(p string) bool { return set[p] },
		Home:   "/home/u",
	}
}

func TestFind(t *testing.T) {
	cache := "/home/u/.cache/reelmatch/onnxruntime/" + Version + "/libonnxruntime.so.1"
	tests := []struct {
		name    string
		env     Env
		want    string
		wantErr string // substring; empty means success
	}{
		{"ORT_LIB wins", fakeEnv(map[string]string{"ORT_LIB": "/opt/ort.so"}, "/opt/ort.so", cache), "/opt/ort.so", ""},
		{"ORT_LIB missing is reported", fakeEnv(map[string]string{"ORT_LIB": "/nope.so"}, cache), "", `ORT_LIB="/nope.so" is not a file`},
		{"project cache", fakeEnv(nil, cache, "/usr/lib/libonnxruntime.so.1"), cache, ""},
		{"XDG_CACHE_HOME", fakeEnv(map[string]string{"XDG_CACHE_HOME": "/xdg"}, "/xdg/reelmatch/onnxruntime/"+Version+"/libonnxruntime.so.1"), "/xdg/reelmatch/onnxruntime/" + Version + "/libonnxruntime.so.1", ""},
		{"LD_LIBRARY_PATH before system", fakeEnv(map[string]string{"LD_LIBRARY_PATH": ":/ld:"}, "/ld/libonnxruntime.so", "/usr/lib/libonnxruntime.so.1"), "/ld/libonnxruntime.so", ""},
		{"versioned name first", fakeEnv(nil, "/usr/local/lib/libonnxruntime.so", "/usr/local/lib/libonnxruntime.so.1"), "/usr/local/lib/libonnxruntime.so.1", ""},
		{"system folder", fakeEnv(nil, "/usr/lib/libonnxruntime.so"), "/usr/lib/libonnxruntime.so", ""},
		{"nothing", fakeEnv(nil), "", "looked in " + cache},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := tt.env.Find()
			if tt.wantErr == "" {
				if err != nil || got != tt.want {
					t.Fatalf("Find() = %q, %v; want %q", got, err, tt.want)
				}
				return
			}
			if err == nil {
				t.Fatalf("Find() = %q, want an error containing %q", got, tt.wantErr)
			}
			msg := err.Error()
			for _, want := range []string{tt.wantErr, "make setup", "scripts/setup.sh", "ORT_LIB"} {
				if !strings.Contains(msg, want) {
					t.Errorf("error %q lacks %q", msg, want)
				}
			}
			if strings.Contains(msg, "\n") {
				t.Errorf("error spans lines: %q", msg)
			}
			if !errors.Is(err, ErrNotFound) {
				t.Errorf("error does not wrap ErrNotFound: %v", err)
			}
		})
	}
}

func TestOSEnvIsFile(t *testing.T) {
	dir := t.TempDir()
	f := filepath.Join(dir, "libonnxruntime.so.1")
	if err := os.WriteFile(f, []byte("x"), 0o644); err != nil {
		t.Fatal(err)
	}
	e := OSEnv()
	if !e.IsFile(f) {
		t.Errorf("IsFile(%q) = false for a file", f)
	}
	if e.IsFile(dir) {
		t.Errorf("IsFile(%q) = true for a folder", dir)
	}
	t.Setenv("ORT_LIB", f)
	if got, err := Find(); err != nil || got != f {
		t.Errorf("Find() with ORT_LIB = %q, %v; want %q", got, err, f)
	}
}
