package modules

import (
	"strings"
	"testing"

	"github.com/drover-cm/drover/modules/contract"
)

func TestParseJournalHistory(t *testing.T) {
	out := "run 20261202T050000.000Z-00000001 3\nmeta time=2026-12-02T05:00:00Z\nmeta operator=alice@ctl\nmeta playbook=/p/site.hcl\n" +
		"run 20261202T050100.000Z-00000002 2\nmeta undo=20261202T050000.000Z-00000001\n"
	runs, no, err := ParseJournalHistory([]byte(out))
	if err != nil || no || len(runs) != 2 {
		t.Fatalf("%+v %v %v", runs, no, err)
	}
	if runs[0].ID != "20261202T050100.000Z-00000002" || runs[0].Meta["undo"] == "" || runs[1].Count != 3 || runs[1].Meta["operator"] != "alice@ctl" {
		t.Errorf("not newest first, or fields lost: %+v", runs)
	}
	if _, no, _ := ParseJournalHistory([]byte("nojournal\n")); !no {
		t.Error("nojournal not reported")
	}
	for _, bad := range []string{"meta x=1\n", "run a\n", "run a b\n", "garbage\n"} {
		if _, _, err := ParseJournalHistory([]byte(bad)); err == nil {
			t.Errorf("%q: no error", bad)
		}
	}
}

func TestParseJournalRead(t *testing.T) {
	out := strings.Join([]string{
		"E", "1", "path", "/etc/x", "before", "kind=file\nmode=640\nuid=0\ngid=42\nmeta=\nnote=\n", "after", "kind=file\nsha256=bb\n",
		"content", "aa", "now", "kind=file\nmode=644\nuid=0\ngid=0\nsha256=bb\n",
		"E", "2", "path", "/etc/l", "before", "kind=link\n", "target", "/a", "after", "kind=link\n", "atarget", "/b", "now", "kind=link\n", "ntarget", "/b",
		"E", "3", "path", "/etc/m", "before", "kind=file\nmode=600\nuid=0\ngid=0\nmeta=meta\nnote=\n", "after", "kind=file\nsha256=cc\n",
	}, "\x00") + "\x00"
	es, err := ParseJournalRead([]byte(out))
	if err != nil {
		t.Fatal(err)
	}
	if len(es) != 3 || es[0].Before.SHA256 != "aa" || !es[0].HasContent || es[0].Before.GID != "42" || es[0].Now.Mode != "644" ||
		es[1].Before.Target != "/a" || es[1].After.Target != "/b" || es[1].Now.Target != "/b" ||
		!es[2].Before.Meta || es[2].Before.SHA256 != "cc" {
		t.Errorf("%+v", es)
	}
	for _, bad := range []string{"path\x00/x\x00", "E\x00x\x00", "E\x001\x00odd\x00", "E\x001\x00before\x00nokv\x00", "E\x001\x00what\x00v\x00"} {
		if _, err := ParseJournalRead([]byte(bad)); err == nil {
			t.Errorf("%q: no error", bad)
		}
	}
}

