package modules

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/zclconf/go-cty/cty"
)

func TestLocalPath(t *testing.T) {
	outside := t.TempDir()
	secret := filepath.Join(outside, "id_ed25519")
	os.WriteFile(secret, []byte("secret\n"), 0o600)
	root := t.TempDir()
	sub := filepath.Join(root, "roles", "web")
	os.MkdirAll(filepath.Join(sub, "files"), 0o755)
	os.WriteFile(filepath.Join(root, "shared.conf"), []byte("ok\n"), 0o644)
	os.WriteFile(filepath.Join(sub, "files", "a.conf"), []byte("ok\n"), 0o644)
	os.Symlink(secret, filepath.Join(sub, "files", "leak"))
	cfg := Config{Dir: sub, Root: root}
	for _, tc := range []struct {
		p       string
		want    string // "" when refused
		refused bool
	}{
		{p: "files/a.conf", want: filepath.Join(sub, "files", "a.conf")},
		{p: "../../shared.conf", want: filepath.Join(root, "shared.conf")}, // up, but still inside the playbook
		{p: "../../../" + filepath.Base(outside) + "/id_ed25519", refused: true},
		{p: "files/leak", refused: true}, // a link out of the tree
		{p: secret, want: secret},        // absolute: explicit
	} {
		got, err := LocalPath(cfg, tc.p)
		if tc.refused {
			if err == nil || !strings.Contains(err.Error(), "outside the playbook directory") {
				t.Errorf("LocalPath(%q) = %q, %v; want it refused", tc.p, got, err)
			}
			continue
		}
		if err != nil || got != tc.want {
			t.Errorf("LocalPath(%q) = %q, %v; want %q", tc.p, got, err, tc.want)
		}
	}
}

// TestCopyTemplateSourceGuard: copy and template refuse a relative source
// that leaves the playbook directory, and a directory copy refuses a link in
// the tree that points out of it.
func TestCopyTemplateSourceGuard(t *testing.T) {
	outside := t.TempDir()
	os.WriteFile(filepath.Join(outside, "key"), []byte("secret\n"), 0o600)
	root := t.TempDir()
	os.MkdirAll(filepath.Join(root, "tree"), 0o755)
	os.WriteFile(filepath.Join(root, "tree", "ok"), []byte("ok\n"), 0o644)
	os.Symlink(filepath.Join(outside, "key"), filepath.Join(root, "tree", "key"))
	escape := "../" + filepath.Base(outside) + "/key"
	cases := []struct {
		mod    Module
		values cty.Value
	}{
		{copyModule{}, obj("path", "/etc/key", "source", escape)},
		{copyModule{}, obj("path", "/etc/tree", "source", "tree")},
		{templateModule{}, obj("path", "/etc/key", "source", escape)},
	}
	for _, tc := range cases {
		_, err := tc.mod.Configure(Config{Values: tc.values, Dir: root, Root: root})
		if err == nil || !strings.Contains(err.Error(), "outside the playbook directory") {
			t.Errorf("%s %#v: err = %v; want it refused", tc.mod.Spec().Name, tc.values, err)
		}
	}
	// Absolute: the operator's explicit choice.
	abs := obj("path", "/etc/key", "source", filepath.Join(outside, "key"))
	if _, err := (copyModule{}).Configure(Config{Values: abs, Dir: root, Root: root}); err != nil {
		t.Errorf("copy with an absolute source: %v", err)
	}
}
