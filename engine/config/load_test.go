package config

import (
	"strings"
	"testing"

	"github.com/hashicorp/hcl/v2"
	"github.com/hashicorp/hcl/v2/hclparse"
)

func load(t *testing.T, src string) (*Playbook, hcl.Diagnostics) {
	t.Helper()
	p := hclparse.NewParser()
	f, diags := p.ParseHCL([]byte(src), "site.hcl")
	if diags.HasErrors() {
		return nil, diags
	}
	return Load(fakeCatalog(), t.TempDir(), f)
}

func TestLoadValid(t *testing.T) {
	pb, diags := load(t, `
variable "app_port" {
  type    = number
  default = 8080
  validation {
    condition     = var.app_port > 1024
    error_message = "app_port must be above 1024."
  }
}
variable "secret" {
  type      = string
  sensitive = true
}
locals { root = "/srv/app" }
play "web" {
  hosts  = "web:&prod"
  become = true
  directory "app" {
    path  = local.root
    owner = "app"
  }
  template "site" {
    source = "site.tftpl"
    path   = "/etc/site.conf"
    vars   = { port = var.app_port, root = directory.app.path }
    notify = [handler.reload]
  }
  command "migrate" {
    run        = ["/srv/app/bin/migrate"]
    creates    = "/srv/app/.migrated"
    when       = host.vars.role == "primary"
    depends_on = [template.site]
  }
  directory "each" {
    for_each = toset(["a", "b"])
    path     = "${local.root}/${each.key}"
  }
  handler "reload" {
    command { run = ["true", command.migrate.stdout] }
  }
}
`)
	if diags.HasErrors() {
		t.Fatalf("unexpected diagnostics: %v", diags)
	}
	if got := pb.VariableOrder; strings.Join(got, ",") != "app_port,secret" {
		t.Errorf("variables = %v", got)
	}
	v := pb.Variables["app_port"]
	if v.Default.AsBigFloat().String() != "8080" || len(v.Validations) != 1 {
		t.Errorf("app_port = %#v", v)
	}
	if !pb.Variables["secret"].Sensitive {
		t.Errorf("secret not sensitive")
	}
	pl := pb.Plays[0]
	var addrs []string
	for _, tk := range pl.Tasks {
		addrs = append(addrs, tk.Addr())
	}
	if got := strings.Join(addrs, " "); got != "directory.app template.site command.migrate directory.each" {
		t.Errorf("tasks = %s", got)
	}
	site := pl.Task("template", "site")
	if len(site.Refs) != 1 || site.Refs[0].Addr() != "directory.app" {
		t.Errorf("template.site refs = %v", site.Refs)
	}
	if len(site.Notify) != 1 || site.Notify[0].Addr() != "handler.reload" {
		t.Errorf("notify = %v", site.Notify)
	}
	mig := pl.Task("command", "migrate")
	if mig.When == nil || len(mig.DependsOn) != 1 || mig.DependsOn[0].Addr() != "template.site" {
		t.Errorf("migrate meta: when=%v depends_on=%v", mig.When, mig.DependsOn)
	}
	h := pl.Handler("reload")
	if h == nil || h.Type != "command" || !h.Handler || h.Addr() != "handler.reload" || len(h.Refs) != 1 {
		t.Errorf("handler = %#v", h)
	}
	g, ds := PlayGraph(pl)
	if ds.HasErrors() {
		t.Fatal(ds)
	}
	order, _ := g.TopoOrder()
	var names []string
	for _, tk := range order {
		names = append(names, tk.Addr())
	}
	if got := strings.Join(names, " "); got != "directory.app template.site command.migrate directory.each" {
		t.Errorf("order = %s", got)
	}
}

