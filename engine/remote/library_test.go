package remote

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/drover-cm/drover/engine/transport"
	"github.com/drover-cm/drover/engine/transport/transporttest"
	"github.com/drover-cm/drover/modules/contract"
)

func TestSplitLibraries(t *testing.T) {
	a := Library("lib_a() { :; }\n")
	b := Library("lib_b() { :; }\n")
	for _, c := range []struct {
		script string
		libs   []string
		rest   string
	}{
		{script: a + "lib_a", libs: []string{a}, rest: "lib_a"},
		{script: b + a + "x", libs: []string{b, a}, rest: "x"},
		{script: "set -e\n" + a + "x", rest: "set -e\n" + a + "x"}, // only at the start
		{script: "lib_c() { :; }\nx", rest: "lib_c() { :; }\nx"},   // not registered
		{script: a, libs: []string{a}, rest: ""},
	} {
		libs, rest := splitLibraries(c.script)
		if strings.Join(libs, "|") != strings.Join(c.libs, "|") || rest != c.rest {
			t.Errorf("splitLibraries(%q) = %q, %q; want %q, %q", c.script, libs, rest, c.libs, c.rest)
		}
	}
}

// TestApplyAllDefinesLibrariesOnce: steps that begin with a library share
// one definition at the top of the batch script (its setup runs once), and
// still see its functions; a step applied on its own keeps its copy. The
// directories a library lists in $_fsyncs are synced once, at the end, with
// the inline uploads' directories.
func TestApplyAllDefinesLibrariesOnce(t *testing.T) {
	log := transporttest.FakeSync(t, "")
	dir := t.TempDir()
	count := filepath.Join(dir, "defined")
	lib := Library("echo x >>" + count + "\ntestlib_hello() { echo \"hello $1\"; }\ntestlib_later() { if [ -n \"$_fsyncs\" ]; then printf '%s\\n' \"$1\" >>\"$_fsyncs\"; fi; }\n")
	conn, err := transport.Local{}.Connect(context.Background(), transport.Target{Name: "local", Local: true})
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	up := filepath.Join(dir, "up")
	other := t.TempDir()
	plans := []*contract.Plan{
		{Steps: []contract.Step{{Script: lib + "testlib_hello a\ntestlib_later " + other + "\ntestlib_later " + dir}}},
		{Steps: []contract.Step{{Uploads: []contract.Upload{bytesUpload(up, 0o644, []byte("u"))}, Script: lib + "testlib_hello b\ntestlib_later " + other}}},
	}
	res, err := ApplyAll(context.Background(), conn, plans)
	if err != nil {
		t.Fatal(err)
	}
	if got := string(res[0].Result.Stdout) + string(res[1].Result.Stdout); got != "hello a\nhello b\n" {
		t.Errorf("output %q", got)
	}
	if b, _ := os.ReadFile(count); string(b) != "x\n" {
		t.Errorf("the library was set up %d times in one batch; want once", strings.Count(string(b), "x"))
	}
	got, _ := os.ReadFile(log)
	lines := strings.Split(strings.TrimSpace(string(got)), "\n")
	if len(lines) != 3 || strings.TrimSpace(lines[1]) != "dir "+dir || strings.TrimSpace(lines[2]) != "dir "+other {
		t.Errorf("sync calls:\n%s\nwant the upload, then %s and %s once each", got, dir, other)
	}

	os.Remove(count)
	if r, err := Apply(context.Background(), conn, plans[0]); err != nil || string(r.Stdout) != "hello a\n" {
		t.Fatalf("Apply: %q, %v", r.Stdout, err)
	}
	if b, _ := os.ReadFile(count); string(b) != "x\n" {
		t.Errorf("Apply alone set the library up %d times; want once", strings.Count(string(b), "x"))
	}
}
