package localpath

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func TestResolve(t *testing.T) {
	tmp := t.TempDir()
	root := filepath.Join(tmp, "pb")
	outside := filepath.Join(tmp, "home", ".ssh")
	allowed := filepath.Join(tmp, "artifacts")
	evil := filepath.Join(tmp, "pb-evil") // shares root's name as a prefix
	for _, d := range []string{filepath.Join(root, "roles", "web"), outside, allowed, evil} {
		if err := os.MkdirAll(d, 0o755); err != nil {
			t.Fatal(err)
		}
	}
	write := func(p string) {
		if err := os.WriteFile(p, []byte("x\n"), 0o600); err != nil {
			t.Fatal(err)
		}
	}
	write(filepath.Join(root, "a.conf"))
	write(filepath.Join(outside, "id_ed25519"))
	write(filepath.Join(allowed, "app.tar.gz"))
	write(filepath.Join(evil, "x"))
	os.Symlink(filepath.Join(outside, "id_ed25519"), filepath.Join(root, "leak"))
	os.Symlink(filepath.Join(allowed, "app.tar.gz"), filepath.Join(root, "app.tar.gz"))
	os.Symlink("a.conf", filepath.Join(root, "alias"))
	os.Symlink(root, filepath.Join(tmp, "pb-link")) // the playbook reached through a link
	web := filepath.Join(root, "roles", "web")

	for _, tc := range []struct {
		name      string
		rule      Rule
		base, p   string
		want      string // "" when refused
		errSubstr string
	}{
		{name: "relative", rule: Rule{Root: root}, p: "a.conf", want: filepath.Join(root, "a.conf")},
		{name: "relative to the declaring file", rule: Rule{Root: root}, base: web, p: "../../a.conf", want: filepath.Join(root, "a.conf")},
		{name: "absolute inside", rule: Rule{Root: root}, p: filepath.Join(root, "a.conf"), want: filepath.Join(root, "a.conf")},
		{name: "link inside", rule: Rule{Root: root}, p: "alias", want: filepath.Join(root, "a.conf")},
		{name: "missing inside", rule: Rule{Root: root}, p: "new.conf", want: filepath.Join(root, "new.conf")},
		{name: "root through a link", rule: Rule{Root: filepath.Join(tmp, "pb-link")}, p: "a.conf", want: filepath.Join(root, "a.conf")},
		{name: "dotdot out", rule: Rule{Root: root}, p: "../home/.ssh/id_ed25519", errSubstr: "is outside the playbook directory " + root},
		{name: "absolute out", rule: Rule{Root: root}, p: filepath.Join(outside, "id_ed25519"), errSubstr: "--allow-local DIR"},
		{name: "link out", rule: Rule{Root: root}, p: "leak", errSubstr: "a link to " + filepath.Join(outside, "id_ed25519")},
		{name: "name prefix is not inside", rule: Rule{Root: root}, p: filepath.Join(evil, "x"), errSubstr: "outside"},
		{name: "missing outside", rule: Rule{Root: root}, p: "/nonexistent/key", errSubstr: "outside"},
		{name: "empty", rule: Rule{Root: root}, p: "", errSubstr: "empty"},
		{name: "allowed absolute", rule: Rule{Root: root, Allow: []string{allowed}}, p: filepath.Join(allowed, "app.tar.gz"), want: filepath.Join(allowed, "app.tar.gz")},
		{name: "link into an allowed directory", rule: Rule{Root: root, Allow: []string{allowed}}, p: "app.tar.gz", want: filepath.Join(allowed, "app.tar.gz")},
		{name: "allowed is not everything", rule: Rule{Root: root, Allow: []string{allowed}}, p: filepath.Join(outside, "id_ed25519"), errSubstr: "allowed with --allow-local (" + allowed + ")"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got, err := tc.rule.Resolve(tc.base, tc.p)
			if tc.errSubstr != "" {
				if err == nil || !strings.Contains(err.Error(), tc.errSubstr) {
					t.Fatalf("Resolve(%q) = %q, %v; want an error containing %q", tc.p, got, err, tc.errSubstr)
				}
				return
			}
			if err != nil || got != tc.want {
				t.Fatalf("Resolve(%q) = %q, %v; want %q", tc.p, got, err, tc.want)
			}
		})
	}
}