// Each case is a playbook with one mistake and the exact diagnostics, in
// compact form (file:line:col: error: summary: detail).
func TestLoadDiagnostics(t *testing.T) {
	cases := []struct {
		name, src string
		want      []string
	}{
		{
			name: "unknown module type",
			src: `play "web" {
  hosts = "all"
  templat "site" {}
}`,
			want: []string{`site.hcl:3:3: error: Unknown module type: There is no module "templat". Did you mean "template"? Run "drover modules" to list every module.`},
		},
		{
			name: "unknown attribute",
			src: `play "web" {
  hosts = "all"
  directory "app" {
    pth = "/srv"
  }
}`,
			want: []string{
				`site.hcl:3:19: error: Missing required argument: The argument "path" is required, but no definition was found.`,
				`site.hcl:4:5: error: Unsupported argument: An argument named "pth" is not expected here. Did you mean "path"?`,
			},
		},
		{
			name: "undeclared variable",
			src: `variable "app_port" { default = 1 }
play "web" {
  hosts = "all"
  directory "app" { path = "/srv/${var.app_prot}" }
}`,
			want: []string{`site.hcl:4:36: error: Reference to undeclared variable: No variable "app_prot" is declared. Did you mean var.app_port?`},
		},
		{
			name: "undeclared local",
			src: `play "web" {
  hosts = "all"
  directory "app" { path = local.root }
}`,
			want: []string{`site.hcl:3:28: error: Reference to undeclared local value: No local value "root" is declared.`},
		},
		{
			name: "missing task",
			src: `play "web" {
  hosts = "all"
  directory "app" { path = "/srv" }
  directory "logs" { path = "${directory.ap.path}/logs" }
}`,
			want: []string{`site.hcl:4:32: error: Reference to undeclared task: Play "web" has no directory task named "ap". Did you mean directory.app?`},
		},
		{
			name: "missing depends_on target",
			src: `play "web" {
  hosts = "all"
  directory "app" {
    path       = "/srv"
    depends_on = [command.migrate]
  }
}`,
			want: []string{`site.hcl:5:19: error: Reference to undeclared task: Play "web" has no command task named "migrate".`},
		},
		{
			name: "missing handler",
			src: `play "web" {
  hosts = "all"
  directory "app" {
    path   = "/srv"
    notify = [handler.relaod]
  }
  handler "reload" {
    command { run = ["true"] }
  }
}`,
			want: []string{`site.hcl:5:15: error: Reference to undeclared handler: Play "web" has no handler named "relaod". Did you mean handler.reload?`},
		},
		{
			name: "cycle",
			src: `play "web" {
  hosts = "all"
  directory "a" { path = directory.c.path }
  directory "b" { path = directory.a.path }
  directory "c" {
    path       = "/c"
    depends_on = [directory.b]
  }
}`,
			want: []string{`site.hcl:3:3: error: Dependency cycle: In play "web" these tasks depend on each other: directory.a → directory.b → directory.c → directory.a. Remove a reference or a depends_on entry to break the cycle.`},
		},
		{
			name: "each without for_each",
			src: `play "web" {
  hosts = "all"
  directory "a" { path = each.key }
}`,
			want: []string{`site.hcl:3:26: error: Invalid reference: each.key and each.value can be used only in a task with for_each, not in a task or in for_each itself.`},
		},
		{
			name: "host in hosts",
			src: `play "web" {
  hosts = host.name
  directory "a" { path = "/a" }
}`,
			want: []string{`site.hcl:2:11: error: Invalid reference: host.* cannot be used in the hosts of a play: it is evaluated once for all hosts.`},
		},
		{
			name: "duplicate task",
			src: `play "web" {
  hosts = "all"
  directory "a" { path = "/a" }
  directory "a" { path = "/b" }
}`,
			want: []string{`site.hcl:4:13: error: Duplicate directory task "a": A directory task named "a" was already declared at site.hcl:3,3-16. Names must be unique.`},
		},
		{
			name: "handler with two tasks",
			src: `play "web" {
  hosts = "all"
  handler "h" {
    command { run = ["a"] }
    command { run = ["b"] }
  }
}`,
			want: []string{`site.hcl:3:3: error: A handler holds exactly one task: Handler "h" has 2 task blocks. Write one, for example: handler "h" { shell { run = "systemctl reload nginx" } }`},
		},
		{
			name: "bad default type",
			src: `variable "port" {
  type    = number
  default = "eighty"
}`,
			want: []string{`site.hcl:3:13: error: Invalid default value for variable: This default value is not compatible with the variable's type constraint number: a number is required.`},
		},
		{
			name: "local cycle",
			src: `locals {
  a = local.b
  b = local.a
}`,
			want: []string{`site.hcl:2:3: error: Local values refer to each other in a cycle: Cycle: local.a → local.b → local.a. Break it by computing one of them without the others.`},
		},
		{
			name: "for_each and count",
			src: `play "web" {
  hosts = "all"
  directory "a" {
    for_each = toset(["x"])
    count    = 2
    path     = "/a"
  }
}`,
			want: []string{`site.hcl:5:16: error: Both for_each and count: A task may use for_each or count, not both.`},
		},
		{
			name: "inventory given as a playbook",
			src: `# hosts
host "web1" { address = "10.0.0.1" }
group "web" { hosts = ["web1"] }`,
			want: []string{`site.hcl:2:1: error: Inventory file given as a playbook: This file declares hosts or groups: it is an inventory. Pass it with -i, and the playbook (variable, locals and play blocks) as the argument.`},
		},
		{
			name: "bad notify entry",
			src: `play "web" {
  hosts = "all"
  directory "a" {
    path   = "/a"
    notify = ["reload"]
  }
}`,
			want: []string{`site.hcl:5:15: error: Invalid notify entry: Each entry of notify must name a handler such as handler.reload_nginx, without quotes.`},
		},
		{
			name: "tags from a variable",
			src: `variable "t" { default = ["a"] }
play "web" {
  hosts = "all"
  directory "a" {
    path = "/a"
    tags = var.t
  }
}`,
			want: []string{`site.hcl:6:12: error: Invalid tags: tags must be a list of names written out, such as tags = ["deploy", "web"]: they are read before variables and hosts are known.`},
		},
		{
			name: "tag with a comma",
			src: `play "web" {
  hosts = "all"
  tags  = ["a,b"]
  directory "a" { path = "/a" }
}`,
			want: []string{`site.hcl:3:11: error: Invalid tags: Tag "a,b" is not a name: tags may not be empty or hold commas or spaces (--tags a,b splits on commas).`},
		},
		{
			name: "tags on a handler",
			src: `play "web" {
  hosts = "all"
  handler "h" {
    tags = ["x"]
    directory { path = "/a" }
  }
}`,
			want: []string{`site.hcl:4:12: error: Handlers have no tags: A handler runs when a task notifies it: a selection (--tags, --target) runs the handlers its tasks notify. Tag the tasks instead.`},
		},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			_, diags := load(t, c.src)
			var got []string
			for _, d := range diags {
				got = append(got, Compact(d))
			}
			if strings.Join(got, "\n") != strings.Join(c.want, "\n") {
				t.Errorf("diagnostics:\n got: %s\nwant: %s", strings.Join(got, "\n      "), strings.Join(c.want, "\n      "))
			}
		})
	}
}

