package main

import (
	"crypto/rand"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/drover-cm/drover/integration"
)

// Issue 19, no debris: the real binary applying a 20 MB copy is killed
// (SIGKILL) mid-upload three times. Each kill leaves at most one drover
// temporary file beside the target (each run first removes its
// predecessors'); the next complete run removes the last one, says so, and
// leaves alone a file named like one but owned by the attacker.
func TestCLIFleetKilledUploadDebris(t *testing.T) {
	f := integration.Start(t, 1)
	h := f.Hosts[0]
	dir := t.TempDir()
	big := make([]byte, 20<<20)
	if _, err := rand.Read(big); err != nil {
		t.Fatal(err)
	}
	src := filepath.Join(dir, "big.bin")
	if err := os.WriteFile(src, big, 0o644); err != nil {
		t.Fatal(err)
	}
	play := writeFile(t, dir, "copy.hcl", "play \"p\" {\n  hosts = \"fleet\"\n  copy \"big\" {\n    source = \"big.bin\"\n    path = \"/srv/debris/big.bin\"\n  }\n}\n")
	inv := writeFile(t, dir, "fleet.hcl", fmt.Sprintf("defaults {\n  user = \"root\"\n  identity_file = %q\n}\nhost %q {\n  address = %q\n  port = %d\n  groups = [\"fleet\"]\n}\n", f.KeyFile, h.Name, h.Addr, h.Port))
	args := []string{"-i", inv, "--known-hosts", f.KnownHostsFile, play}
	h.Exec(t, "mkdir -p /srv/debris && chmod 1777 /srv/debris")
	// The attacker's look-alike: an old run id, in the target's directory.
	h.ExecAs(t, integration.AttackerUser, "echo x > /srv/debris/.big.bin.drover-1000000000-0123456789ab")
	upper := filepath.Join(h.Dir, "upper", "srv", "debris")
	temps := func() []string {
		out := h.Exec(t, "cd /srv/debris && for f in .big.bin.drover-*; do [ -e \"$f\" ] && [ \"$(stat -c %U \"$f\")\" = root ] && echo \"$f\"; done; true")
		return strings.Fields(out)
	}

	for kill := 1; kill <= 3; kill++ {
		time.Sleep(1100 * time.Millisecond) // a new run id: one per second
		before := map[string]bool{}
		for _, n := range temps() {
			before[n] = true
		}
		cmd := startApply(t, args...)
		deadline := time.Now().Add(30 * time.Second)
		killed := false
		for time.Now().Before(deadline) && !killed {
			ents, _ := os.ReadDir(upper)
			for _, e := range ents {
				// This run's only: not the attacker's look-alike (run id
				// 1000000000), nor what an earlier kill left.
				if strings.HasPrefix(e.Name(), ".big.bin.drover-") && !strings.Contains(e.Name(), "-1000000000-") && !before[e.Name()] {
					if fi, err := e.Info(); err == nil && fi.Size() > 0 && fi.Sys().(*syscall.Stat_t).Uid == 0 {
						_ = cmd.Process.Kill()
						killed = true
						break
					}
				}
			}
			time.Sleep(time.Millisecond)
		}
		_ = cmd.Wait()
		if !killed {
			t.Fatalf("kill %d: no temporary file appeared within 30s:\n%s", kill, cmd.Stdout)
		}
		time.Sleep(300 * time.Millisecond) // the host's sftp-server sees the connection close
		t.Logf("after kill %d: %v", kill, temps())
		if got := temps(); len(got) > 1 {
			t.Errorf("after kill %d: %d drover temporary files beside the target: %v", kill, len(got), got)
		}
		if strings.TrimSpace(h.Exec(t, "test -e /srv/debris/big.bin && echo yes; true")) != "" {
			t.Errorf("after kill %d: the target is in place before any upload completed", kill)
		}
	}

	time.Sleep(1100 * time.Millisecond)
	r := drover(t, "", append([]string{"apply"}, args...)...)
	if r.code != 0 {
		t.Fatalf("apply: exit %d\n%s\n%s", r.code, r.stdout, r.stderr)
	}
	if !strings.Contains(r.stdout, "stale drover temporary file(s) of an earlier run beside /srv/debris/big.bin") {
		t.Errorf("the cleanup is not reported:\n%s", r.stdout)
	}
	if got := temps(); len(got) != 0 {
		t.Errorf("after a complete run: drover temporary files left: %v", got)
	}
	if got := strings.TrimSpace(h.Exec(t, "stat -c %U /srv/debris/.big.bin.drover-1000000000-0123456789ab")); got != integration.AttackerUser {
		t.Error("the attacker's look-alike file was removed or changed")
	}
	if sum := strings.TrimSpace(h.Exec(t, "stat -c %s /srv/debris/big.bin")); sum != "20971520" {
		t.Errorf("target size %q", sum)
	}
	r = drover(t, "", append([]string{"apply"}, args...)...)
	if r.code != 0 || strings.Contains(r.stdout, "stale") {
		t.Errorf("second apply: exit %d\n%s", r.code, r.stdout)
	}
}
