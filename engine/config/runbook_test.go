package config

import (
	"bytes"
	"strings"
	"testing"

	"github.com/hashicorp/hcl/v2"
	"github.com/hashicorp/hcl/v2/hclparse"

	"github.com/drover-cm/drover/modules"
)

func loadRunbook(t *testing.T, src string) (*RunbookFile, string, hcl.Diagnostics) {
	t.Helper()
	p := hclparse.NewParser()
	f, diags := p.ParseHCL([]byte(src), "rb.hcl")
	if diags.HasErrors() {
		t.Fatal(diags)
	}
	rf, diags := LoadRunbooks(modules.Catalog(), t.TempDir(), f)
	var b bytes.Buffer
	_ = WriteDiagnostics(&b, p.Files(), diags, 0, false)
	return rf, b.String(), diags
}

func TestLoadRunbook(t *testing.T) {
	rf, text, diags := loadRunbook(t, `
variable "max_pct" { default = 90 }
runbook "disk" {
  description = "Is a disk full?"
  probe "df" {
    command = "df -P"
    format  = "table"
    columns = ["fs", "blocks", "used", "avail", "pct", "mount"]
  }
  check "full" {
    for_each = { for r in probe.df.rows : r.mount => r }
    crit     = num(each.value.pct) > var.max_pct
    warn     = num(each.value.pct) > 80
    message  = "${each.key} is ${each.value.pct} full"
  }
}`)
	if diags.HasErrors() || len(diags) > 0 {
		t.Fatal(text)
	}
	rb := rf.Runbooks[0]
	if rb.Name != "disk" || rb.Description != "Is a disk full?" || len(rb.Probes.Tasks) != 1 || len(rb.Checks) != 1 {
		t.Fatalf("got %+v", rb)
	}
	if got := strings.Join(rb.Checks[0].Probes, ","); got != "df" {
		t.Errorf("check reads probes %q, want df", got)
	}
}

func TestLoadRunbookErrors(t *testing.T) {
	tests := []struct{ name, src, want string }{
		{"mutating module", `runbook "x" {
  probe "ok" { command = "uptime" }
  file "oops" {
    path    = "/etc/motd"
    content = "hi"
  }
}`, `A runbook cannot change a host

  on rb.hcl line 3, in runbook "x":
   3:   file "oops" {`},
		{"shell is not read-only", `runbook "x" {
  shell "s" { run = "uptime" }
}`, `Module "shell" can change state`},
		{"handler", `runbook "x" {
  handler "h" {
    shell { run = "true" }
  }
}`, "Handlers are not allowed in a runbook"},
		{"undeclared probe", `runbook "x" {
  probe "disk" { command = "df -P" }
  check "c" {
    crit    = probe.dsk.value > 1
    message = "x"
  }
}`, "Did you mean probe.disk?"},
		{"probe reads probe", `runbook "x" {
  probe "a" { command = "uptime" }
  probe "b" { command = probe.a.stdout }
}`, "Tasks cannot be referred to in a probe"},
		{"no condition", `runbook "x" {
  check "c" { message = "x" }
}`, "A check needs crit or warn"},
		{"notify", `runbook "x" {
  probe "a" {
    command = "uptime"
    depends_on = [probe.b]
  }
}`, "depends_on and notify are not allowed in a runbook"},
		{"no runbook", `locals { a = 1 }`, "No runbook"},
		{"facts of another host", `runbook "x" {
  probe "p" { command = "echo ${inventory.hosts["db"].facts.os}" }
}`, "inventory.hosts[NAME].facts is not available in a runbook"},
		{"unknown inventory attribute", `runbook "x" {
  probe "p" { command = "echo ${inventory.hots}" }
}`, "Did you mean inventory.hosts?"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, text, diags := loadRunbook(t, tt.src)
			if !diags.HasErrors() || !strings.Contains(text, tt.want) {
				t.Errorf("want an error containing %q, got:\n%s", tt.want, text)
			}
		})
	}
}

func TestRunbookWarnsAboutMutatingCommands(t *testing.T) {
	_, text, diags := loadRunbook(t, `runbook "x" {
  probe "clean" { command = "rm -rf /var/tmp/cache && df -h" }
}`)
	if diags.HasErrors() || !strings.Contains(text, `Warning: This probe looks like it changes the host`) || !strings.Contains(text, `runs "rm"`) {
		t.Errorf("want a warning about rm, got:\n%s", text)
	}
}

func TestRunbookGivenAsPlaybook(t *testing.T) {
	p := hclparse.NewParser()
	f, _ := p.ParseHCL([]byte("runbook \"x\" {\n}\n"), "rb.hcl")
	_, diags := Load(fakeCatalog(), t.TempDir(), f)
	if !diags.HasErrors() || diags[0].Summary != "Runbook given as a playbook" {
		t.Errorf("got %v", diags)
	}
}
