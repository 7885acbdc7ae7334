package inventory

import (
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"
)

func TestHCLSite(t *testing.T) {
	t.Setenv("HOME", "/home/tester")
	inv := mustLoad(t, "testdata/hcl/site.hcl")
	type want struct {
		address, user, conn, jump string
		port                      int
		ids                       []string
		become                    Become
		timeout                   time.Duration
		groups                    []string
		vars                      map[string]string
	}
	tests := map[string]want{
		"bastion": {address: "203.0.113.10", user: "deploy", conn: "ssh", port: 2222,
			ids: []string{"/home/tester/.ssh/id_ed25519"}, become: Become{User: "root", Method: "sudo"},
			groups: []string{"all", "ungrouped"},
			vars:   map[string]string{"env": `"prod"`, "region": `"global"`, "ntp": `"pool.ntp.org"`}},
		"web1": {address: "10.0.0.11", user: "deploy", conn: "ssh", jump: "bastion", port: 22,
			ids: []string{"/home/tester/.ssh/id_ed25519"}, become: Become{User: "root", Method: "sudo"},
			groups: []string{"all", "web"},
			vars:   map[string]string{"role": `"primary"`, "http_port": "80", "region": `"us"`}},
		"web2": {address: "10.0.0.12", user: "deploy", conn: "ssh", jump: "bastion", port: 2200,
			ids:    []string{filepath.Join("testdata/hcl", "keys/web"), "/home/tester/.ssh/other"},
			become: Become{User: "root", Method: "sudo"}, groups: []string{"all", "canary", "web"},
			vars: map[string]string{"http_port": "8080", "region": `"us"`, "role": "<unset>"}},
		"db1": {address: "db1", user: "admin", conn: "ssh", port: 22,
			ids:    []string{"/home/tester/.ssh/id_ed25519"},
			become: Become{Enabled: true, User: "postgres", Method: "sudo"}, timeout: 5 * time.Second,
			groups: []string{"all", "db"}, vars: map[string]string{"env": `"prod"`}},
		"localhost": {address: "localhost", user: "deploy", conn: "local", port: 22,
			ids:    []string{"/home/tester/.ssh/id_ed25519"},
			become: Become{User: "root", Method: "sudo"}, groups: []string{"all", "ungrouped"}},
	}
	var order []string
	for _, h := range inv.Hosts() {
		order = append(order, h.Name)
	}
	if want := []string{"bastion", "web1", "web2", "db1", "localhost"}; !slices.Equal(order, want) {
		t.Errorf("Hosts() order = %v, want %v", order, want)
	}
	for name, w := range tests {
		t.Run(name, func(t *testing.T) {
			h := mustHost(t, inv, name)
			if h.Address != w.address || h.User != w.user || h.Connection != w.conn || h.ProxyJump != w.jump || h.Port != w.port {
				t.Errorf("got address=%q user=%q conn=%q jump=%q port=%d, want %q %q %q %q %d",
					h.Address, h.User, h.Connection, h.ProxyJump, h.Port, w.address, w.user, w.conn, w.jump, w.port)
			}
			if !slices.Equal(h.Identities, w.ids) {
				t.Errorf("Identities = %v, want %v", h.Identities, w.ids)
			}
			if h.Become != w.become {
				t.Errorf("Become = %+v, want %+v", h.Become, w.become)
			}
			if h.ConnectTimeout != w.timeout {
				t.Errorf("ConnectTimeout = %v, want %v", h.ConnectTimeout, w.timeout)
			}
			if !slices.Equal(h.Groups, w.groups) {
				t.Errorf("Groups = %v, want %v", h.Groups, w.groups)
			}
			for k, v := range w.vars {
				if got := varString(h, k); got != v {
					t.Errorf("var %s = %s, want %s", k, got, v)
				}
			}
			if !strings.HasPrefix(h.Source, "testdata/hcl/site.hcl:") {
				t.Errorf("Source = %q", h.Source)
			}
		})
	}
	web, ok := inv.Group("web")
	if !ok || !slices.Equal(web.Hosts, []string{"web1"}) || !slices.Equal(web.Children, []string{"canary"}) {
		t.Errorf("group web = %+v", web)
	}
	if got := names(inv.GroupHosts("web")); !slices.Equal(got, []string{"web1", "web2"}) {
		t.Errorf("GroupHosts(web) = %v", got)
	}
	var gnames []string
	for _, g := range inv.Groups() {
		gnames = append(gnames, g.Name)
	}
	if want := []string{"all", "canary", "db", "web", "ungrouped"}; !slices.Equal(gnames, want) {
		t.Errorf("Groups() = %v, want %v", gnames, want)
	}
}

