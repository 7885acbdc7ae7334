package main

import (
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
)

// TestCLIReleasesRollback deploys two releases on this machine (connection
// "local") and drives `drover releases` and `drover rollback [--to]`.
func TestCLIReleasesRollback(t *testing.T) {
	if os.Geteuid() != 0 {
		t.Skip("the release task registers its name under /var/lib/drover: needs root")
	}
	dir := t.TempDir()
	name := fmt.Sprintf("drovertest%d", os.Getpid())
	t.Cleanup(func() { os.Remove("/var/lib/drover/releases/" + name) })
	app := filepath.Join(dir, "srv", "app")
	inv := writeFile(t, dir, "hosts.hcl", "host \"l1\" {\n  connection = \"local\"\n}\n")
	for _, v := range []string{"v1", "v2"} {
		os.MkdirAll(filepath.Join(dir, v), 0o755)
		writeFile(t, dir, v+"/VERSION", v+"\n")
		writeFile(t, dir, v+".hcl", fmt.Sprintf(`play "deploy" {
  hosts = "all"
  release %q {
    path   = %q
    source = %q
    switch = { command = "cat VERSION >>../../switched" }
    healthcheck {
      command = "test -f VERSION"
      timeout = "2s"
    }
  }
}
`, name, app, v))
	}
	for _, v := range []string{"v1", "v2"} {
		if r := drover(t, "", "apply", "-i", inv, filepath.Join(dir, v+".hcl")); r.code != 0 {
			t.Fatalf("apply %s: exit %d\n%s%s", v, r.code, r.stdout, r.stderr)
		}
	}
	idRE := regexp.MustCompile(`([-*]) ([0-9]{8}T[0-9]{6}\.[0-9]{3}Z-[0-9a-f]{12})`)
	list := func() map[string]string {
		r := drover(t, "", "releases", "-i", inv, "all", name)
		if r.code != 0 {
			t.Fatalf("releases: exit %d\n%s%s", r.code, r.stdout, r.stderr)
		}
		marks := map[string]string{}
		for _, m := range idRE.FindAllStringSubmatch(r.stdout, -1) {
			marks[m[1]] = m[2]
		}
		if !strings.Contains(r.stdout, "last deploys:") {
			t.Errorf("no deploy records:\n%s", r.stdout)
		}
		return marks
	}
	before := list()
	cur, prev := before["*"], before["-"]
	if cur == "" || prev == "" || cur == prev {
		t.Fatalf("releases should mark a current and a previous release: %v", before)
	}

	r := drover(t, "", "rollback", "-i", inv, "all", name)
	if r.code != 0 || !strings.Contains(r.stdout, "current: "+cur+" -> "+prev) {
		t.Fatalf("rollback: exit %d\n%s%s", r.code, r.stdout, r.stderr)
	}
	if got := list()["*"]; got != prev {
		t.Fatalf("after rollback current is %s, want %s", got, prev)
	}
	r = drover(t, "", "rollback", "-i", inv, "all", app, "--to", cur)
	if r.code != 0 || !strings.Contains(r.stdout, "-> "+cur) {
		t.Fatalf("rollback --to: exit %d\n%s%s", r.code, r.stdout, r.stderr)
	}
	if b, _ := os.ReadFile(filepath.Join(app, "switched")); string(b) != "v1\nv2\nv1\nv2\n" {
		t.Errorf("switch action ran for %q, want v1 v2 v1 v2", b)
	}
	r = drover(t, "", "rollback", "-i", inv, "all", name, "--to", "20000101T000000.000Z-000000000000")
	if r.code != 1 || !strings.Contains(r.stdout+r.stderr, "no release 20000101T000000.000Z-000000000000") {
		t.Errorf("rollback to an unknown id: exit %d\n%s%s", r.code, r.stdout, r.stderr)
	}
}
