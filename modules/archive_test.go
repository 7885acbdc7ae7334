package modules

import (
	"archive/tar"
	"archive/zip"
	"bytes"
	"compress/gzip"
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strings"
	"testing"

	"github.com/drover-cm/drover/engine/remote"
	"github.com/drover-cm/drover/modules/contract"
)

func TestArchiveDiff(t *testing.T) {
	dir := t.TempDir()
	os.WriteFile(filepath.Join(dir, "app-1.4.tar.gz"), []byte("pretend tar.gz"), 0o644)
	os.WriteFile(filepath.Join(dir, "site.zip"), []byte("pretend zip"), 0o644)
	sum := hashSum("pretend tar.gz")
	tools := "tool.tar=/bin/tar\ntool.gzip=/bin/gzip\ntool.xz=/bin/xz\ntool.bzip2=/bin/bzip2\ntool.unzip=/bin/unzip\ntool.sha256sum=/bin/sha256sum\nparent=1\n"
	runSysDiff(t, Archive{}, "archive", []sysCase{
		{name: "local-create", dir: dir, values: obj("source", "app-1.4.tar.gz", "dest", "/opt/app", "strip_components", intVal(1), "owner", "app", "group", "app"),
			out: tools},
		{name: "local-in-sync", dir: dir, values: obj("source", "app-1.4.tar.gz", "dest", "/opt/app"), out: tools + "dest=dir\nmarker=" + sum + "\n"},
		{name: "local-changed", dir: dir, values: obj("source", "app-1.4.tar.gz", "dest", "/opt/app", "name", "app"),
			out: tools + "dest=dir\nmarker=" + hashSum("older") + "\n"},
		{name: "zip", dir: dir, values: obj("source", "site.zip", "dest", "/srv/www", "group", "www-data"), out: tools},
		{name: "zip-no-unzip", dir: dir, values: obj("source", "site.zip", "dest", "/srv/www"), out: "tool.tar=/bin/tar\nparent=1\n"},
		{name: "remote-tar-xz", values: obj("source", "/var/cache/"+strings.ReplaceAll(hostileText, "/", "_")+".tar.xz", "remote_source", true, "dest", "/opt/x", "name", "x"),
			out: tools + "srcsum=" + sum + "\n"},
		{name: "remote-missing-source", values: obj("source", "/tmp/a.tar", "remote_source", true, "dest", "/opt/x"), out: tools},
		{name: "remote-in-sync", values: obj("source", "/tmp/a.tar", "remote_source", true, "dest", "/opt/x"),
			out: tools + "srcsum=" + sum + "\ndest=dir\nmarker=" + sum + "\n"},
		{name: "xz-missing", values: obj("source", "/tmp/a.txz", "remote_source", true, "dest", "/opt/x"),
			out: "tool.tar=/bin/tar\ntool.sha256sum=/bin/sha256sum\nparent=1\nsrcsum=" + sum + "\n"},
		{name: "dest-is-file", dir: dir, values: obj("source", "app-1.4.tar.gz", "dest", "/opt/app"), out: tools + "dest=other\n"},
		{name: "no-parent", dir: dir, values: obj("source", "app-1.4.tar.gz", "dest", "/opt/app"), out: strings.Replace(tools, "parent=1\n", "", 1)},
	})
	runSysConfigErrors(t, Archive{}, []sysConfigCase{
		{"missing local file", obj("source", "nope.tar.gz", "dest", "/opt/x"), "remote_source = true"},
		{"unknown format", obj("source", "/x/app.rar", "remote_source", true, "dest", "/opt/x"), "cannot tell the format"},
		{"bad format", obj("source", "/x/app", "remote_source", true, "dest", "/opt/x", "format", "rar"), "not one of"},
		{"strip on zip", obj("source", "/x/a.zip", "remote_source", true, "dest", "/opt/x", "strip_components", intVal(1)), "tar formats only"},
		{"negative strip", obj("source", "/x/a.tar", "remote_source", true, "dest", "/opt/x", "strip_components", intVal(-1)), "between 0 and 64"},
		{"relative dest", obj("source", "/x/a.tar", "remote_source", true, "dest", "opt/x"), "absolute"},
		{"root dest", obj("source", "/x/a.tar", "remote_source", true, "dest", "/"), "other than /"},
		{"relative remote source", obj("source", "a.tar", "remote_source", true, "dest", "/opt/x"), "absolute path on the host"},
		{"bad marker name", obj("source", "/x/a.tar", "remote_source", true, "dest", "/opt/x", "name", "a b"), "marker"},
		{"bad owner", obj("source", "/x/a.tar", "remote_source", true, "dest", "/opt/x", "owner", "a:b"), "owner"},
	})
}