func TestPlanUndo(t *testing.T) {
	file := func(sha, mode string) JState {
		return JState{Kind: "file", Mode: mode, UID: "0", GID: "0", SHA256: sha}
	}
	after := func(sha string) JState { return JState{Kind: "file", SHA256: sha} }
	absent := JState{Kind: "absent"}
	dir := JState{Kind: "dir", Mode: "755", UID: "0", GID: "0", Empty: true}
	cases := []struct {
		name    string
		entries []JEntry
		// per reversal, last entry first: the change's action symbol,
		// "done" or "refused: <part of the reason>"
		want []string
	}{
		{"restore a replaced file",
			[]JEntry{{N: 1, Path: "/e/f", Before: file("aa", "640"), After: after("bb"), HasContent: true, Now: file("bb", "644")}},
			[]string{"~"}},
		{"already restored",
			[]JEntry{{N: 1, Path: "/e/f", Before: file("aa", "640"), After: after("bb"), HasContent: true, Now: file("aa", "640")}},
			[]string{"done"}},
		{"changed since by someone else",
			[]JEntry{{N: 1, Path: "/e/f", Before: file("aa", "640"), After: after("bb"), HasContent: true, Now: file("cc", "644")}},
			[]string{"refused: changed since by someone else"}},
		{"remove a created file",
			[]JEntry{{N: 1, Path: "/e/f", Before: absent, After: after("bb"), Now: file("bb", "644")}},
			[]string{"-"}},
		{"recreate a removed file",
			[]JEntry{{N: 1, Path: "/e/f", Before: file("aa", "600"), After: absent, HasContent: true, Now: absent}},
			[]string{"+"}},
		{"too large",
			[]JEntry{{N: 1, Path: "/e/f", Before: JState{Kind: "file", Mode: "644", UID: "0", GID: "0", Note: "too large"}, After: after("bb"), Now: file("bb", "644")}},
			[]string{"refused: too large"}},
		{"meta only",
			[]JEntry{{N: 1, Path: "/e/f", Before: JState{Kind: "file", Mode: "600", UID: "0", GID: "0", Meta: true, SHA256: "bb"}, After: after("bb"), Now: file("bb", "644")}},
			[]string{"~"}},
		{"a change that did not complete",
			[]JEntry{{N: 1, Path: "/e/f", Before: file("aa", "640"), HasContent: true, Now: file("zz", "640")}},
			[]string{"refused: did not complete"}},
		{"a change that did not complete and left nothing",
			[]JEntry{{N: 1, Path: "/e/f", Before: file("aa", "640"), HasContent: true, Now: file("aa", "640")}},
			[]string{"done"}},
		{"created directory, then a file in it",
			[]JEntry{
				{N: 1, Path: "/e/d", Before: absent, After: JState{Kind: "dir"}, Now: JState{Kind: "dir", Mode: "755", UID: "0", GID: "0"}},
				{N: 2, Path: "/e/d/f", Before: absent, After: after("bb"), Now: file("bb", "644")},
			},
			[]string{"-", "-"}},
		{"removed directory with content",
			[]JEntry{{N: 1, Path: "/e/d", Before: JState{Kind: "dir", Mode: "755", UID: "0", GID: "0"}, After: absent, Now: absent}},
			[]string{"refused: content is not journaled"}},
		{"removed empty directory",
			[]JEntry{{N: 1, Path: "/e/d", Before: dir, After: absent, Now: absent}},
			[]string{"+"}},
		{"retargeted link",
			[]JEntry{{N: 1, Path: "/e/l", Before: JState{Kind: "link", Target: "/a"}, After: JState{Kind: "link", Target: "/b"}, Now: JState{Kind: "link", Target: "/b"}}},
			[]string{"~"}},
		{"the same file twice: the later change is undone first, the earlier from what it leaves",
			[]JEntry{
				{N: 1, Path: "/e/f", Before: file("aa", "640"), After: after("bb"), HasContent: true, Now: file("cc", "644")},
				{N: 2, Path: "/e/f", Before: file("bb", "644"), After: after("cc"), HasContent: true, Now: file("cc", "644")},
			},
			[]string{"~", "~"}},
		{"the same file twice, undone already",
			[]JEntry{
				{N: 1, Path: "/e/f", Before: file("aa", "640"), After: after("bb"), HasContent: true, Now: file("aa", "640")},
				{N: 2, Path: "/e/f", Before: file("bb", "644"), After: after("cc"), HasContent: true, Now: file("aa", "640")},
			},
			[]string{"done", "done"}},
		{"special file", []JEntry{{N: 1, Path: "/e/p", Before: JState{Kind: "other"}, After: after("bb"), Now: file("bb", "644")}},
			[]string{"refused: does not journal"}},
		{"corrupt entry", []JEntry{{N: 1, Path: "rel", Before: absent, After: after("bb")}},
			[]string{"refused: corrupt"}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			revs := PlanUndo("20261202T050000.000Z-00000001", c.entries)
			if len(revs) != len(c.want) {
				t.Fatalf("%d reversals, want %d", len(revs), len(c.want))
			}
			for i, r := range revs {
				if checkReversal(t, i, r, c.want[i]) && (len(r.Plan.Steps) != 1 || !strings.HasPrefix(r.Plan.Steps[0].Script, safeFS)) {
					t.Errorf("entry %d: not one safeFS step: %+v", r.Entry.N, r.Plan.Steps)
				}
			}
		})
	}
}

// checkReversal compares reversal i with want: "done" (nothing to do), a
// change's symbol, or "refused: " and a part of the reason. It reports
// whether r has a plan to look at further.
func checkReversal(t *testing.T, i int, r Reversal, want string) bool {
	t.Helper()
	var got string
	switch {
	case r.Refused != "":
		got = "refused: " + r.Refused
		if r.Plan != nil {
			t.Errorf("entry %d refused with a plan", r.Entry.N)
		}
	case r.Plan == nil:
		got = "done"
	default:
		got = r.Plan.Changes[0].Action.Symbol()
	}
	if got != want && !(strings.HasPrefix(want, "refused: ") && strings.HasPrefix(got, "refused: ") && strings.Contains(got, strings.TrimPrefix(want, "refused: "))) {
		t.Errorf("reversal %d (entry %d): %q, want %q", i, r.Entry.N, got, want)
	}
	return r.Refused == "" && r.Plan != nil
}

// The plan of a restore never holds the previous content, only checksums.
func TestPlanUndoShowsNoContent(t *testing.T) {
	revs := PlanUndo("20261202T050000.000Z-00000001", []JEntry{{N: 1, Path: "/etc/shadow",
		Before: JState{Kind: "file", Mode: "640", UID: "0", GID: "42", SHA256: "aaaaaaaaaaaaaaaaaaaa"}, HasContent: true,
		After: JState{Kind: "file", SHA256: "bbbbbbbbbbbbbbbbbbbb"}, Now: JState{Kind: "file", Mode: "640", UID: "0", GID: "42", SHA256: "bbbbbbbbbbbbbbbbbbbb"}}})
	ch := revs[0].Plan.Changes[0]
	if ch.Diff != "" || len(ch.Attrs) != 1 || ch.Attrs[0] != (contract.AttrChange{Name: "sha256", Old: "bbbbbbbbbbbb", New: "aaaaaaaaaaaa"}) {
		t.Errorf("%+v", ch)
	}
}
