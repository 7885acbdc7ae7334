// Package transporttest holds test helpers for code that writes files on a
// host through drover's scripts.
package transporttest

import (
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
)

// fakeSync is a `sync` first in PATH that logs each operand (with the
// content of a file, or of the file named by FAKE_SYNC_WATCH in a
// directory) before running the real one.
const fakeSync = `#!/bin/sh
for a; do
	[ "$a" = -- ] && continue
	if [ -d "$a" ]; then printf 'dir %s %s\n' "$a" "$(cat "$a/$FAKE_SYNC_WATCH" 2>/dev/null)"; else printf 'file %s %s\n' "$a" "$(cat "$a")"; fi
done >> "$FAKE_SYNC_LOG"
exec REAL "$@"
`

// FakeSync installs fakeSync and returns its log.
func FakeSync(t testing.TB, watch string) string {
	t.Helper()
	real, err := exec.LookPath("sync")
	if err != nil {
		t.Skip("no sync command")
	}
	dir := t.TempDir()
	if err := os.WriteFile(filepath.Join(dir, "sync"), []byte(strings.Replace(fakeSync, "REAL", real, 1)), 0o755); err != nil {
		t.Fatal(err)
	}
	t.Setenv("PATH", dir+":"+os.Getenv("PATH"))
	t.Setenv("FAKE_SYNC_LOG", filepath.Join(dir, "log"))
	t.Setenv("FAKE_SYNC_WATCH", watch)
	return filepath.Join(dir, "log")
}

// CheckSyncOrder checks a fakeSync log for one durable write of content to
// p: the temporary file synced with all of it (so before the rename), then
// p's directory with p holding it (after).
func CheckSyncOrder(t testing.TB, log []byte, p, content string) {
	t.Helper()
	lines := strings.Split(strings.TrimSpace(string(log)), "\n")
	tmpPrefix := "file " + filepath.Dir(p) + "/." + filepath.Base(p) + ".drover-"
	if len(lines) != 2 || !strings.HasPrefix(lines[0], tmpPrefix) || !strings.HasSuffix(lines[0], " "+content) ||
		lines[1] != "dir "+filepath.Dir(p)+" "+content {
		t.Fatalf("sync calls:\n%s\nwant the temporary file with %q, then %s", log, content, filepath.Dir(p))
	}
}
