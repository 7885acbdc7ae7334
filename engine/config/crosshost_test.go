package config

import (
	"strings"
	"testing"

	"github.com/hashicorp/hcl/v2/hclparse"
	"github.com/zclconf/go-cty/cty"

	"github.com/drover-cm/drover/modules/contract"
)

func TestCrossHostDiagnostics(t *testing.T) {
	catalog := contract.NewCatalog(append(append([]contract.Module(nil), fakeModules...),
		fakeModule{&contract.Spec{Name: "service", NeedsFacts: true, Attributes: []contract.Attribute{{Name: "name", Type: cty.String, Required: true}}}})...)
	cases := []struct {
		name, body string
		locals     string
		want       string // "" means valid
	}{
		{name: "inventory data", body: `directory "a" { path = "/${inventory.hosts["web1"].address}/${length(inventory.groups["web"])}" }`},
		{name: "run_once and delegate_to", body: `command "a" {
    run         = ["true"]
    run_once    = true
    delegate_to = "lb1"
  }`},
		{name: "run_once with for_each on variables", body: `directory "a" {
    for_each = toset(inventory.groups["web"])
    path     = "/${each.key}"
    run_once = true
  }`},
		{name: "unknown inventory attribute", body: `directory "a" { path = inventory.host["web1"].address }`,
			want: `site.hcl:4:26: error: Unsupported attribute: inventory has no attribute "host". Did you mean inventory.hosts?`},
		{name: "inventory alone", body: `directory "a" { path = jsonencode(inventory) }`,
			want: `site.hcl:4:37: error: Unsupported attribute: Write inventory.groups["GROUP"] (the names of a group's hosts) or inventory.hosts["HOST"] (a host's name, address, port, user, groups, vars and facts).`},
		{name: "run_once per host", body: `directory "a" {
    path     = "/a"
    run_once = host.name == "web1"
  }`, want: `site.hcl:6:16: error: Invalid reference: host.* cannot be used in run_once: it is evaluated once for all hosts.`},
		{name: "run_once through a local using the host", locals: `locals { first = host.name == "web1" }`, body: `directory "a" {
    path     = "/a"
    run_once = local.first
  }`, want: `site.hcl:6:16: error: Invalid run_once value: run_once must be the same on every host, and local.first depends on the host. Use true, false, a variable or a local that does not use host.*.`},
		{name: "run_once in a per-host for_each", body: `directory "a" {
    for_each = toset(host.groups)
    path     = "/${each.key}"
    run_once = true
  }`, want: `site.hcl:7:16: error: Ambiguous run_once: directory.a's for_each depends on the host (host.*, another task, or a local using them), so each host may have other instances, and which of them runs once for the batch is ambiguous. Make for_each depend only on variables, locals and inventory.groups, or drop run_once.`},
		{name: "run_once in a count from a task", body: `command "n" { run = ["echo", "2"] }
  directory "a" {
    count    = length(command.n.stdout)
    path     = "/${count.index}"
    run_once = true
  }`, want: `site.hcl:8:16: error: Ambiguous run_once: directory.a's count depends on the host (host.*, another task, or a local using them), so each host may have other instances, and which of them runs once for the batch is ambiguous. Make count depend only on variables, locals and inventory.groups, or drop run_once.`},
		{name: "delegated service", body: `service "nginx" {
    name        = "nginx"
    delegate_to = "lb1"
  }`, want: `site.hcl:6:19: error: Module cannot be delegated: A service task configures itself from the facts of the host it runs on, which delegate_to would take from the wrong host. Put the task in a play for the delegated host, or use command or shell.`},
		{name: "delegate_to to an undeclared task", body: `directory "a" {
    path        = "/a"
    delegate_to = command.lb.stdout
  }`, want: `site.hcl:6:19: error: Reference to undeclared task: Play "web" has no command task named "lb".`},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			src := c.locals + "\nplay \"web\" {\n  hosts = \"all\"\n  " + c.body + "\n}\n"
			p := hclparse.NewParser()
			f, diags := p.ParseHCL([]byte(src), "site.hcl")
			if !diags.HasErrors() {
				_, diags = Load(catalog, t.TempDir(), f)
			}
			var got []string
			for _, d := range diags {
				got = append(got, Compact(d))
			}
			if strings.Join(got, "\n") != c.want {
				t.Errorf("diagnostics:\n got: %s\nwant: %s", strings.Join(got, "\n      "), c.want)
			}
		})
	}
}

func TestInventoryInPlayHosts(t *testing.T) {
	_, diags := load(t, `play "web" {
  hosts = inventory.groups["web"]
}`)
	if len(diags) != 1 || !strings.Contains(Compact(diags[0]), "inventory.* cannot be used in the hosts of a play") {
		t.Errorf("diagnostics: %v", diags)
	}
}