func tarGzBytes(t *testing.T, files map[string]string) []byte {
	t.Helper()
	var buf bytes.Buffer
	gz := gzip.NewWriter(&buf)
	tw := tar.NewWriter(gz)
	names := make([]string, 0, len(files))
	for n := range files {
		names = append(names, n)
	}
	sort.Strings(names)
	for _, n := range names {
		if err := tw.WriteHeader(&tar.Header{Name: n, Mode: 0o644, Size: int64(len(files[n]))}); err != nil {
			t.Fatal(err)
		}
		tw.Write([]byte(files[n]))
	}
	tw.Close()
	gz.Close()
	return buf.Bytes()
}

func zipBytes(t *testing.T, files map[string]string) []byte {
	t.Helper()
	var buf bytes.Buffer
	zw := zip.NewWriter(&buf)
	for n, body := range files {
		w, _ := zw.Create(n)
		w.Write([]byte(body))
	}
	zw.Close()
	return buf.Bytes()
}

// listTree lists the files under dir with their content.
func listTree(t *testing.T, dir string) string {
	t.Helper()
	var lines []string
	filepath.Walk(dir, func(p string, fi os.FileInfo, err error) error {
		if err != nil || p == dir {
			return err
		}
		rel, _ := filepath.Rel(dir, p)
		if fi.IsDir() {
			lines = append(lines, rel+"/")
			return nil
		}
		b, _ := os.ReadFile(p)
		lines = append(lines, rel+"="+strings.TrimSpace(string(b)))
		return nil
	})
	return strings.Join(lines, " ")
}

// Unpacks for real with GNU tar and unzip (dash, bash) and busybox's tar
// and unzip: apply twice, update, and a corrupt archive changes nothing.
func TestArchiveLocal(t *testing.T) {
	if _, err := exec.LookPath("unzip"); err != nil {
		t.Skip("unzip not installed")
	}
	for name, conn := range systemShellConns(t) {
		t.Run(name, func(t *testing.T) {
			local := t.TempDir()
			hostDir := t.TempDir()
			dest := filepath.Join(hostDir, "app dir")
			apply := func(values map[string]any) (bool, error) {
				kv := []any{"dest", dest, "name", "app"}
				for k, v := range values {
					kv = append(kv, k, v)
				}
				task, err := Archive{}.Configure(contract.Config{Values: obj(kv...), Dir: local})
				if err != nil {
					t.Fatal(err)
				}
				outs, err := remote.CheckAll(context.Background(), conn, []contract.Task{task})
				if err != nil {
					t.Fatal(err)
				}
				plan, err := task.Diff(outs[0])
				if err != nil {
					return false, err
				}
				_, err = remote.Apply(context.Background(), conn, plan)
				return plan.Changed(), err
			}
			os.WriteFile(filepath.Join(local, "v1.tar.gz"), tarGzBytes(t, map[string]string{"top/a": "1", "top/sub/b": "2"}), 0o644)
			for i, want := range []bool{true, false} {
				changed, err := apply(map[string]any{"source": "v1.tar.gz", "strip_components": intVal(1)})
				if err != nil || changed != want {
					t.Fatalf("apply %d: changed=%v err=%v", i+1, changed, err)
				}
			}
			if got := listTree(t, dest); got != ".drover-archive-app="+hashSum(string(tarGzBytes(t, map[string]string{"top/a": "1", "top/sub/b": "2"})))+" a=1 sub/ sub/b=2" {
				t.Errorf("tree = %s", got)
			}
			// An update lands over the old content; other files stay.
			os.WriteFile(filepath.Join(dest, "local"), []byte("mine"), 0o644)
			os.Chmod(dest, 0o750)
			os.WriteFile(filepath.Join(local, "v2.zip"), zipBytes(t, map[string]string{"a": "new", "c/d": "3", ".hidden": "h"}), 0o644)
			if changed, err := apply(map[string]any{"source": "v2.zip"}); err != nil || !changed {
				t.Fatalf("zip update: changed=%v err=%v", changed, err)
			}
			got := listTree(t, dest)
			for _, want := range []string{" a=new ", "c/d=3", "local=mine", "sub/b=2", ".hidden=h"} {
				if !strings.Contains(got+" ", want) {
					t.Errorf("after update, tree %s lacks %s", got, want)
				}
			}
			if fi, _ := os.Stat(dest); fi.Mode().Perm() != 0o750 {
				t.Errorf("an update changed dest's mode to %v", fi.Mode().Perm())
			}
			// A corrupt archive fails and leaves dest and its parent as they were.
			os.WriteFile(filepath.Join(local, "bad.tar.gz"), []byte("garbage"), 0o644)
			if _, err := apply(map[string]any{"source": "bad.tar.gz"}); err == nil {
				t.Error("corrupt archive: no error")
			}
			if after := listTree(t, dest); after != got {
				t.Errorf("a failed unpack changed dest:\n%s\n%s", got, after)
			}
			if ents, _ := os.ReadDir(hostDir); len(ents) != 1 {
				t.Errorf("temporary files left beside dest: %v", ents)
			}
		})
	}
}
