package modules

import (
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"

	"github.com/drover-cm/drover/engine/shell"
)

// journalSh runs script (after safeFS, with set -e) as root on this
// machine with the journal in base instead of /var/lib/drover/journal,
// journaling under run when it is not "".
func journalSh(t *testing.T, sh, base, run, script string) (string, error) {
	t.Helper()
	vars := ""
	if run != "" {
		vars = "_fjr=" + shell.Quote(run) + " _fjm='operator=test@here'\n"
	}
	script = strings.TrimPrefix(script, safeFS)
	argv := append(strings.Fields(sh), "-c", "set -e\n"+vars+safeFS+"_fjb="+shell.Quote(base)+"\n"+script)
	cmd := exec.Command(argv[0], argv[1:]...)
	out, err := cmd.CombinedOutput()
	return string(out), err
}

// manifest is every path under dir with its type, mode, owner and content
// (a link's target), one line each, the journal excepted.
func manifest(t *testing.T, dir string) string {
	t.Helper()
	out, err := exec.Command("sh", "-c", `cd "$1" && find . -path ./j -prune -o -print | LC_ALL=C sort | while IFS= read -r p; do
		if [ -L "$p" ]; then echo "$p link $(readlink "$p")"
		elif [ -f "$p" ]; then echo "$p $(stat -c '%a %u:%g' "$p") $(sha256sum <"$p" | cut -c1-12)"
		else echo "$p $(stat -c '%F %a %u:%g' "$p")"; fi
	done`, "sh", dir).CombinedOutput()
	if err != nil {
		t.Fatalf("manifest: %v\n%s", err, out)
	}
	return string(out)
}

// TestJournalUndoLocal applies journaled changes of every kind safeFS makes
// on this machine, reads the journal back, undoes it and compares the tree
// with what it was; undoing again finds nothing to do, and a file changed
// since is refused.
func TestJournalUndoLocal(t *testing.T) {
	if os.Geteuid() != 0 {
		t.Skip("the journal is root's")
	}
	for _, sh := range []string{"dash", "bash", "busybox"} {
		if _, err := exec.LookPath(sh); err != nil {
			continue
		}
		t.Run(sh, func(t *testing.T) {
			if sh == "busybox" {
				sh = "busybox sh"
			}
			testJournalUndo(t, sh)
		})
	}
}

