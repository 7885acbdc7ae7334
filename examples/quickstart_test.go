package examples_test

import (
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	"github.com/drover-cm/drover/integration"
)

// TestQuickstart runs the README's first command as a user would (the
// script behind `make quickstart`, with a freshly built drover): as root it
// pushes examples/web to three fleet hosts over SSH, and the last apply must
// change nothing anywhere.
func TestQuickstart(t *testing.T) {
	if testing.Short() {
		t.Skip("builds drover and starts a fleet")
	}
	integration.SkipIfUnavailable(t, false)
	bin := filepath.Join(t.TempDir(), "drover")
	if out, err := exec.Command("go", "build", "-o", bin, "../cmd/drover").CombinedOutput(); err != nil {
		t.Fatalf("go build: %v\n%s", err, out)
	}
	cmd := exec.Command("sh", "examples/quickstart.sh")
	cmd.Dir = ".."
	cmd.Env = append(os.Environ(), "DROVER="+bin, "NO_COLOR=1")
	out, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("quickstart.sh: %v\n%s", err, out)
	}
	s := string(out)
	if !strings.Contains(s, "hosts up") {
		t.Errorf("the quickstart did not bring up SSH hosts as root:\n%s", s)
	}
	i := strings.LastIndex(s, "==> drover apply again")
	if i < 0 {
		t.Fatalf("no second apply in the output:\n%s", s)
	}
	last := s[i:]
	rows := regexp.MustCompile(`(?m)^host\d+\s+ok\s+ok=\d+ changed=0 failed=0`).FindAllString(last, -1)
	if len(rows) != 3 || !strings.Contains(last, "3 hosts in") {
		t.Errorf("the second apply should leave 3 hosts with 0 changed:\n%s", last)
	}
}
