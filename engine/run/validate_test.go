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

// TestValidate: errors found by evaluating with unknown stand-ins, in
// compact form (file:line:col: error: summary: detail).
func TestValidate(t *testing.T) {
	cases := []struct {
		name, src string
		vars      []string
		allow     []string // --allow-local
		want      []string
	}{
		{
			name: "valid with host and task references",
			src: `
variable "root" { type = string }
play "p" {
  hosts = "all"
  directory "d" { path = "${var.root}/${host.name}" }
  file "f" {
    path    = "${directory.d.path}/f"
    content = "${host.vars.greeting}\n"
    when    = host.vars.enabled
  }
}`,
		},
		{
			name: "inventory, run_once and delegate_to type-check without an inventory",
			src: `
variable "once" { type = bool }
play "p" {
  hosts = "all"
  file "f" {
    path        = "/etc/peers"
    content     = join(",", [for h in inventory.groups["web"] : "${inventory.hosts[h].address}:${inventory.hosts[h].port}"])
    run_once    = var.once
    delegate_to = host.vars.balancer
  }
}`,
		},
		{
			name: "run_once of the wrong type",
			src: `play "p" {
  hosts = "all"
  file "f" {
    path     = "/f"
    content  = "x"
    run_once = "yes please"
  }
}`,
			want: []string{`site.hcl:6:16: error: Invalid run_once value: run_once must be true or false, not string.`},
		},
		{
			name: "wrong attribute type",
			src: `play "p" {
  hosts = "all"
  file "f" {
    path    = "/f"
    content = ["a", "b"]
  }
}`,
			want: []string{`site.hcl:5:15: error: Incorrect attribute value type: Inappropriate value for attribute "content": string required, but have tuple.`},
		},
		{
			name: "retries and retry_delay",
			src: `play "p" {
  hosts = "all"
  shell "a" {
    run         = "true"
    retries     = 1.5
  }
  shell "b" {
    run         = "true"
    retries     = 2
    retry_delay = "soon"
  }
}`,
			want: []string{
				`site.hcl:5:19: error: Invalid retries value: retries is how many times to run the task again after a failed attempt: a whole number from 0 to 100, not number.`,
				`site.hcl:10:19: error: Invalid retry_delay value: retry_delay is the wait between attempts: a duration such as "500ms", "2s" or "1m", at most "1h".`,
			},
		},
		{
			name: "module rejects a value",
			src: `play "p" {
  hosts = "all"
  file "f" {
    path = "relative/path"
  }
}`,
			want: []string{`site.hcl:4:12: error: Invalid value for "path": file.f: must be an absolute path (starting with /), not "relative/path"`},
		},
		{
			name: "module rejects a value inside for_each",
			src: `play "p" {
  hosts = "all"
  file "f" {
    for_each = toset(["a", "b"])
    path     = "/f/${each.key}"
    mode     = "999"
  }
}`,
			want: []string{
				`site.hcl:6:16: error: Invalid value for "mode": file.f["a"]: must be an octal mode string like "0644" or "2775" (3 or 4 octal digits, optionally after a 0), not "999"`,
				`site.hcl:6:16: error: Invalid value for "mode": file.f["b"]: must be an octal mode string like "0644" or "2775" (3 or 4 octal digits, optionally after a 0), not "999"`,
			},
		},
		{
			name: "unknown attribute of another task",
			src: `play "p" {
  hosts = "all"
  directory "d" { path = "/d" }
  file "f" {
    path = "${directory.d.pth}/f"
  }
}`,
			want: []string{`site.hcl:5:26: error: Unsupported attribute: This object does not have an attribute named "pth".`},
		},
		{
			name: "bad for_each",
			src: `play "p" {
  hosts = "all"
  file "f" {
    for_each = ["a", "b"]
    path     = "/f/${each.key}"
  }
}`,
			want: []string{`site.hcl:4:16: error: Invalid for_each value: for_each needs a map, an object or a set of strings, not tuple. Use toset([...]) for a list.`},
		},
		{
			name: "sensitive for_each",
			src: `variable "users" {
  type      = set(string)
  default   = ["alice"]
  sensitive = true
}
play "p" {
  hosts = "all"
  file "f" {
    for_each = var.users
    path     = "/home/${each.key}"
  }
}`,
			want: []string{`site.hcl:9:16: error: Sensitive value in for_each: for_each keys become part of task addresses, which every output shows, so they cannot be sensitive. Use a map whose keys are not secret (its values may be).`},
		},
		{
			name: "bad when",
			src: `play "p" {
  hosts = "all"
  file "f" {
    path = "/f"
    when = "yes please"
  }
}`,
			want: []string{`site.hcl:5:12: error: Invalid when value: when must be true or false, not string.`},
		},
		{
			name: "validation with a given value",
			src: `variable "port" {
  type = number
  validation {
    condition     = var.port > 1024
    error_message = "port must be above 1024."
  }
}`,
			vars: []string{"port=80"},
			want: []string{`site.hcl:4:21: error: Invalid value for variable: port must be above 1024. The value of var.port comes from -var port; this validation rejected it.`},
		},
		{
			name: "undeclared -var",
			src:  `variable "port" { default = 1 }`,
			vars: []string{"prot=80"},
			want: []string{`error: Value for undeclared variable: A value was given for variable "prot", but the playbook declares no such variable. Did you mean "port"?`},
		},
		{
			name: "function error",
			src: `play "p" {
  hosts = "all"
  file "f" {
    path    = "/f"
    content = file("../../etc/passwd")
  }
}`,
			want: []string{`site.hcl:5:15: error: Error in function call: Call to function "file" failed: ../../etc/passwd is outside the playbook directory DIR: drover reads local files only there, since what a playbook reads it can push to a host; move the file into it, or allow its directory with --allow-local DIR if you trust this playbook to read it.`},
		},
	}
	secrets := t.TempDir()
	os.WriteFile(filepath.Join(secrets, "id_ed25519"), []byte("key\n"), 0o600)
	copyKey := `play "p" {
  hosts = "all"
  copy "k" {
    path   = "/root/k"
    source = "` + filepath.Join(secrets, "id_ed25519") + `"
  }
  git "g" {
    repo       = "https://example.org/r.git"
    dest       = "/srv/r"
    deploy_key = "` + filepath.Join(secrets, "id_ed25519") + `"
  }
}`
	cases = append(cases, []struct {
		name, src string
		vars      []string
		allow     []string
		want      []string
	}{
		{name: "local files outside the playbook", src: copyKey, want: []string{
			`site.hcl:5:14: error: Invalid value for "source": copy.k: ` + filepath.Join(secrets, "id_ed25519") + ` is outside the playbook directory DIR: drover reads local files only there, since what a playbook reads it can push to a host; move the file into it, or allow its directory with --allow-local DIR if you trust this playbook to read it`,
			`site.hcl:10:18: error: Invalid value for "deploy_key": git.g: ` + filepath.Join(secrets, "id_ed25519") + ` is outside the playbook directory DIR: drover reads local files only there, since what a playbook reads it can push to a host; move the file into it, or allow its directory with --allow-local DIR if you trust this playbook to read it`,
		}},
		{name: "local files in an allowed directory", src: copyKey, allow: []string{secrets}},
	}...)
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			dir := t.TempDir()
			os.WriteFile(filepath.Join(dir, "site.hcl"), []byte(c.src), 0o644)
			p := hclparse.NewParser()
			pb, diags := config.LoadFiles(p, modules.Catalog(), filepath.Join(dir, "site.hcl"))
			if diags.HasErrors() {
				t.Fatalf("load: %v", diags)
			}
			pb.AllowLocal = c.allow
			in, diags := ParseInputs(p, pb, nil, nil, c.vars)
			if !diags.HasErrors() {
				diags = Validate(pb, in)
			}
			var got []string
			for _, d := range diags {
				s := config.Compact(d)
				s = strings.ReplaceAll(s, filepath.Join(dir, "site.hcl"), "site.hcl")
				s = strings.ReplaceAll(s, pb.Dir, "DIR")
				got = append(got, s)
			}
			if strings.Join(got, "\n") != strings.Join(c.want, "\n") {
				t.Errorf("diagnostics:\n got: %s\nwant: %s", strings.Join(got, "\n      "), strings.Join(c.want, "\n      "))
			}
		})
	}
}

