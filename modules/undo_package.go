package modules

import (
	"slices"
	"strconv"
	"strings"

	"github.com/drover-cm/drover/modules/contract"
)

// Undoing a package entry (journalPackagesFS writes them; docs/undo.md): a
// package the run installed is removed, when it is still the version the
// run installed and removing it removes nothing else; a package the run
// removed or upgraded is refused, since the version it had may be gone from
// the repositories.

// pkgDryFS is the undo read's dry run of a removal (drover_pkgdry MANAGER
// NAME): it changes nothing. apt and apk list what they would remove; rpm
// -e --test fails when another package needs NAME (undo removes with rpm
// -e, which never takes dependents along).
const pkgDryFS = `drover_pkgdry() {
	case $1 in
	apt) LC_ALL=C apt-get -s -q remove "$2" </dev/null ;;
	apk) apk del -s "$2" ;;
	dnf | yum) rpm -e --test "$2" ;;
	*) echo "drover: unknown package manager $1" >&2; return 1 ;;
	esac
}
`

// pkgUndoRemove is the reversal's transaction: removing name alone.
func pkgUndoRemove(manager, name string) (string, pkgManager, bool) {
	pm, ok := pkgManagers[manager]
	if !ok {
		return "", nil, false
	}
	if _, rpm := pm.(rpmManager); rpm {
		return "rpm -e " + pkgWords([]string{name}) + " </dev/null", pm, true
	}
	return pm.remove([]string{name}), pm, true
}

// dryRemoves reads a dry run's output (Dry: status, newline, output): the
// packages it would remove, or why it failed.
func dryRemoves(manager, dry string) (names []string, failed string) {
	status, out, _ := strings.Cut(dry, "\n")
	if status != "0" {
		msg := strings.TrimSpace(out)
		if len(msg) > 400 {
			msg = "…" + msg[len(msg)-400:]
		}
		if msg == "" {
			msg = "exit status " + status
		}
		return nil, msg
	}
	for _, l := range strings.Split(out, "\n") {
		f := strings.Fields(l)
		switch {
		case manager == "apt" && len(f) >= 2 && f[0] == "Remv":
			// "Remv tree [2.1.0-1]"
			names = append(names, pkgKey(f[1]))
		case manager == "apk" && len(f) >= 3 && f[1] == "Purging":
			// "(1/2) Purging tree (2.1.1-r0)"
			names = append(names, f[2])
		}
	}
	return names, ""
}

func reversePackage(e JEntry, removed map[string]bool) Reversal {
	r := Reversal{Entry: e}
	b, a, cur := e.Before, e.After, e.Now
	key := pkgKey(e.PkgName)
	switch {
	case !pkgNameRE.MatchString(e.PkgName) || (b.Kind != "absent" && b.Kind != "package"):
		r.Refused = "the journal entry is incomplete or corrupt"
		return r
	case sameContent(b, cur):
		r.Done = "already as it was before the run"
		return r
	case b.Kind == "package":
		what := "removed it"
		if a.Kind == "package" {
			what = "upgraded it to " + a.Version
		}
		r.Refused = "cannot be undone exactly: the run " + what + "; reinstalling version " + b.Version + " may not be available (install it yourself if the repositories still offer it)"
		return r
	case a.Kind == "":
		r.Refused = "the change did not complete (drover recorded no version after it) and the package is not as it was before; check it by hand"
		return r
	case a.Kind != "package" || !sameContent(a, cur):
		r.Refused = "changed since by someone else: " + describePkg(cur) + " now, the run installed " + describePkg(a)
		return r
	}
	script, pm, ok := pkgUndoRemove(e.PkgManager, e.PkgName)
	if !ok {
		r.Refused = "unknown package manager " + strconv.Quote(e.PkgManager) + " in the journal"
		return r
	}
	names, failed := dryRemoves(e.PkgManager, e.Dry)
	switch {
	case e.Dry == "":
		r.Refused = "the journal read made no dry run of its removal; check it by hand"
		return r
	case failed != "":
		r.Refused = "a dry run of its removal failed: " + failed
		return r
	}
	var others []string
	for _, n := range names {
		if n != key && !removed[n] && !slices.Contains(others, n) {
			others = append(others, n)
		}
	}
	if len(others) > 0 {
		r.Refused = "removing it would also remove " + strings.Join(others, ", ") + ", which the run did not install; remove them yourself first, or leave it"
		return r
	}
	ch := contract.Change{Action: contract.Delete, Subject: "package " + e.PkgName,
		Attrs: []contract.AttrChange{{Name: "version", Old: cur.Version, New: "absent"}}}
	r.Plan = &contract.Plan{Changes: []contract.Change{ch}, Steps: []contract.Step{{Script: journalPackages(pm, []string{e.PkgName}, script)}}}
	return r
}

func describePkg(s JState) string {
	if s.Kind == "package" {
		return "version " + s.Version
	}
	return "nothing"
}
