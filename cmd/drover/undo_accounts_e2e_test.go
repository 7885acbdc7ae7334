package main

import (
	"strings"
	"testing"

	"github.com/drover-cm/drover/integration"
)

const undoAccountsPlaybook = `play "p" {
  hosts = "fleet"
  group "g" {
    name = "undogrp"
  }
  user "u1" {
    name   = "undou1"
    groups = ["undogrp"]
  }
  user "u2" {
    name = "undou2"
  }
}
`

// Several account changes in one batch journal the account files whole
// once (each file is one entry, not one per command), and undo restores
// them exactly.
func TestCLIFleetUndoAccountsOnce(t *testing.T) {
	f := integration.Start(t, 1)
	h := f.Hosts[0]
	inv := f.InventoryFile()
	const sums = `for f in /etc/passwd /etc/shadow /etc/group /etc/gshadow; do echo "$f $(stat -c '%a %u:%g' $f) $(sha256sum <$f | cut -c1-16)"; done`
	h.Exec(t, "rm -rf /var/lib/drover")
	before := h.Exec(t, sums)
	pb := writeFile(t, t.TempDir(), "site.hcl", undoAccountsPlaybook)
	if r := drover(t, "", "apply", "-i", inv, pb); r.code != 0 {
		t.Fatalf("apply: exit %d\n%s\n%s", r.code, r.stdout, r.stderr)
	}
	if got := h.Exec(t, "id -nG undou1; id -u undou2 >/dev/null && echo ok"); got != "undou1 undogrp\nok\n" {
		t.Fatalf("apply did not make the accounts:\n%s", got)
	}
	// One batch: each account file is one entry.
	if got := h.Exec(t, `cd /var/lib/drover/journal/* && cat *.path | tr '/' '\n' | grep -c '^passwd$' || :`); strings.TrimSpace(got) != "1" {
		t.Errorf("/etc/passwd journaled %s times, want once", strings.TrimSpace(got))
	}
	r := drover(t, "", "undo", "-i", inv, "fleet", "--yes")
	if r.code != 0 {
		t.Fatalf("undo: exit %d\n%s\n%s", r.code, r.stdout, r.stderr)
	}
	if got := h.Exec(t, sums); got != before {
		t.Errorf("undo did not restore the account files:\n%s\nwant\n%s\n%s", got, before, r.stdout)
	}
	if got := h.Exec(t, "grep -c 'undou\\|undogrp' /etc/passwd /etc/group || :"); got != "/etc/passwd:0\n/etc/group:0\n" {
		t.Errorf("accounts left after undo:\n%s", got)
	}
}
