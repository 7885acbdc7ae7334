package main

import (
	"strings"
	"testing"

	"github.com/drover-cm/drover/integration"
)

// undoManifest is the state undo must restore exactly: every path under
// /srv/u with type, mode, owner and checksum (a link's target), and the
// account files' checksums.
const undoManifest = `cd /srv/u && find . | LC_ALL=C sort | while IFS= read -r p; do
	if [ -L "$p" ]; then echo "$p link $(readlink "$p")"
	elif [ -f "$p" ]; then echo "$p $(stat -c '%a %u:%g' "$p") $(sha256sum <"$p" | cut -c1-16)"
	else echo "$p $(stat -c '%F %a %u:%g' "$p")"; fi
done
for f in /etc/passwd /etc/shadow /etc/group /etc/gshadow; do echo "$f $(stat -c '%a %u:%g' $f) $(sha256sum <$f | cut -c1-16)"; done
`

const undoPlaybook = `play "p" {
  hosts = "fleet"
  line "edit" {
    path = "/srv/u/edit.conf"
    line = "c=3"
  }
  file "replace" {
    path    = "/srv/u/replace.conf"
    content = "new\n"
    mode    = "0600"
  }
  directory "d" {
    path = "/srv/u/newdir/sub"
  }
  symlink "l" {
    path   = "/srv/u/link"
    target = "/srv/u/replace.conf"
  }
  user "undouser" {
    name = "undouser"
  }
}
`

// An apply that edits a file, replaces another, creates directories and a
// link and adds a user is listed by drover history and undone exactly by
// drover undo --yes; undoing again finds nothing to do; a file changed by
// someone else since is refused (and --skip-refused undoes the rest). The
// unprivileged mallory can neither list nor read the journal.
func TestCLIFleetUndo(t *testing.T) {
	f := integration.Start(t, 1)
	h := f.Hosts[0]
	inv := f.InventoryFile()
	common := []string{"-i", inv}
	h.Exec(t, `mkdir -p /srv/u && printf 'a=1\nb=2\n' >/srv/u/edit.conf && printf 'old\n' >/srv/u/replace.conf &&
		chown `+integration.AttackerUser+` /srv/u/replace.conf && chmod 640 /srv/u/replace.conf && rm -rf /var/lib/drover`)
	before := h.Exec(t, undoManifest)
	pb := writeFile(t, t.TempDir(), "site.hcl", undoPlaybook)

	if r := drover(t, "", append([]string{"apply"}, append(common, pb)...)...); r.code != 0 {
		t.Fatalf("apply: exit %d\n%s\n%s", r.code, r.stdout, r.stderr)
	}
	applied := h.Exec(t, undoManifest)
	if applied == before {
		t.Fatal("apply changed nothing")
	}
	r := drover(t, "", "history", "-i", inv)
	if r.code != 0 || !strings.Contains(r.stdout, pb) || !strings.Contains(r.stdout, "RUN") {
		t.Fatalf("history: exit %d\n%s\n%s", r.code, r.stdout, r.stderr)
	}
	for _, cmd := range []string{"ls /var/lib/drover/journal", "cat /var/lib/drover/journal/*/*.content", "ln -s /tmp /var/lib/drover/journal/x"} {
		if out, err := h.RunAs(integration.AttackerUser, cmd); err == nil {
			t.Errorf("mallory: %s succeeded:\n%s", cmd, out)
		}
	}
	if got := h.Exec(t, `find /var/lib/drover -perm /077 -o ! -user root`); got != "" {
		t.Errorf("journal entries others may read or that are not root's:\n%s", got)
	}

	// The plan alone changes nothing and shows no previous content.
	r = drover(t, "", "undo", "-i", inv, "fleet")
	if r.code != 0 || !strings.Contains(r.stdout, "undo[") || !strings.Contains(r.stdout, "/srv/u/replace.conf") || !strings.Contains(r.stdout, "--yes") {
		t.Fatalf("undo plan: exit %d\n%s\n%s", r.code, r.stdout, r.stderr)
	}
	if strings.Contains(r.stdout, "old") && strings.Contains(r.stdout, "a=1") {
		t.Errorf("the plan shows previous contents:\n%s", r.stdout)
	}
	if h.Exec(t, undoManifest) != applied {
		t.Fatal("undo without --yes changed the host")
	}
	r = drover(t, "", "undo", "-i", inv, "fleet", "--yes")
	if r.code != 0 {
		t.Fatalf("undo: exit %d\n%s\n%s", r.code, r.stdout, r.stderr)
	}
	if got := h.Exec(t, undoManifest); got != before {
		t.Errorf("undo did not restore the host:\n%s\nwant\n%s\n%s", got, before, r.stdout)
	}
	r = drover(t, "", "undo", "-i", inv, "fleet", "--yes")
	if r.code != 0 || !strings.Contains(r.stdout, "| no changes") || strings.Contains(r.stdout, "undo[") {
		t.Errorf("second undo: exit %d\n%s\n%s", r.code, r.stdout, r.stderr)
	}
	r = drover(t, "", "history", "-i", inv)
	if !strings.Contains(r.stdout, "undo of ") {
		t.Errorf("history does not show the undo:\n%s", r.stdout)
	}

	// Someone changes a file the next run wrote: undo refuses it and
	// changes nothing; --skip-refused undoes the rest.
	if r := drover(t, "", append([]string{"apply"}, append(common, pb)...)...); r.code != 0 {
		t.Fatalf("apply: exit %d\n%s\n%s", r.code, r.stdout, r.stderr)
	}
	h.Exec(t, `printf 'someone\n' >/srv/u/replace.conf`)
	r = drover(t, "", "undo", "-i", inv, "fleet", "--yes")
	if r.code != 1 || !strings.Contains(r.stdout, "changed since by someone else") {
		t.Errorf("undo of a changed file: exit %d\n%s\n%s", r.code, r.stdout, r.stderr)
	}
	if got := h.Exec(t, "cat /srv/u/edit.conf"); !strings.Contains(got, "c=3") {
		t.Errorf("a refused undo changed the host: edit.conf is\n%s", got)
	}
	r = drover(t, "", "undo", "-i", inv, "fleet", "--yes", "--skip-refused")
	if r.code != 0 {
		t.Errorf("undo --skip-refused: exit %d\n%s\n%s", r.code, r.stdout, r.stderr)
	}
	if got := h.Exec(t, "cat /srv/u/edit.conf /srv/u/replace.conf; grep -c undouser /etc/passwd || :"); got != "a=1\nb=2\nsomeone\n0\n" {
		t.Errorf("after undo --skip-refused:\n%s", got)
	}
}

