// Package golden compares test output with golden files, with one flag for
// every package's tests: `go test ./PKG -update` rewrites the files with what
// the tests got (review the diff before committing).
package golden

import (
	"flag"
	"os"
	"path/filepath"
	"testing"
)

var update = flag.Bool("update", false, "rewrite the golden files with what the tests got (review the diff before committing)")

// Update reports whether -update was given, for tests that regenerate other
// files (documentation, screenshots) the same way.
func Update() bool { return *update }

// Check compares got with the golden file at path; with -update it writes
// got there instead (atomically: a cut run leaves the old file or the new).
func Check[T string | []byte](t testing.TB, path string, got T) {
	t.Helper()
	if *update {
		if err := Write(path, []byte(got)); err != nil {
			t.Fatal(err)
		}
		return
	}
	want, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("%v (run go test -run '%s' -update to create it)", err, t.Name())
	}
	if string(want) != string(got) {
		t.Errorf("%s differs (go test -run '%s' -update rewrites it; review the diff):\n--- want\n%s\n--- got\n%s", path, t.Name(), want, got)
	}
}

// Write writes data to path through a temporary file and a rename.
func Write(path string, data []byte) error {
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		return err
	}
	tmp, err := os.CreateTemp(filepath.Dir(path), ".golden-*")
	if err != nil {
		return err
	}
	defer os.Remove(tmp.Name())
	if _, err := tmp.Write(data); err != nil {
		tmp.Close()
		return err
	}
	if err := tmp.Close(); err != nil {
		return err
	}
	if err := os.Chmod(tmp.Name(), 0o644); err != nil {
		return err
	}
	return os.Rename(tmp.Name(), path)
}