func names(hs []*Host) []string {
	out := []string{}
	for _, h := range hs {
		out = append(out, h.Name)
	}
	return out
}

func TestHCLDiagnostics(t *testing.T) {
	tests := []struct {
		name  string
		files map[string]string // loaded in name order
		want  []string          // diagLine prefixes ("file:line:col: error: Summary: detail...")
	}{
		{"unknown attribute", map[string]string{"a.hcl": "host \"web1\" {\n  adress = \"10.0.0.1\"\n}\n"},
			[]string{`a.hcl:2:3: error: Unsupported argument: An argument named "adress" is not expected here. Did you mean "address"?`}},
		{"unknown block", map[string]string{"a.hcl": "hots \"web1\" {}\n"},
			[]string{`a.hcl:1:1: error: Unsupported block type: Blocks of type "hots" are not expected here. Did you mean "host"?`}},
		{"missing label", map[string]string{"a.hcl": "host {}\n"},
			[]string{`a.hcl:1:6: error: Missing name for host`}},
		{"port wrong type", map[string]string{"a.hcl": "host \"web1\" {\n  port = \"ssh\"\n}\n"},
			[]string{`a.hcl:2:11: error: Unsuitable value type: Unsuitable value: a number is required`}},
		{"port out of range", map[string]string{"a.hcl": "host \"web1\" {\n  port = 70000\n}\n"},
			[]string{`a.hcl:2:10: error: Invalid port: Port 70000 is not between 1 and 65535.`}},
		{"become wrong type", map[string]string{"a.hcl": "defaults {\n  become = \"maybe\"\n}\n"},
			[]string{`a.hcl:2:13: error: Unsuitable value type: Unsuitable value: a bool is required`}},
		{"bad connection", map[string]string{"a.hcl": "host \"web1\" {\n  connection = \"winrm\"\n}\n"},
			[]string{`a.hcl:2:16: error: Unsupported connection: Connection "winrm" is not supported; use "ssh" or "local".`}},
		{"bad identity_file", map[string]string{"a.hcl": "group \"g\" {\n  identity_file = { a = 1 }\n}\n"},
			[]string{`a.hcl:2:19: error: Invalid identity_file`}},
		{"bad vars", map[string]string{"a.hcl": "host \"web1\" {\n  vars = \"x\"\n}\n"},
			[]string{`a.hcl:2:10: error: Invalid vars: vars must be an object`}},
		{"bad timeout", map[string]string{"a.hcl": "host \"web1\" {\n  connect_timeout = \"soon\"\n}\n"},
			[]string{`a.hcl:2:21: error: Invalid connect_timeout: connect_timeout "soon" is not a duration`}},
		{"bad proxy_jump", map[string]string{"a.hcl": "host \"web1\" {\n  proxy_jump = \"bastion:99999\"\n}\n"},
			[]string{`a.hcl:2:16: error: Invalid proxy_jump: proxy jump hop "bastion:99999": "99999" is not a port number.`}},
		{"empty address", map[string]string{"a.hcl": "host \"web1\" {\n  address = \"\"\n}\n"},
			[]string{`a.hcl:2:13: error: Invalid address`}},
		{"variables not allowed", map[string]string{"a.hcl": "host \"web1\" {\n  user = var.user\n}\n"},
			[]string{`a.hcl:2:10: error: Variables not allowed`}},
		{"duplicate host", map[string]string{"a.hcl": "host \"web1\" {}\n\nhost \"web1\" {}\n"},
			[]string{`a.hcl:3:6: error: Duplicate host: Host "web1" is already defined at ` + "DIR/a.hcl:1,1."}},
		{"duplicate host across files", map[string]string{"a.hcl": "host \"web1\" {}\n", "b.hcl": "\nhost \"web1\" {}\n"},
			[]string{`b.hcl:2:6: error: Duplicate host: Host "web1" is already defined at DIR/a.hcl:1,1.`}},
		{"duplicate group", map[string]string{"a.hcl": "group \"web\" {}\ngroup \"web\" {}\n"},
			[]string{`a.hcl:2:7: error: Duplicate group: Group "web" is already defined at DIR/a.hcl:1,1.`}},
		{"duplicate defaults", map[string]string{"a.hcl": "defaults {}\n", "b.hcl": "defaults {}\n"},
			[]string{`b.hcl:1:1: error: Duplicate defaults block: A defaults block is already defined at DIR/a.hcl:1,1.`}},
		{"unknown host", map[string]string{"a.hcl": "host \"web1\" {}\ngroup \"web\" {\n  hosts = [\"web1\", \"web9\"]\n}\n"},
			[]string{`a.hcl:3:20: error: Unknown host: Group "web" lists host "web9", which no inventory file defines.`}},
		{"unknown child", map[string]string{"a.hcl": "group \"web\" {\n  children = [\"canary\"]\n}\n"},
			[]string{`a.hcl:2:15: error: Unknown group: Group "web" lists child group "canary", which no inventory file defines.`}},
		{"cycle", map[string]string{"a.hcl": "group \"a\" {\n  children = [\"b\"]\n}\ngroup \"b\" {\n  children = [\"c\"]\n}\ngroup \"c\" {\n  children = [\"a\"]\n}\n"},
			[]string{`a.hcl:8:15: error: Group cycle: Groups contain each other: a -> b -> c -> a.`}},
		{"self cycle", map[string]string{"a.hcl": "group \"a\" {\n  children = [\"a\"]\n}\n"},
			[]string{`a.hcl:2:15: error: Group cycle: Groups contain each other: a -> a.`}},
		{"syntax error", map[string]string{"a.hcl": "host \"web1\" {\n  port = \n}\n"},
			[]string{`a.hcl:2:10: error: Invalid expression`}},
		{"HCL and INI merge without error", map[string]string{"a.hcl": "host \"web1\" {\n  port = 2222\n}\n", "b.ini": "web1 ansible_user=admin\n"}, nil},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			dir := writeFiles(t, tc.files)
			var paths []string
			for _, n := range sortedKeys(tc.files) {
				paths = append(paths, filepath.Join(dir, n))
			}
			_, diags := Load(paths, LoadOptions{SSHConfigPath: "none"})
			var got []string
			for _, d := range diags {
				got = append(got, strings.ReplaceAll(diagLine(d), dir, "DIR"))
			}
			if len(got) != len(tc.want) {
				t.Fatalf("got %d diagnostics, want %d:\n%s", len(got), len(tc.want), strings.Join(got, "\n"))
			}
			for i, w := range tc.want {
				if !strings.HasPrefix(got[i], w) {
					t.Errorf("diagnostic %d:\n got  %s\n want %s...", i, got[i], w)
				}
			}
		})
	}
}

