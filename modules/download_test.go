package modules

import (
	"context"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/zclconf/go-cty/cty"

	"github.com/drover-cm/drover/engine/remote"
	"github.com/drover-cm/drover/modules/contract"
)

func TestDownloadDiff(t *testing.T) {
	sum := hashSum("content")
	tools := "tool.curl=/usr/bin/curl\ntool.wget=/usr/bin/wget\ntool.sha256sum=/usr/bin/sha256sum\n"
	base := func(kv ...any) cty.Value {
		return obj(append([]any{"url", "https://example.org/x/tool-1.0.tar.gz?a=1&b=$(id)", "path", "/opt/tool.tar.gz", "checksum", "sha256:" + strings.ToUpper(sum)}, kv...)...)
	}
	runSysDiff(t, Download{}, "download", []sysCase{
		{name: "fetch-curl", values: base("owner", "app", "group", "app", "mode", "0750"), out: tools + "dir=1\n"},
		{name: "fetch-wget", values: base(), out: "tool.wget=/bin/wget\ntool.sha256sum=/bin/sha256sum\ndir=1\n"},
		{name: "fetch-no-client", values: base(), out: "tool.sha256sum=/bin/sha256sum\ndir=1\n"},
		{name: "fetch-no-sha256sum", values: base(), out: "tool.curl=/usr/bin/curl\ndir=1\n"},
		{name: "fetch-controller", values: base("on", "controller"), out: "tool.sha256sum=/bin/sha256sum\ndir=1\n"},
		{name: "replace-other-content", values: base(), out: tools + "dir=1\nsum=" + hashSum("old") + "\nstat=644 root root\n"},
		{name: "in-sync", values: base("owner", "app"), out: tools + "dir=1\nsum=" + sum + "\nstat=644 app app\n"},
		{name: "fix-mode-and-owner", values: base("owner", "app", "group", "staff", "mode", "0600"), out: tools + "dir=1\nsum=" + sum + "\nstat=644 root root\n"},
		{name: "no-directory", values: base(), out: tools},
		{name: "not-a-file", values: base(), out: tools + "dir=1\nnotfile=1\n"},
		{name: "hostile-path", values: obj("url", "http://h/x", "path", "/opt/"+strings.ReplaceAll(hostileText, "/", "_"), "checksum", "sha256:"+sum),
			out: tools + "dir=1\n"},
	})
	runSysConfigErrors(t, Download{}, []sysConfigCase{
		{"no checksum", obj("url", "http://h/x", "path", "/x"), "checksum: is required"},
		{"md5 checksum", obj("url", "http://h/x", "path", "/x", "checksum", "md5:"+sum[:32]), "sha256:"},
		{"short checksum", obj("url", "http://h/x", "path", "/x", "checksum", "sha256:abc"), "64 hex digits"},
		{"file url", obj("url", "file:///etc/passwd", "path", "/x", "checksum", "sha256:"+sum), "not an http"},
		{"option url", obj("url", "-K/etc/passwd", "path", "/x", "checksum", "sha256:"+sum), "not an http"},
		{"relative path", obj("url", "http://h/x", "path", "x", "checksum", "sha256:"+sum), "absolute"},
		{"directory path", obj("url", "http://h/x", "path", "/opt/", "checksum", "sha256:"+sum), "absolute path of a file"},
		{"bad mode", obj("url", "http://h/x", "path", "/x", "checksum", "sha256:"+sum, "mode", "rw-r--r--"), "octal"},
		{"bad on", obj("url", "http://h/x", "path", "/x", "checksum", "sha256:"+sum, "on", "both"), "target"},
		{"ftp on controller", obj("url", "ftp://h/x", "path", "/x", "checksum", "sha256:"+sum, "on", "controller"), "http and https"},
		{"bad owner", obj("url", "http://h/x", "path", "/x", "checksum", "sha256:"+sum, "owner", "$(id)"), "owner"},
	})
}

// A real fetch with curl (dash, bash) and busybox wget, and on the
// controller, into temporary directories: apply twice, and a wrong checksum
// or a 404 leaves nothing behind.
func TestDownloadLocal(t *testing.T) {
	content := "tool\x00binary\n"
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path == "/tool" {
			w.Write([]byte(content))
			return
		}
		http.NotFound(w, r)
	}))
	defer srv.Close()
	conns := systemShellConns(t)
	for name, conn := range conns {
		for _, on := range []string{"target", "controller"} {
			t.Run(name+"/"+on, func(t *testing.T) {
				dir := t.TempDir()
				dest := filepath.Join(dir, "tool bin")
				apply := func(url, sum string) error {
					task, err := Download{}.Configure(contract.Config{Values: obj("url", url, "path", dest, "checksum", "sha256:"+sum, "mode", "0700", "on", on)})
					if err != nil {
						t.Fatal(err)
					}
					outs, err := remote.CheckAll(context.Background(), conn, []contract.Task{task})
					if err != nil {
						t.Fatal(err)
					}
					plan, err := task.Diff(outs[0])
					if err != nil {
						return err
					}
					_, err = remote.Apply(context.Background(), conn, plan)
					return err
				}
				if err := apply(srv.URL+"/tool", hashSum("other")); err == nil || !strings.Contains(err.Error(), "checksum mismatch") {
					t.Errorf("wrong checksum: err = %v", err)
				}
				if err := apply(srv.URL+"/missing", hashSum(content)); err == nil {
					t.Errorf("404: no error")
				}
				if ents, _ := os.ReadDir(dir); len(ents) != 0 {
					t.Fatalf("failed downloads left files: %v", ents)
				}
				if err := apply(srv.URL+"/tool", hashSum(content)); err != nil {
					t.Fatal(err)
				}
				got, err := os.ReadFile(dest)
				if err != nil || string(got) != content {
					t.Fatalf("content = %q, %v", got, err)
				}
				if fi, _ := os.Stat(dest); fi.Mode().Perm() != 0o700 {
					t.Errorf("mode = %v", fi.Mode())
				}
				// Second run: nothing to do, even with the server gone.
				task, _ := Download{}.Configure(contract.Config{Values: obj("url", "http://127.0.0.1:1/gone", "path", dest, "checksum", "sha256:"+hashSum(content), "mode", "0700", "on", on)})
				outs, err := remote.CheckAll(context.Background(), conn, []contract.Task{task})
				if err != nil {
					t.Fatal(err)
				}
				if plan, err := task.Diff(outs[0]); err != nil || plan.Changed() {
					t.Errorf("second plan: %v, %v", err, plan)
				}
			})
		}
	}
}
