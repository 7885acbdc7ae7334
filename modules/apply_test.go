package modules_test

import (
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"

	"github.com/zclconf/go-cty/cty"

	"github.com/drover-cm/drover/modules"
	"github.com/drover-cm/drover/modules/contract"
	"github.com/drover-cm/drover/modules/moduletest"
)

// hostileName is a file name with every character a shell could misread.
const hostileName = "it's \"$(touch pwned)\" `id`; a\nb ü $HOME *"

const hostileContent = "line 'one'\n$(touch pwned) `id` \"two\"; rm -rf /tmp/nothing\n\\n ü\x00\x01end"

func mod(t *testing.T, name string) contract.Module {
	t.Helper()
	m, ok := modules.Lookup(name)
	if !ok {
		t.Fatalf("module %s is not registered", name)
	}
	return m
}

func str(s string) cty.Value { return cty.StringVal(s) }

func readFile(t *testing.T, p string) string {
	t.Helper()
	b, err := os.ReadFile(p)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

func fileMode(t *testing.T, p string) os.FileMode {
	t.Helper()
	st, err := os.Lstat(p)
	if err != nil {
		t.Fatal(err)
	}
	return st.Mode()
}

func owner(t *testing.T, p string) (uid, gid uint32) {
	t.Helper()
	st, err := os.Lstat(p)
	if err != nil {
		t.Fatal(err)
	}
	s := st.Sys().(*syscall.Stat_t)
	return s.Uid, s.Gid
}

func noPwned(t *testing.T, dirs ...string) {
	t.Helper()
	for _, d := range append(dirs, ".") {
		if _, err := os.Stat(filepath.Join(d, "pwned")); err == nil {
			t.Fatalf("a hostile value was executed (pwned exists in %s)", d)
		}
	}
}

func needRoot(t *testing.T) {
	t.Helper()
	if os.Geteuid() != 0 {
		if os.Getenv("DROVER_REQUIRE_FLEET") == "1" {
			t.Fatal("this test needs root")
		}
		t.Skip("needs root")
	}
}

func TestFileApplyLocal(t *testing.T) {
	conn := moduletest.Local(t)
	dir := t.TempDir()
	p := filepath.Join(dir, hostileName)
	file := mod(t, "file")

	plan, _ := moduletest.ApplyValues(t, conn, file, map[string]cty.Value{
		"path": str(p), "content": str(hostileContent), "mode": str("0640"),
	})
	if c := plan.Changes[0]; c.Action != contract.Create || c.Subject != p {
		t.Errorf("first plan: %s", moduletest.Describe(plan))
	}
	if got := readFile(t, p); got != hostileContent {
		t.Errorf("content %q, want %q", got, hostileContent)
	}
	if m := fileMode(t, p); m.Perm() != 0o640 {
		t.Errorf("mode %v", m)
	}

	// Binary old content: the change shows checksums, no diff.
	plan, _ = moduletest.ApplyValues(t, conn, file, map[string]cty.Value{
		"path": str(p), "content": str("old\ncontent\n"),
	})
	if c := plan.Changes[0]; c.Action != contract.Update || c.Diff != "" || len(c.Attrs) != 1 || c.Attrs[0].Name != "sha256" {
		t.Errorf("update plan: %s", moduletest.Describe(plan))
	}
	// Text: a diff, and the mode is kept.
	plan, _ = moduletest.ApplyValues(t, conn, file, map[string]cty.Value{
		"path": str(p), "content": str("new\ncontent\n"),
	})
	if c := plan.Changes[0]; c.Action != contract.Update || !strings.Contains(c.Diff, "-old\n+new\n") {
		t.Errorf("update plan: %s", moduletest.Describe(plan))
	}
	if m := fileMode(t, p); m.Perm() != 0o640 {
		t.Errorf("mode changed by a content update: %v", m)
	}

	// A mode-only change uploads nothing.
	plan, _ = moduletest.ApplyValues(t, conn, file, map[string]cty.Value{
		"path": str(p), "content": str("new\ncontent\n"), "mode": str("600"),
	})
	for _, st := range plan.Steps {
		if len(st.Uploads) > 0 {
			t.Error("a mode-only change uploads the content")
		}
	}
	if m := fileMode(t, p); m.Perm() != 0o600 {
		t.Errorf("mode %v", m)
	}

	// Absent removes it; nothing else in the directory is touched.
	moduletest.ApplyValues(t, conn, file, map[string]cty.Value{"path": str(p), "state": str("absent")})
	if _, err := os.Lstat(p); !os.IsNotExist(err) {
		t.Errorf("file still there: %v", err)
	}
	if ents, _ := os.ReadDir(dir); len(ents) != 0 {
		t.Errorf("leftover files: %v", ents)
	}
	noPwned(t, dir)
}

func TestFileOwnerLocal(t *testing.T) {
	needRoot(t)
	conn := moduletest.Local(t)
	p := filepath.Join(t.TempDir(), "owned")
	file := mod(t, "file")
	moduletest.ApplyValues(t, conn, file, map[string]cty.Value{
		"path": str(p), "content": str("x"), "owner": str("nobody"), "group": str("nogroup"),
	})
	if uid, gid := owner(t, p); uid != 65534 || gid != 65534 {
		t.Errorf("owner %d:%d", uid, gid)
	}
	// Ownership by number; content update keeps the group.
	plan, _ := moduletest.ApplyValues(t, conn, file, map[string]cty.Value{
		"path": str(p), "content": str("y"), "owner": str("0"),
	})
	if uid, gid := owner(t, p); uid != 0 || gid != 65534 {
		t.Errorf("owner %d:%d after update; plan:\n%s", uid, gid, moduletest.Describe(plan))
	}
}

// A file changed between plan and apply still ends with the desired content.
func TestFileStalePlanLocal(t *testing.T) {
	conn := moduletest.Local(t)
	p := filepath.Join(t.TempDir(), "f")
	os.WriteFile(p, []byte("old\n"), 0o644)
	task := moduletest.Configure(t, mod(t, "file"), contract.Config{Values: moduletest.Values(map[string]cty.Value{
		"path": str(p), "content": str("desired\n"),
	})})
	plan := moduletest.MustPlan(t, conn, task)
	os.WriteFile(p, []byte("changed meanwhile\n"), 0o600)
	moduletest.Apply(t, conn, plan)
	if got := readFile(t, p); got != "desired\n" {
		t.Errorf("content %q", got)
	}
}