func TestDiagnosticsPrintSnippets(t *testing.T) {
	dir := writeFiles(t, map[string]string{"hosts.ini": "[web]\nweb1 ansible_become_method=su\n"})
	p := newParserForTest()
	_, diags := Load([]string{filepath.Join(dir, "hosts.ini")}, LoadOptions{SSHConfigPath: "none", Parser: p})
	if !diags.HasErrors() {
		t.Fatal("want an error")
	}
	out := writeDiags(t, p, diags)
	for _, want := range []string{"Invalid ansible_become_method", `host "web1": become method "su"`, "2: web1 ansible_become_method=su"} {
		if !strings.Contains(out, want) {
			t.Errorf("output lacks %q:\n%s", want, out)
		}
	}
}

func TestLoadMissingFile(t *testing.T) {
	_, diags := Load([]string{filepath.Join(t.TempDir(), "nope.hcl")}, LoadOptions{SSHConfigPath: "none"})
	if !diags.HasErrors() || !strings.Contains(diags.Error(), "nope.hcl") {
		t.Errorf("diags = %v", diags)
	}
	if _, err := os.Stat("testdata/hcl/site.hcl"); err != nil {
		t.Fatal(err)
	}
}

func TestKnownHostsFile(t *testing.T) {
	dir := writeFiles(t, map[string]string{"inv.hcl": `
defaults {
  known_hosts_file = "known_hosts"
}
host "a" {}
host "b" {
  known_hosts_file = ["/etc/fleet/known_hosts", "~/.ssh/known_hosts"]
}
`})
	inv := mustLoad(t, dir+"/inv.hcl")
	if got := mustHost(t, inv, "a").KnownHostsFiles; len(got) != 1 || got[0] != dir+"/known_hosts" {
		t.Errorf("a: relative known_hosts_file resolved to %q, want %q", got, dir+"/known_hosts")
	}
	if got := mustHost(t, inv, "b").KnownHostsFiles; len(got) != 2 || got[0] != "/etc/fleet/known_hosts" {
		t.Errorf("b: known_hosts_file = %q", got)
	}
}
