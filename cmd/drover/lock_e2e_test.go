package main

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/drover-cm/drover/integration"
)

// lockPlaybook writes three files with its own content, with a slow step
// between the first and the others.
func lockPlaybook(t *testing.T, name string, sleep int) string {
	t.Helper()
	var b strings.Builder
	fmt.Fprintf(&b, "play \"p\" {\n  hosts = \"fleet\"\n")
	fmt.Fprintf(&b, "  file \"f1\" {\n    path = \"/srv/lock-f1\"\n    content = \"%s\\n\"\n  }\n", name)
	fmt.Fprintf(&b, "  command \"slow\" {\n    run = [\"sleep\", \"%d\"]\n  }\n", sleep)
	for _, f := range []string{"f2", "f3"} {
		fmt.Fprintf(&b, "  file %q {\n    path = \"/srv/lock-%s\"\n    content = \"%s\\n\"\n  }\n", f, f, name)
	}
	b.WriteString("}\n")
	return writeFile(t, t.TempDir(), name+".hcl", b.String())
}

// startApply starts an apply in the background.
func startApply(t *testing.T, args ...string) *exec.Cmd {
	t.Helper()
	cmd := exec.Command(droverBin(t), append([]string{"apply"}, args...)...)
	cmd.Env = append(os.Environ(), "NO_COLOR=1", "HOME="+t.TempDir(), "SSH_AUTH_SOCK=")
	var out strings.Builder
	cmd.Stdout, cmd.Stderr = &out, &out
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	return cmd
}

// Two applies of conflicting playbooks to the same 5 hosts: the second,
// started while the first holds the hosts' locks, applies nothing and names
// the holder; every host ends in the first's complete state. A lock left
// by a killed controller is released with its connection.
func TestCLIFleetRunLock(t *testing.T) {
	f := integration.Start(t, 5)
	var inv strings.Builder
	fmt.Fprintf(&inv, "defaults {\n  user = \"root\"\n  identity_file = %q\n}\n", f.KeyFile)
	for _, h := range f.Hosts {
		fmt.Fprintf(&inv, "host %q {\n  address = %q\n  port = %d\n  groups = [\"fleet\"]\n}\n", h.Name, h.Addr, h.Port)
	}
	invFile := writeFile(t, t.TempDir(), "fleet.hcl", inv.String())
	common := []string{"-i", invFile, "--known-hosts", f.KnownHostsFile}
	a, b := lockPlaybook(t, "alpha", 4), lockPlaybook(t, "beta", 0)
	state := func(h *integration.Host) string {
		return h.Exec(t, "cat /srv/lock-f1 /srv/lock-f2 /srv/lock-f3 2>/dev/null | tr '\\n' ' '")
	}

	first := startApply(t, append(common, a)...)
	time.Sleep(2 * time.Second) // first holds the locks, in its slow step
	start := time.Now()
	r := drover(t, "", append([]string{"apply", "--lock-timeout", "1s"}, append(common, b)...)...)
	if waited := time.Since(start); waited > 8*time.Second {
		t.Errorf("second apply took %v", waited)
	}
	if r.code != 1 || !strings.Contains(r.stdout, "5 locked") {
		t.Errorf("second apply: exit %d\n%s\n%s", r.code, r.stdout, r.stderr)
	}
	abs, _ := filepath.Abs(a)
	if !strings.Contains(r.stdout, "locked by ") || !strings.Contains(r.stdout, "playbook "+abs) {
		t.Errorf("second apply does not name the holder:\n%s", r.stdout)
	}
	if !strings.Contains(r.stderr, ": waiting up to 1s for the run lock, held by ") {
		t.Errorf("second apply waited without saying so:\n%s", r.stderr)
	}
	if err := first.Wait(); err != nil {
		t.Fatalf("first apply: %v\n%s", err, first.Stdout)
	}
	for _, h := range f.Hosts {
		if got := state(h); got != "alpha alpha alpha " {
			t.Errorf("%s after both: %q, want alpha's complete state", h.Name, got)
		}
	}

	// The first has finished: the second now applies everywhere.
	r = drover(t, "", append([]string{"apply"}, append(common, b)...)...)
	if r.code != 0 {
		t.Fatalf("beta after alpha: exit %d\n%s\n%s", r.code, r.stdout, r.stderr)
	}
	for _, h := range f.Hosts {
		if got := state(h); got != "beta beta beta " {
			t.Errorf("%s: %q, want beta's complete state", h.Name, got)
		}
	}

	// A controller killed while it holds the locks: its connections die,
	// and the next run locks at once.
	killed := startApply(t, append(common, lockPlaybook(t, "gamma", 60))...)
	time.Sleep(2 * time.Second)
	_ = killed.Process.Kill()
	_ = killed.Wait()
	r = drover(t, "", append([]string{"apply", "--lock-timeout", "10s"}, append(common, a)...)...)
	if r.code != 0 {
		t.Fatalf("apply after a killed controller: exit %d\n%s\n%s", r.code, r.stdout, r.stderr)
	}
	for _, h := range f.Hosts {
		if got := state(h); got != "alpha alpha alpha " {
			t.Errorf("%s after the killed run: %q", h.Name, got)
		}
	}
}
