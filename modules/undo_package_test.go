package modules

import (
	"strings"
	"testing"
)

func TestPlanUndoPackages(t *testing.T) {
	absent := JState{Kind: "absent"}
	ver := func(v string) JState { return JState{Kind: "package", Version: v} }
	pkg := func(n int, mgr, name string, before, after, now JState, dry string) JEntry {
		return JEntry{N: n, Path: "package " + name, PkgManager: mgr, PkgName: name, Before: before, After: after, Now: now, Dry: dry}
	}
	const aptAlone = "0\nReading package lists...\nRemv tree [2.1.0-1]\n"
	cases := []struct {
		name    string
		entries []JEntry
		want    []string // per reversal, last entry first: "-", "done", "refused: <part>"
		script  string   // part of the first reversal's step, when planned
	}{
		{"remove what the run installed (apt)",
			[]JEntry{pkg(1, "apt", "tree", absent, ver("2.1.0-1"), ver("2.1.0-1"), aptAlone)},
			[]string{"-"}, "apt-get remove -y -q -o DPkg::Lock::Timeout=120 -o Dpkg::Options::=--force-confdef -o Dpkg::Options::=--force-confold tree"},
		{"remove what the run installed (apk)",
			[]JEntry{pkg(1, "apk", "tree", absent, ver("2.1.1-r0"), ver("2.1.1-r0"), "0\n(1/1) Purging tree (2.1.1-r0)\nOK: 8 MiB in 20 packages\n")},
			[]string{"-"}, "apk del --no-progress tree"},
		{"remove what the run installed (dnf: rpm -e, never the dependents)",
			[]JEntry{pkg(1, "dnf", "tree", absent, ver("2.1.0-1.fc40"), ver("2.1.0-1.fc40"), "0\n")},
			[]string{"-"}, "rpm -e tree"},
		{"already removed",
			[]JEntry{pkg(1, "apt", "tree", absent, ver("2.1.0-1"), absent, "")},
			[]string{"done"}, ""},
		{"another version now",
			[]JEntry{pkg(1, "apt", "tree", absent, ver("2.1.0-1"), ver("2.1.1-1"), "0\nRemv tree [2.1.1-1]\n")},
			[]string{"refused: changed since by someone else: version 2.1.1-1 now, the run installed version 2.1.0-1"}, ""},
		{"removal would take a dependent along",
			[]JEntry{pkg(1, "apt", "liba", absent, ver("1.0"), ver("1.0"), "0\nRemv appb [2.0]\nRemv liba [1.0]\n")},
			[]string{"refused: removing it would also remove appb, which the run did not install"}, ""},
		{"a dependent the run installed too is removed with it",
			[]JEntry{
				pkg(1, "apt", "liba", absent, ver("1.0"), ver("1.0"), "0\nRemv appb [2.0]\nRemv liba:amd64 [1.0]\n"),
				pkg(2, "apt", "appb", absent, ver("2.0"), ver("2.0"), "0\nRemv appb [2.0]\n"),
			},
			[]string{"-", "-"}, ""},
		{"rpm: something needs it",
			[]JEntry{pkg(1, "dnf", "liba", absent, ver("1.0"), ver("1.0"), "1\nerror: Failed dependencies:\n\tliba is needed by (installed) appb-2.0\n")},
			[]string{"refused: a dry run of its removal failed: error: Failed dependencies"}, ""},
		{"the run removed it",
			[]JEntry{pkg(1, "apt", "tree", ver("2.1.0-1"), absent, absent, "")},
			[]string{"refused: cannot be undone exactly: the run removed it; reinstalling version 2.1.0-1 may not be available"}, ""},
		{"the run upgraded it",
			[]JEntry{pkg(1, "apt", "curl", ver("7.88.1-10"), ver("7.88.1-10+deb12u8"), ver("7.88.1-10+deb12u8"), "")},
			[]string{"refused: the run upgraded it to 7.88.1-10+deb12u8; reinstalling version 7.88.1-10"}, ""},
		{"removed then reinstalled by hand at its version: done",
			[]JEntry{pkg(1, "apt", "curl", ver("7.88.1-10"), absent, ver("7.88.1-10"), "")},
			[]string{"done"}, ""},
		{"installed then removed in one run: done",
			[]JEntry{
				pkg(1, "apt", "tree", absent, ver("2.1.0-1"), absent, ""),
				pkg(2, "apt", "tree", ver("2.1.0-1"), absent, absent, ""),
			},
			[]string{"done", "done"}, ""},
		{"incomplete: no version after",
			[]JEntry{pkg(1, "apt", "tree", absent, JState{}, ver("2.1.0-1"), aptAlone)},
			[]string{"refused: the change did not complete"}, ""},
		{"corrupt name",
			[]JEntry{pkg(1, "apt", "-y tree", absent, ver("1"), ver("1"), aptAlone)},
			[]string{"refused: incomplete or corrupt"}, ""},
		{"unknown manager",
			[]JEntry{pkg(1, "pacman", "tree", absent, ver("1"), ver("1"), aptAlone)},
			[]string{"refused: unknown package manager"}, ""},
		{"no dry run",
			[]JEntry{pkg(1, "apt", "tree", absent, ver("1"), ver("1"), "")},
			[]string{"refused: no dry run"}, ""},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			revs := PlanUndo("20261202T050000.000Z-00000001", c.entries)
			if len(revs) != len(c.want) {
				t.Fatalf("%d reversals, want %d", len(revs), len(c.want))
			}
			for i, r := range revs {
				if !checkReversal(t, i, r, c.want[i]) {
					continue
				}
				st := r.Plan.Steps
				if len(st) != 1 || !strings.HasPrefix(st[0].Script, safeFS) || !strings.Contains(st[0].Script, "\ndrover_jpkg "+r.Entry.PkgManager+" "+r.Entry.PkgName+"\n") ||
					!strings.HasSuffix(st[0].Script, "\ndrover_jpkg_after\n") {
					t.Errorf("entry %d: not one journaled step: %+v", r.Entry.N, st)
				}
				if i == 0 && c.script != "" && !strings.Contains(st[0].Script, "\n"+c.script) {
					t.Errorf("step does not run %q:\n%s", c.script, strings.TrimPrefix(st[0].Script, safeFS))
				}
				if a := r.Plan.Changes[0].Attrs; r.Plan.Changes[0].Subject != "package "+r.Entry.PkgName || len(a) != 1 || a[0].New != "absent" || a[0].Old != r.Entry.Now.Version {
					t.Errorf("change %+v", r.Plan.Changes[0])
				}
			}
		})
	}
}

func TestParseJournalReadPackage(t *testing.T) {
	out := strings.Join([]string{
		"E", "1", "path", "package tree", "before", "kind=absent\n", "after", "kind=package\nversion=2.1.0-1\n",
		"package", "apt tree", "now", "kind=package\nversion=2.1.0-1\n", "dry", "0\nRemv tree [2.1.0-1]",
	}, "\x00") + "\x00"
	es, err := ParseJournalRead([]byte(out))
	if err != nil {
		t.Fatal(err)
	}
	if len(es) != 1 || es[0].PkgManager != "apt" || es[0].PkgName != "tree" || es[0].After.Version != "2.1.0-1" || es[0].Now.Kind != "package" ||
		es[0].Dry != "0\nRemv tree [2.1.0-1]" {
		t.Errorf("%+v", es)
	}
}