// A journal directory planted as a link to mallory's directory (or made
// hers) refuses the apply's changes before any is made; root writes
// nothing through the link.
func TestCLIFleetJournalPlanted(t *testing.T) {
	f := integration.Start(t, 1)
	h := f.Hosts[0]
	inv := f.InventoryFile()
	pb := writeFile(t, t.TempDir(), "site.hcl", `play "p" {
  hosts = "fleet"
  file "f" {
    path    = "/srv/planted"
    content = "x\n"
  }
}
`)
	for _, setup := range []string{
		`rm -rf /var/lib/drover; mkdir -p /home/mallory/trap && chown mallory /home/mallory/trap && ln -s /home/mallory/trap /var/lib/drover`,
		`rm -rf /var/lib/drover /home/mallory/trap; mkdir -p /home/mallory/trap /var/lib/drover && chown mallory /var/lib/drover`,
	} {
		h.Exec(t, setup)
		r := drover(t, "", "apply", "-i", inv, pb)
		if r.code != 1 || !strings.Contains(r.stdout+r.stderr, "cannot keep the undo journal") {
			t.Errorf("%s: apply: exit %d\n%s\n%s", setup, r.code, r.stdout, r.stderr)
		}
		if got := h.Exec(t, "ls -A /home/mallory/trap; ls /srv/planted 2>/dev/null || :"); got != "" {
			t.Errorf("%s: written through the planted journal, or changed unjournaled:\n%s", setup, got)
		}
	}
	h.Exec(t, "rm -rf /var/lib/drover")
}
