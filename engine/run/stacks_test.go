package run

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/hashicorp/hcl/v2/hclparse"

	"github.com/drover-cm/drover/engine/config"
	"github.com/drover-cm/drover/modules"
)

// TestApplyStacksTwice applies testdata/plan/stacks (a call with count, one
// with for_each whose input is known only after a task ran, a nested call,
// a stack's handler, an output used by the play): the files are there, each
// call instance's handler ran, and a second apply changes nothing.
func TestApplyStacksTwice(t *testing.T) {
	f := loadFixture(t, "testdata/plan/stacks")
	out, res := f.apply()
	if !res.Recap.OK() {
		t.Fatalf("first apply failed:\n%s", out)
	}
	for name, want := range map[string]string{
		"app0/env": "VERSION=v1", "app1/env": "VERSION=v1", "blue/env": "VERSION=1.4",
		"index":            f.root + "/app0/env\n" + f.root + "/app1/env\n",
		"app0/env.changed": "yes", "app1/env.changed": "yes", "blue/env.changed": "yes",
	} {
		got, err := os.ReadFile(filepath.Join(f.root, name))
		if err != nil || string(got) != want {
			t.Errorf("%s = %q, %v; want %q", name, got, err, want)
		}
	}
	for _, addr := range []string{"stack.app[1].stack.env.handler.changed", `stack.tagged["blue"].stack.env.file.env`} {
		if !strings.Contains(out, addr) {
			t.Errorf("apply output does not name %s:\n%s", addr, out)
		}
	}
	// The second apply runs command.version again (a command always
	// runs) and changes nothing else.
	out, res = f.apply()
	if h := res.Recap.Hosts[0]; h.Tasks.Changed != 1 || h.Tasks.OK != 7 || strings.Count(out, "| changed |") != 1 {
		t.Errorf("second apply should change nothing but run the command: %+v\n%s", h, out)
	}
}

// writeTree writes files (path: content) under a new directory.
func writeTree(t *testing.T, files map[string]string) string {
	t.Helper()
	dir := t.TempDir()
	for p, c := range files {
		full := filepath.Join(dir, p)
		os.MkdirAll(filepath.Dir(full), 0o755)
		if err := os.WriteFile(full, []byte(c), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	return dir
}

// TestValidateStacks: what only evaluation finds is reported by validate,
// before any host: a stack's file functions and module sources cannot leave
// its directory, an input of the wrong type names the variable's
// definition, and a variable's validation runs on the input.
func TestValidateStacks(t *testing.T) {
	cases := []struct {
		name, stack, input, want string
	}{
		{"file outside", `output "x" { value = file("../secret.txt") }
file "f" {
  path    = "/tmp/x"
  content = file("../secret.txt")
}`, "", "outside the playbook directory"},
		{"template outside", `template "t" {
  source = "../site.tftpl"
  path   = "/tmp/x"
}`, "", "outside the playbook directory"},
		{"file inside", `file "f" {
  path    = "/tmp/x"
  content = file("inside.txt")
}`, "", ""},
		{"input type", `variable "port" { type = number }`, `port = var.name`, `does not fit the type of variable "port" of stack "s"`},
		{"input validation", `variable "port" {
  type = number
  validation {
    condition     = var.port > 1024
    error_message = "port must be above 1024."
  }
}`, `port = var.low`, "port must be above 1024."},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			dir := writeTree(t, map[string]string{
				"site/site.hcl": `variable "name" { default = "web" }
variable "low" { default = 80 }
play "p" {
  hosts = "all"
  stack "s" {
    source = "./stack"
    ` + c.input + `
  }
}`,
				"site/stack/main.hcl":   c.stack,
				"site/stack/inside.txt": "ok",
				"site/secret.txt":       "secret",
				"site/site.tftpl":       "x",
			})
			p := hclparse.NewParser()
			pb, diags := config.LoadFiles(p, modules.Catalog(), filepath.Join(dir, "site"))
			if !diags.HasErrors() {
				diags = Validate(pb, nil)
			}
			var b strings.Builder
			config.WriteCompact(&b, diags)
			got := b.String()
			if c.want == "" && diags.HasErrors() || c.want != "" && !strings.Contains(got, c.want) {
				t.Errorf("diagnostics:\n%s\nwant %q", got, c.want)
			}
			if c.name == "input type" && !strings.Contains(got, "stack/main.hcl:1") {
				t.Errorf("the type error does not name the variable's definition:\n%s", got)
			}
		})
	}
}

// TestStackSensitive: a value passed to a stack variable declared
// sensitive, and a sensitive output, are masked in the plan like any
// sensitive value, and still reach the host.
func TestStackSensitive(t *testing.T) {
	dir := writeTree(t, map[string]string{
		"site.hcl": `variable "root" { type = string }
play "p" {
  hosts = "all"
  stack "db" {
    source   = "./db"
    dir      = var.root
    password = "hunter2-very-secret"
  }
  file "copy" {
    path    = "${var.root}/copy"
    content = stack.db.dsn
  }
}`,
		"db/main.hcl": `variable "dir" { type = string }
variable "password" {
  type      = string
  sensitive = true
}
file "conf" {
  path    = "${var.dir}/db.conf"
  content = "password=${var.password}\n"
}
output "dsn" {
  value     = "db://app@localhost/?pw=${var.password}"
  sensitive = true
}`,
	})
	f := loadFixture(t, dir)
	out, res := f.plan()
	if res.Failed() || strings.Contains(out, "hunter2") || !strings.Contains(out, "(sensitive") {
		t.Errorf("plan:\n%s", out)
	}
	out, ares := f.apply()
	if !ares.Recap.OK() || strings.Contains(out, "hunter2") {
		t.Errorf("apply:\n%s", out)
	}
	if b, _ := os.ReadFile(filepath.Join(f.root, "db.conf")); string(b) != "password=hunter2-very-secret\n" {
		t.Errorf("db.conf = %q", b)
	}
}
