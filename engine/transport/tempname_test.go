package transport

import (
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strings"
	"testing"
)

func TestTempName(t *testing.T) {
	tmp, err := TempName("/srv/app/conf.ini")
	if err != nil {
		t.Fatal(err)
	}
	if !strings.HasPrefix(tmp, "/srv/app/.conf.ini.drover-"+RunID()+"-") || !IsTempName(tmp) {
		t.Errorf("TempName = %q", tmp)
	}
	// A temporary name's own temporary name is itself: never doubled.
	if p, _ := putTemp(tmp); p != tmp {
		t.Errorf("putTemp(%q) = %q", tmp, p)
	}
	if _, err := TempName("/srv/"); err == nil {
		t.Error("TempName of a directory path succeeded")
	}
	for name, want := range map[string]bool{
		"/d/.x.drover-1764640000-0123456789ab":              true,
		"/d/.x.drover-a.drover-1764640000-0123456789ab":     true,
		"/d/x.drover-1764640000-0123456789ab":               false, // not hidden
		"/d/.x.drover-176464000-0123456789ab":               false, // short run id
		"/d/.x.drover-1764640000-0123456789AB":              true,  // mktemp -d's letters
		"/d/.x.drover-1764640000-0123456789A_":              false,
		"/d/.x.drover-1764640000-0123456789abc":             false,
		"/d/.x.drover-1764640000-0123456789ab.drover-0a1b2": false, // the old doubled form
		"/d/.x.drover-upload-0123456789ab":                  false,
	} {
		if got := IsTempName(name); got != want {
			t.Errorf("IsTempName(%q) = %v", name, got)
		}
	}
}

// TestStaleTemps runs the shell loop on a real directory: only regular
// files, links and 0700 (or 02700) directories of the scheme, of an earlier
// run, owned by the script's user count; never a directory of another
// mode, or another user's entry.
func TestStaleTemps(t *testing.T) {
	d := t.TempDir()
	old := ".a b*.drover-1000000000-0123456789ab"
	files := map[string]bool{ // name: counted
		old:                                    true,
		".a b*.drover-9999999999-0123456789ab": false, // a later run's
		".a b*.drover-" + RunID() + "-0123456789ab": false, // this run's
		".a bX.drover-1000000000-0123456789ab":      false, // another file's ('*' is literal)
		".a b*.drover-1000000000-0123456789ab.x":    false,
	}
	for n := range files {
		if err := os.WriteFile(filepath.Join(d, n), nil, 0o600); err != nil {
			t.Fatal(err)
		}
	}
	if err := os.Symlink("/etc/passwd", filepath.Join(d, ".a b*.drover-1000000001-0123456789ab")); err != nil {
		t.Fatal(err)
	}
	// A staging directory counts, and links (ours: a new link before its
	// rename, removed by name); a directory of another mode does not.
	stage := ".a b*.drover-1000000000-aZ09bY18cX27"
	for n, mode := range map[string]os.FileMode{stage: 0o700, ".a b*.drover-1000000000-aZ09bY18cX28": 0o755} {
		if err := os.Mkdir(filepath.Join(d, n), mode); err != nil {
			t.Fatal(err)
		}
		if err := os.Chmod(filepath.Join(d, n), mode); err != nil {
			t.Fatal(err)
		}
	}
	if err := os.Symlink(stage, filepath.Join(d, ".a b*.drover-1000000000-aZ09bY18cX29")); err != nil {
		t.Fatal(err)
	}
	if os.Geteuid() == 0 {
		n := filepath.Join(d, ".a b*.drover-1000000002-0123456789ab")
		if err := os.WriteFile(n, nil, 0o600); err != nil {
			t.Fatal(err)
		}
		if err := os.Chown(n, 65534, 65534); err != nil {
			t.Fatal(err)
		}
	}
	out, err := exec.Command("sh", "-c", CountStaleTemps(filepath.Join(d, "a b*"))+"echo $_dk\n"+
		StaleTemps(d, "a b*", `printf '%s\n' "${_df##*/}"`)).CombinedOutput()
	if err != nil {
		t.Fatalf("%v: %s", err, out)
	}
	want := []string{".a b*.drover-1000000000-aZ09bY18cX27", ".a b*.drover-1000000000-aZ09bY18cX29", old, ".a b*.drover-1000000001-0123456789ab"}
	got := strings.Split(strings.TrimSpace(string(out)), "\n")
	sort.Strings(got[1:]) // the glob's order is the locale's
	sort.Strings(want)
	if strings.Join(got, "\n") != "4\n"+strings.Join(want, "\n") {
		t.Errorf("got %q, want 4 and %q", got, want)
	}
}
