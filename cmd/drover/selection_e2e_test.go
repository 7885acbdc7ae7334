package main

import (
	"strings"
	"testing"

	"github.com/drover-cm/drover/integration"
)

const selectionPlaybook = `
play "app" {
  hosts = "fleet"
  tags  = ["app"]

  directory "app" {
    path = "/srv/sel-app"
    tags = ["base"]
  }
  file "conf" {
    path    = "/srv/sel-conf"
    content = "dir=${directory.app.path}\n"
    tags    = ["config"]
  }
  file "motd" {
    path    = "/srv/sel-motd"
    content = "hello\n"
    tags    = ["motd"]
  }
  file "late" {
    path    = "/srv/sel-late"
    content = "late\n"
    tags    = ["config"]
  }
  file "debug" {
    path    = "/srv/sel-debug"
    content = "debug\n"
    tags    = ["never", "debug"]
  }
}
`

// TestCLIFleetSelection applies parts of a playbook on a real host:
// --tags runs only the tagged tasks (twice: the second run changes
// nothing) and reports the dependency it left out; --start-at skips the
// tasks before it (a file changed behind drover's back stays so); bad
// selections are refused or warned about, naming what exists.
func TestCLIFleetSelection(t *testing.T) {
	f := integration.Start(t, 1)
	h := f.Hosts[0]
	inv := fleetInventory(t, f)
	pb := writeFile(t, t.TempDir(), "site.hcl", selectionPlaybook)
	base := []string{"-i", inv, "--limit", h.Name, "--known-hosts", f.KnownHostsFile}
	apply := func(args ...string) result {
		return drover(t, "", append(append([]string{"apply"}, base...), append(args, pb)...)...)
	}
	present := func() string {
		return h.Exec(t, "for p in app conf motd late debug; do [ -e /srv/sel-$p ] && printf '%s ' $p; done; true")
	}

	r := apply("--tags", "config", "--skip-tags", "motd")
	if r.code != 0 {
		t.Fatalf("apply --tags: exit %d\n%s\n%s", r.code, r.stdout, r.stderr)
	}
	if got := present(); got != "conf late " {
		t.Errorf("after --tags config the host has %q, want conf and late only\n%s", got, r.stdout)
	}
	if !strings.Contains(r.stdout, "not selected; file.conf depends on it") {
		t.Errorf("the left-out directory.app is not reported:\n%s", r.stdout)
	}
	r = apply("--tags", "config")
	if r.code != 0 || !strings.Contains(r.stdout, "ok=2 changed=0 failed=0 skipped=1") {
		t.Errorf("second apply --tags config: exit %d, want 0 changed\n%s\n%s", r.code, r.stdout, r.stderr)
	}

	h.Exec(t, "echo tampered >/srv/sel-conf")
	r = apply("--start-at", "file.motd")
	if r.code != 0 {
		t.Fatalf("apply --start-at: exit %d\n%s\n%s", r.code, r.stdout, r.stderr)
	}
	if got := present(); got != "conf motd late " {
		t.Errorf("after --start-at file.motd the host has %q, want conf motd late\n%s", got, r.stdout)
	}
	if got := h.Exec(t, "cat /srv/sel-conf"); got != "tampered\n" {
		t.Errorf("--start-at file.motd ran file.conf, before it: %q", got)
	}

	// Bad input.
	r = apply("--tags", "confg")
	if !strings.Contains(r.stderr, `no task has the tag "confg" (did you mean "config"?); the playbook's tags are: app, base, config, debug, motd, never`) {
		t.Errorf("unknown tag: exit %d, no warning naming the tags:\n%s", r.code, r.stderr)
	}
	r = apply("--target", "file.cnf")
	if r.code != 1 || !strings.Contains(r.stderr, "--target file.cnf: the playbook has no task file.cnf; did you mean file.conf?") {
		t.Errorf("unknown target: exit %d\n%s", r.code, r.stderr)
	}
	// --target pulls in what the target depends on, and says the plan is
	// partial.
	r = drover(t, "", append(append([]string{"plan"}, base...), "--target", "file.conf", pb)...)
	if r.code != 0 || !strings.Contains(r.stdout, "+ directory.app: create /srv/sel-app") || !strings.Contains(r.stdout, "~ file.conf: update") ||
		strings.Contains(r.stdout, "file.late") || !strings.Contains(r.stderr, "--target: only the targeted tasks") {
		t.Errorf("plan --target file.conf: exit %d\n%s\n%s", r.code, r.stdout, r.stderr)
	}
}