// TestValidateTemplates: validate checks templates without hosts, also
// when their vars are known only on a host: the file exists, it parses,
// and every variable it uses is given.
func TestValidateTemplates(t *testing.T) {
	files := map[string]string{
		"site.tftpl": "listen ${port};\nserver_name ${name};\n",
		"bad.tftpl":  "listen ${port;\n",
	}
	task := func(source, vars string) string {
		return `play "p" {
  hosts = "all"
  template "t" {
    path   = "/etc/site.conf"
    source = "` + source + `"
    vars   = ` + vars + `
  }
}`
	}
	cases := []struct{ name, src, want string }{
		{"host-dependent vars, all given", task("site.tftpl", `{ port = host.vars.port, name = host.name }`), ""},
		{"missing file", task("nope.tftpl", `{ port = host.vars.port }`), `site.hcl:5:14: error: Invalid value for "source": template.t: cannot read the template`},
		{"undefined variable", task("site.tftpl", `{ port = host.vars.port }`),
			`site.hcl:6:14: error: Invalid value for "vars": template.t: the template site.tftpl uses variable "name" (line 2, column 15), which vars does not give; add it to vars`},
		{"parse error", task("bad.tftpl", `{ port = host.vars.port }`), `site.hcl:5:14: error: Invalid value for "source": template.t: template error:`},
		{"known vars, undefined variable", task("site.tftpl", `{ port = 80 }`), `There is no variable named "name"`},
		{"templatefile with host-dependent vars", `play "p" {
  hosts = "all"
  file "f" {
    path    = "/f"
    content = templatefile("site.tftpl", { port = host.vars.port })
  }
}`, `site.hcl:5:15: error: Error in function call: Call to function "templatefile" failed: template site.tftpl:2,15: variable "name" is not in vars`},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			dir := t.TempDir()
			for n, body := range files {
				os.WriteFile(filepath.Join(dir, n), []byte(body), 0o644)
			}
			os.WriteFile(filepath.Join(dir, "site.hcl"), []byte(c.src), 0o644)
			p := hclparse.NewParser()
			pb, diags := config.LoadFiles(p, modules.Catalog(), filepath.Join(dir, "site.hcl"))
			if diags.HasErrors() {
				t.Fatalf("load: %v", diags)
			}
			var got []string
			for _, d := range Validate(pb, nil) {
				got = append(got, strings.ReplaceAll(config.Compact(d), dir+"/", ""))
			}
			all := strings.Join(got, "\n")
			if c.want == "" && all != "" || c.want != "" && !strings.Contains(all, c.want) {
				t.Errorf("diagnostics:\n got: %s\nwant: %s", all, c.want)
			}
		})
	}
}
