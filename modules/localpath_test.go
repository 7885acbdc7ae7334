package modules_test

import (
	"archive/tar"
	"bytes"
	"compress/gzip"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/zclconf/go-cty/cty"

	"github.com/drover-cm/drover/modules/contract"
	"github.com/drover-cm/drover/modules/moduletest"
)

// TestLocalPathRule: every module attribute that reads a file on the
// controller follows the one local path rule: inside the playbook directory
// (relative, absolute or through a link), nowhere else unless the operator
// allowed the directory (Config.AllowLocal, from --allow-local).
func TestLocalPathRule(t *testing.T) {
	tmp := t.TempDir()
	root := filepath.Join(tmp, "pb")
	outside := filepath.Join(tmp, "elsewhere")
	for _, d := range []string{filepath.Join(root, "roles", "web"), filepath.Join(outside, "tree"), filepath.Join(root, "tree")} {
		if err := os.MkdirAll(d, 0o755); err != nil {
			t.Fatal(err)
		}
	}
	tgz := string(gzipTar(t))
	for _, dir := range []string{root, outside} {
		for name, content := range map[string]string{"key": "-----BEGIN OPENSSH PRIVATE KEY-----\nsecret\n", "app.tar.gz": tgz, "t.tftpl": "hi\n", "tree/f": "f\n"} {
			if err := os.WriteFile(filepath.Join(dir, name), []byte(content), 0o600); err != nil {
				t.Fatal(err)
			}
		}
	}

	git := map[string]cty.Value{"repo": cty.StringVal("https://example.org/r.git"), "dest": cty.StringVal("/srv/r")}
	with := func(m map[string]cty.Value, k, v string) map[string]cty.Value {
		out := map[string]cty.Value{k: cty.StringVal(v)}
		for a, b := range m {
			out[a] = b
		}
		return out
	}
	dest := map[string]cty.Value{"path": cty.StringVal("/srv/x")}
	arch := map[string]cty.Value{"dest": cty.StringVal("/srv/x")}
	for _, tc := range []struct {
		module, attr string
		attrs        map[string]cty.Value
		file         string // the local file, relative to the playbook or to outside
	}{
		{module: "copy", attr: "source", attrs: dest, file: "key"},
		{module: "copy", attr: "source", attrs: dest, file: "tree"},
		{module: "template", attr: "source", attrs: dest, file: "t.tftpl"},
		{module: "archive", attr: "source", attrs: arch, file: "app.tar.gz"},
		{module: "release", attr: "source", attrs: dest, file: "app.tar.gz"},
		{module: "release", attr: "source", attrs: dest, file: "tree"},
		{module: "git", attr: "deploy_key", attrs: git, file: "key"},
	} {
		t.Run(tc.module+" "+tc.file, func(t *testing.T) {
			m := mod(t, tc.module)
			configure := func(p string, allow ...string) error {
				_, err := m.Configure(contract.Config{Values: moduletest.Values(with(tc.attrs, tc.attr, p)),
					Dir: filepath.Join(root, "roles", "web"), Root: root, AllowLocal: allow, Name: "app"})
				return err
			}
			refused := func(p string, allow ...string) {
				t.Helper()
				err := configure(p, allow...)
				var ae *contract.AttrError
				if err == nil || !strings.Contains(err.Error(), "outside the playbook directory") || !errors.As(err, &ae) || ae.Attr != tc.attr {
					t.Errorf("%s = %q (allowed %v): err = %v; want it refused at %s", tc.attr, p, allow, err, tc.attr)
				}
			}
			accepted := func(p string, allow ...string) {
				t.Helper()
				if err := configure(p, allow...); err != nil {
					t.Errorf("%s = %q (allowed %v): %v", tc.attr, p, allow, err)
				}
			}
			accepted("../../" + tc.file)
			accepted(filepath.Join(root, tc.file))
			refused("../../../elsewhere/" + tc.file)
			refused(filepath.Join(outside, tc.file))
			refused(filepath.Join(outside, tc.file), filepath.Join(tmp, "other"))
			accepted(filepath.Join(outside, tc.file), outside) // the operator's opt-out
			// A link to the outside file, inside the playbook: refused.
			link := filepath.Join(root, "link-"+strings.ReplaceAll(t.Name(), "/", "_"))
			if err := os.Symlink(filepath.Join(outside, tc.file), link); err != nil {
				t.Fatal(err)
			}
			refused(link)
			accepted(link, outside)
		})
	}

	// A copied tree holding a link out of the playbook is refused.
	os.Symlink(filepath.Join(outside, "key"), filepath.Join(root, "tree", "leak"))
	if _, err := mod(t, "copy").Configure(contract.Config{Values: moduletest.Values(map[string]cty.Value{
		"path": cty.StringVal("/srv/x"), "source": cty.StringVal("tree")}), Dir: root, Root: root}); err == nil || !strings.Contains(err.Error(), "outside the playbook directory") {
		t.Errorf("copy of a tree with a link out: err = %v, want it refused", err)
	}
}

// gzipTar is a small .tar.gz holding one file.
func gzipTar(t *testing.T) []byte {
	var buf bytes.Buffer
	zw := gzip.NewWriter(&buf)
	tw := tar.NewWriter(zw)
	if err := tw.WriteHeader(&tar.Header{Name: "f", Mode: 0o644, Size: 2, Typeflag: tar.TypeReg}); err != nil {
		t.Fatal(err)
	}
	tw.Write([]byte("f\n"))
	tw.Close()
	zw.Close()
	return buf.Bytes()
}
