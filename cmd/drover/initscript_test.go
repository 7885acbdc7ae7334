package main

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func TestCLIInitscript(t *testing.T) {
	site := filepath.Join("..", "..", "examples", "services", "site.hcl")
	r := drover(t, "", "initscript", site)
	if r.code != 0 {
		t.Fatalf("initscript: exit %d\n%s", r.code, r.stderr)
	}
	for _, want := range []string{
		"==> /etc/systemd/system/drover-demo@.service (mode 0644)\n",
		"ExecStart=/usr/local/bin/drover-demo-svc /etc/drover-demo/%i.conf\n",
		"ExecReload=/usr/local/bin/drover-demo-svc --check /etc/drover-demo/%i.conf\nExecReload=/bin/kill -HUP $MAINPID\n",
	} {
		if !strings.Contains(r.stdout, want) {
			t.Errorf("systemd output lacks %q:\n%s", want, r.stdout)
		}
	}

	// --var reaches the definition; sysv gives one script per instance.
	r = drover(t, "", "initscript", "--init", "sysv", "--var", `instances=["one","two","three"]`, site, "drover-demo")
	if r.code != 0 || strings.Count(r.stdout, "==> /etc/init.d/drover-demo-") != 3 || !strings.Contains(r.stdout, "INSTANCE=three\n") {
		t.Errorf("sysv with three instances: exit %d\n%s\n%s", r.code, r.stdout, r.stderr)
	}

	// --out writes the files, OpenRC links included.
	out := t.TempDir()
	r = drover(t, "", "initscript", "--init", "all", "--out", out, site)
	if r.code != 0 {
		t.Fatalf("--out: exit %d\n%s", r.code, r.stderr)
	}
	if l, err := os.Readlink(filepath.Join(out, "etc", "init.d", "drover-demo.alpha")); err != nil || l != "drover-demo" {
		t.Errorf("openrc link: %q %v", l, err)
	}
	if fi, err := os.Stat(filepath.Join(out, "etc", "init.d", "drover-demo-beta")); err != nil || fi.Mode().Perm() != 0o755 {
		t.Errorf("sysv script: %v %v", fi, err)
	}

	// Errors: unknown task, unknown init system, a value known only on a host.
	if r = drover(t, "", "initscript", site, "nope"); r.code != 1 || !strings.Contains(r.stderr, `no init_service task "nope"`) {
		t.Errorf("unknown task: exit %d %s", r.code, r.stderr)
	}
	if r = drover(t, "", "initscript", "--init", "upstart", site); r.code != 64 {
		t.Errorf("unknown init: exit %d %s", r.code, r.stderr)
	}
	dir := t.TempDir()
	p := writeFile(t, dir, "site.hcl", `play "p" {
  hosts = "all"
  init_service "x" {
    command = "/bin/sleep ${host.name}"
  }
}
`)
	if r = drover(t, "", "initscript", p); r.code != 1 || !strings.Contains(r.stderr, "known only on a host") {
		t.Errorf("host value: exit %d %s", r.code, r.stderr)
	}
}
