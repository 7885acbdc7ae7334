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

// TestCLIInitscriptStacks: init_service tasks inside stacks are rendered in
// their call's scope (inputs, the stack's defaults and locals), once per
// instance of a for_each call, nested calls included; an input only a host
// knows is the same error as in the play.
func TestCLIInitscriptStacks(t *testing.T) {
	dir := t.TempDir()
	for _, d := range []string{"svc", "inner"} {
		if err := os.Mkdir(filepath.Join(dir, d), 0o755); err != nil {
			t.Fatal(err)
		}
	}
	writeFile(t, dir, "svc/main.hcl", `variable "name" { type = string }
variable "port" {
  type    = number
  default = 7000
}
locals {
  bin = "/usr/local/bin/${var.name}"
}
directory "data" { path = "/var/lib/${var.name}" }
init_service "svc" {
  name    = var.name
  command = "${local.bin} --port ${var.port} --data ${directory.data.path}"
}
stack "helper" {
  source = "../inner"
  name   = "${var.name}-helper"
}
`)
	writeFile(t, dir, "inner/main.hcl", `variable "name" { type = string }
init_service "helper" {
  name    = var.name
  command = "/usr/bin/helper ${var.name}"
}
`)
	site := writeFile(t, dir, "site.hcl", `variable "apps" {
  type    = map(number)
  default = { alpha = 7001, beta = 7002 }
}
play "p" {
  hosts = "all"
  stack "app" {
    source   = "./svc"
    for_each = var.apps
    name     = each.key
    port     = each.value
  }
  stack "plain" {
    source = "./svc"
    name   = "plain"
  }
}
`)
	r := drover(t, "", "initscript", site)
	if r.code != 0 {
		t.Fatalf("initscript: exit %d\n%s", r.code, r.stderr)
	}
	for _, want := range []string{
		"==> /etc/systemd/system/alpha.service (mode 0644)\n",
		"ExecStart=/usr/local/bin/alpha --port 7001 --data /var/lib/alpha\n",
		"ExecStart=/usr/local/bin/beta --port 7002 --data /var/lib/beta\n",
		"ExecStart=/usr/local/bin/plain --port 7000 --data /var/lib/plain\n",
		"==> /etc/systemd/system/alpha-helper.service (mode 0644)\n",
		"ExecStart=/usr/bin/helper beta-helper\n",
		"ExecStart=/usr/bin/helper plain-helper\n",
	} {
		if !strings.Contains(r.stdout, want) {
			t.Errorf("output lacks %q:\n%s", want, r.stdout)
		}
	}
	// TASK selects by label, in stacks too.
	r = drover(t, "", "initscript", site, "helper")
	if r.code != 0 || strings.Count(r.stdout, "==> ") != 6 || strings.Count(r.stdout, "ExecStart=/usr/bin/helper ") != 3 || strings.Contains(r.stdout, "/usr/local/bin/") {
		t.Errorf("initscript helper: exit %d\n%s\n%s", r.code, r.stdout, r.stderr)
	}

	// An input that only a host tells.
	writeFile(t, dir, "site.hcl", `play "p" {
  hosts = "all"
  stack "app" {
    source = "./svc"
    name   = host.name
  }
}
`)
	if r = drover(t, "", "initscript", site, "svc"); r.code != 1 || !strings.Contains(r.stderr, "stack.app.init_service.svc: an attribute depends on host.*") {
		t.Errorf("host input: exit %d %s", r.code, r.stderr)
	}

	// The recipe book's redis stack.
	r = drover(t, "", "initscript", filepath.Join("..", "..", "examples", "stacks", "site.hcl"), "redis")
	if r.code != 0 || !strings.Contains(r.stdout, "ExecStart=/usr/bin/redis-server /etc/redis-stack/%i.conf\n") {
		t.Errorf("examples/stacks redis: exit %d\n%s\n%s", r.code, r.stdout, r.stderr)
	}
}
