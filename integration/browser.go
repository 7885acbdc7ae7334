package integration

import (
	"bytes"
	"context"
	"os"
	"os/exec"
	"testing"
	"time"
)

// Chromium is the path of the Debian package's browser, for tests that open
// a report in a real browser. Without one the test skips, unless the fleet
// is required (DROVER_REQUIRE_FLEET=1: CI installs it), when it fails.
func Chromium(t testing.TB) string {
	t.Helper()
	for _, name := range []string{"chromium", "chromium-browser", "google-chrome"} {
		if p, err := exec.LookPath(name); err == nil {
			return p
		}
	}
	if os.Getenv("DROVER_REQUIRE_FLEET") == "1" {
		t.Fatal("chromium is not installed (Debian package chromium); DROVER_REQUIRE_FLEET=1 requires it")
	}
	t.Skip("chromium is not installed (apt-get install chromium)")
	return ""
}

// Headless runs the browser bin headless with a fresh profile, no network
// chatter and args (--dump-dom URL, --screenshot=FILE URL), and returns its
// stdout.
func Headless(t testing.TB, bin string, args ...string) []byte {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 90*time.Second)
	defer cancel()
	base := []string{"--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
		"--disable-component-update", "--disable-sync", "--no-first-run", "--user-data-dir=" + t.TempDir()}
	cmd := exec.CommandContext(ctx, bin, append(base, args...)...)
	var out, errb bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &errb
	if err := cmd.Run(); err != nil {
		t.Fatalf("chromium: %v\n%s", err, errb.String())
	}
	return out.Bytes()
}