func TestWriteDiagnosticsUnderlines(t *testing.T) {
	p := hclparse.NewParser()
	f, _ := p.ParseHCL([]byte("play \"web\" {\n  hosts = \"all\"\n\tdirectory \"a\" { path = local.nope }\n}\n"), "site.hcl")
	_, diags := Load(fakeCatalog(), t.TempDir(), f)
	var b strings.Builder
	if err := WriteDiagnostics(&b, p.Files(), diags, 0, false); err != nil {
		t.Fatal(err)
	}
	want := "Error: Reference to undeclared local value\n\n" +
		"  on site.hcl line 3, in play \"web\":\n" +
		"   3: \tdirectory \"a\" { path = local.nope }\n" +
		"      \t                       ^^^^^^^^^^\n\n" +
		"No local value \"nope\" is declared.\n\n"
	if b.String() != want {
		t.Errorf("got:\n%q\nwant:\n%q", b.String(), want)
	}
}

// A task has its own tags, then its play's; the playbook lists them all.
func TestLoadTags(t *testing.T) {
	pb, diags := load(t, `play "web" {
  hosts = "all"
  tags  = ["web", "app"]
  directory "a" {
    path = "/a"
    tags = ["deploy", "web"]
  }
  directory "b" { path = "/b" }
}`)
	if diags.HasErrors() {
		t.Fatal(diags)
	}
	for _, c := range []struct {
		task *Task
		want string
	}{{pb.Plays[0].Tasks[0], "deploy web app"}, {pb.Plays[0].Tasks[1], "web app"}} {
		if got := strings.Join(c.task.Tags, " "); got != c.want {
			t.Errorf("%s tags = %q, want %q", c.task.Addr(), got, c.want)
		}
	}
	if got := strings.Join(pb.Tags(), " "); got != "app deploy web" {
		t.Errorf("playbook tags = %q", got)
	}
}
