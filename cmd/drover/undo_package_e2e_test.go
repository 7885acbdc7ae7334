package main

import (
	"strings"
	"testing"

	"github.com/drover-cm/drover/integration"
)

// undoPkgRepo builds two tiny packages on the host, drover-undo-a and
// drover-undo-b (which depends on a), in a flat apt repository of local
// files, and reads its index alone: installs need no network.
const undoPkgRepo = `set -e
mkdir -p /srv/repo && cd /srv/repo && [ . -ef /srv/repo ] || exit 1
mk() {
	mkdir -p "pkg-$1/DEBIAN"
	printf 'Package: drover-undo-%s\nVersion: 1.0-1\nArchitecture: all\nMaintainer: drover tests <t@example.invalid>\nDescription: drover undo test package\n%s' "$1" "$2" >"pkg-$1/DEBIAN/control"
	dpkg-deb --root-owner-group --build "pkg-$1" "$1.deb" >/dev/null
}
mk a ''
mk b 'Depends: drover-undo-a
'
for f in a b; do dpkg-deb -f "$f.deb"; echo "Filename: ./$f.deb"; echo "Size: $(stat -c %s "$f.deb")"; echo "SHA256: $(sha256sum <"$f.deb" | cut -d' ' -f1)"; echo; done >Packages
echo 'deb [trusted=yes] file:/srv/repo ./' >/etc/apt/sources.list.d/drover-undo.list
apt-get update -q -o Dir::Etc::sourcelist=sources.list.d/drover-undo.list -o Dir::Etc::sourceparts=- -o APT::Get::List-Cleanup=0 >/dev/null
`

const undoPkgPlaybook = `play "p" {
  hosts = "fleet"
  package "a" {
    names = ["drover-undo-a"]
  }
}
`

// A package a run installed is removed by drover undo --yes, exactly: the
// package alone. When another package installed since depends on it (its
// removal would remove that one too), undo refuses and removes nothing.
func TestCLIFleetUndoPackage(t *testing.T) {
	f := integration.Start(t, 1)
	h := f.Hosts[0]
	inv := f.InventoryFile()
	h.Exec(t, undoPkgRepo+"rm -rf /var/lib/drover\n")
	status := func() string {
		return h.Exec(t, `for p in drover-undo-a drover-undo-b; do printf '%s %s\n' "$p" "$(dpkg-query -W -f='${Status} ${Version}' "$p" 2>/dev/null || echo none)"; done`)
	}
	const none = "drover-undo-a none\ndrover-undo-b none\n"
	if got := status(); got != none {
		t.Fatalf("before the run:\n%s", got)
	}
	pb := writeFile(t, t.TempDir(), "site.hcl", undoPkgPlaybook)
	apply := func() {
		t.Helper()
		if r := drover(t, "", "apply", "-i", inv, pb); r.code != 0 {
			t.Fatalf("apply: exit %d\n%s\n%s", r.code, r.stdout, r.stderr)
		}
		if got := status(); !strings.HasPrefix(got, "drover-undo-a install ok installed 1.0-1\n") {
			t.Fatalf("after apply:\n%s", got)
		}
	}
	apply()
	if got := h.Exec(t, `cd /var/lib/drover/journal/* && cat 1.path 1.package 1.before 1.after`); got != "package drover-undo-aapt drover-undo-a\nkind=absent\nkind=package\nversion=1.0-1\n" {
		t.Errorf("journal entry:\n%q", got)
	}

	r := drover(t, "", "undo", "-i", inv, "fleet")
	if r.code != 0 || !strings.Contains(r.stdout, "package drover-undo-a") {
		t.Fatalf("undo plan: exit %d\n%s\n%s", r.code, r.stdout, r.stderr)
	}
	r = drover(t, "", "undo", "-i", inv, "fleet", "--yes")
	if r.code != 0 {
		t.Fatalf("undo: exit %d\n%s\n%s", r.code, r.stdout, r.stderr)
	}
	// Removed (apt-get remove: "config-files" would be left if it had any).
	if got := status(); got != none {
		t.Errorf("after undo:\n%s\n%s", got, r.stdout)
	}
	r = drover(t, "", "undo", "-i", inv, "fleet", "--yes")
	if r.code != 0 || !strings.Contains(r.stdout, "| no changes") {
		t.Errorf("second undo: exit %d\n%s\n%s", r.code, r.stdout, r.stderr)
	}

	// Someone installs b, which needs a, after the run: removing a would
	// remove b, so undo refuses and a stays.
	apply()
	h.Exec(t, "dpkg -i /srv/repo/b.deb >/dev/null")
	r = drover(t, "", "undo", "-i", inv, "fleet", "--yes")
	if r.code != 1 || !strings.Contains(r.stdout, "would also remove drover-undo-b") {
		t.Errorf("undo with a dependent: exit %d\n%s\n%s", r.code, r.stdout, r.stderr)
	}
	if got := status(); got != "drover-undo-a install ok installed 1.0-1\ndrover-undo-b install ok installed 1.0-1\n" {
		t.Errorf("a refused undo changed the packages:\n%s", got)
	}
}
