package golden

import (
	"os"
	"path/filepath"
	"testing"
)

func TestCheck(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "sub", "out.txt")
	*update = true
	Check(t, path, "hello\n")
	*update = false
	if b, err := os.ReadFile(path); err != nil || string(b) != "hello\n" {
		t.Fatalf("after -update: %q %v", b, err)
	}
	Check(t, path, []byte("hello\n")) // equal: passes
	if matches, _ := filepath.Glob(filepath.Join(dir, "sub", ".golden-*")); len(matches) != 0 {
		t.Errorf("temporary files left: %v", matches)
	}
}