func testJournalUndo(t *testing.T, sh string) {
	r := t.TempDir()
	base := r + "/j"
	setup := `cd "$1" && [ . -ef "$1" ] || exit 1
mkdir -p etc srv/old && printf 'old conf\n' > etc/conf && chmod 640 etc/conf && chown 65534:0 etc/conf
printf 'doomed\n' > etc/doomed && ln -s /nowhere etc/lnk && printf 'sec\n' > etc/meta && chmod 600 etc/meta`
	if out, err := exec.Command("sh", "-c", setup, "sh", r).CombinedOutput(); err != nil {
		t.Fatalf("setup: %v\n%s", err, out)
	}
	before := manifest(t, r)
	// The uploads' temporary files, which the steps move into place.
	for name, content := range map[string]string{"etc/.conf.tmp": "new conf\n", "etc/.fresh.tmp": "fresh\n"} {
		if err := os.WriteFile(filepath.Join(r, name), []byte(content), 0o600); err != nil {
			t.Fatal(err)
		}
	}
	run := "20261202T050000.000Z-0123abcd"
	steps := []string{
		safeInstall(r+"/etc/.conf.tmp", r+"/etc/conf", "0:0", 0o644),
		safeInstall(r+"/etc/.fresh.tmp", r+"/etc/fresh", "", 0o600),
		safeMkdir(r+"/srv/new/deep", "65534:0", 0o750),
		safeLink(r+"/etc/lnk", "/elsewhere", ""),
		safeLink(r+"/srv/ln2", "/etc", ""),
		safeRemove(r+"/etc/doomed", false),
		safeMeta(r+"/etc/meta", false, metaFix{Owner: "65534", Mode: "0644"}),
		safeMeta(r+"/srv/old", true, metaFix{Mode: "0700"}),
		safeRewrite(r+"/etc/rew", "printf 'line\\n'; cat"),
	}
	for i, s := range steps {
		if out, err := journalSh(t, sh, base, run, s); err != nil {
			t.Fatalf("step %d: %v\n%s\n%s", i, err, out, s)
		}
	}
	if manifest(t, r) == before {
		t.Fatal("the steps changed nothing")
	}
	// The journal is root's alone.
	out, _ := exec.Command("sh", "-c", `stat -c '%a %U' "$1" "$1/`+run+`" "$1/`+run+`/1.content" "$1/`+run+`/meta"`, "sh", base).CombinedOutput()
	if want := "700 root\n700 root\n600 root\n600 root\n"; string(out) != want {
		t.Errorf("journal modes:\n%s\nwant\n%s", out, want)
	}
	hist, err := journalSh(t, sh, base, "", journalHistoryScript(base))
	if err != nil {
		t.Fatalf("history: %v\n%s", err, hist)
	}
	runs, no, err := ParseJournalHistory([]byte(hist))
	if err != nil || no || len(runs) != 1 || runs[0].ID != run || runs[0].Meta["operator"] != "test@here" || runs[0].Count < len(steps) {
		t.Fatalf("history: %+v %v %v\n%s", runs, no, err, hist)
	}

	undo := func(undoRun string) []Reversal {
		t.Helper()
		out, err := journalSh(t, sh, base, "", journalReadScript(base, run))
		if err != nil {
			t.Fatalf("read: %v\n%s", err, out)
		}
		es, err := ParseJournalRead([]byte(out))
		if err != nil {
			t.Fatal(err)
		}
		revs := PlanUndo(run, es)
		if undoRun == "" {
			return revs
		}
		for _, rv := range revs {
			if rv.Refused != "" {
				t.Errorf("entry %d (%s) refused: %s", rv.Entry.N, rv.Entry.Path, rv.Refused)
			}
			if rv.Plan == nil {
				continue
			}
			for _, st := range rv.Plan.Steps {
				if out, err := journalSh(t, sh, base, undoRun, st.Script); err != nil {
					t.Fatalf("undo of entry %d (%s): %v\n%s", rv.Entry.N, rv.Entry.Path, err, out)
				}
			}
		}
		return revs
	}
	undo("20261202T050100.000Z-0123abce")
	if after := manifest(t, r); after != before {
		t.Errorf("undo did not restore the tree:\n%s\nwant\n%s", after, before)
	}
	for _, rv := range undo("") {
		if rv.Plan != nil || rv.Refused != "" {
			t.Errorf("second undo: entry %d (%s): plan %v, refused %q", rv.Entry.N, rv.Entry.Path, rv.Plan != nil, rv.Refused)
		}
	}

	// The undo was journaled too: undoing it re-applies the run; then a
	// file changed by someone else is refused.
	if err := os.WriteFile(filepath.Join(r, "etc/conf"), []byte("someone\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	refused := 0
	for _, rv := range undo("") {
		if rv.Refused != "" {
			refused++
			if rv.Entry.Path != r+"/etc/conf" || !strings.Contains(rv.Refused, "changed since by someone else") {
				t.Errorf("refused %s: %s", rv.Entry.Path, rv.Refused)
			}
		}
	}
	if refused != 1 {
		t.Errorf("%d refusals, want 1", refused)
	}
}

// A journal directory that is a link, or not root's alone, refuses the
// change before it is made, and nothing is written through the link.
func TestJournalRefusesUnsafeDir(t *testing.T) {
	if os.Geteuid() != 0 {
		t.Skip("the journal is root's")
	}
	r := t.TempDir()
	for _, c := range []struct{ name, setup, base string }{
		{"link", `mkdir trap lib && chown 65534 trap && ln -s ../trap lib/drover`, "/lib/drover/journal"},
		{"other's", `mkdir -p lib/drover && chown 65534 lib/drover`, "/lib/drover/journal"},
		{"writable", `mkdir -p lib/drover/journal && chmod 777 lib/drover/journal`, "/lib/drover/journal"},
	} {
		t.Run(c.name, func(t *testing.T) {
			d := filepath.Join(r, strings.ReplaceAll(c.name, "'", ""))
			if err := os.Mkdir(d, 0o755); err != nil {
				t.Fatal(err)
			}
			if out, err := exec.Command("sh", "-c", `cd "$1" && [ . -ef "$1" ] || exit 1; `+c.setup+` && printf x > .f.tmp`, "sh", d).CombinedOutput(); err != nil {
				t.Fatalf("%v\n%s", err, out)
			}
			out, err := journalSh(t, "sh", d+c.base, "20261202T050000.000Z-0123abcd", safeInstall(d+"/.f.tmp", d+"/f", "", 0o644))
			if err == nil || !strings.Contains(out, "cannot keep the undo journal") {
				t.Errorf("not refused: %v\n%s", err, out)
			}
			if _, err := os.Lstat(d + "/f"); err == nil {
				t.Error("the change was made unjournaled")
			}
			if ents, _ := os.ReadDir(d + "/trap"); len(ents) > 0 {
				t.Errorf("root wrote through the link: %v", ents)
			}
		})
	}
}

func TestJournalKeepAgrees(t *testing.T) {
	if strconv.Itoa(JournalKeep) != journalKeep || !strings.Contains(journalFS, `-gt `+journalKeep+` ]`) {
		t.Errorf("JournalKeep %d, the script keeps %s", JournalKeep, journalKeep)
	}
}
