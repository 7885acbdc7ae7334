package inventory

import (
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/hashicorp/hcl/v2/hclwrite"

	"github.com/drover-cm/drover/engine/lang"
	"github.com/drover-cm/drover/engine/secrets"
)

func TestAnsibleINI(t *testing.T) {
	t.Setenv("HOME", "/home/tester")
	inv := mustLoad(t, "testdata/ansible/hosts")
	tests := []struct {
		host   string
		check  func(h *Host) string // "" when fine
		groups []string
		vars   map[string]string
	}{
		{host: "mail.example.com", groups: []string{"all", "ungrouped"},
			vars: map[string]string{"ntp_server": `"ntp.example.com"`}},
		{host: "badwolf.example.com", check: func(h *Host) string { return expect(h.Port == 5309, "port %d", h.Port) }},
		{host: "jumper", check: func(h *Host) string {
			return expect(h.Address == "192.0.2.50" && h.Port == 5555, "address %s port %d", h.Address, h.Port)
		}},
		{host: "www02.example.com", groups: []string{"all", "webservers"}},
		{host: "foo.example.com", vars: map[string]string{
			"http_port": "80", "maxRequestsPerChild": "808", "ratio": "0.5", "enabled": "true", "nothing": "null"}},
		{host: "bar.example.com", vars: map[string]string{
			"http_port": "303", "msg": `"hello world"`, "list": `[1, "two"]`}},
		{host: "db-b.example.com", groups: []string{"all", "dbservers"}},
		{host: "host1", groups: []string{"all", "atlanta", "southeast", "usa"}, check: func(h *Host) string {
			return expect(h.Become == Become{Enabled: true, User: "postgres", Method: "sudo"} && h.Port == 2201 &&
				h.ProxyJump == "jump@bastion.example.com", "become %+v port %d jump %q", h.Become, h.Port, h.ProxyJump)
		}, vars: map[string]string{
			// host_vars/host1.yaml beats nothing else; southeast's group_vars
			// file beats [southeast:vars], and the deeper southeast beats usa.
			"http_port": "8443", "escape_pods": "3", "feature": "true", "halon_system_timeout": "30",
			"flag": `"FALSE"`, "quoted": `"a b"`, "some_server": `"foo.southeast.example.com"`,
			"ansible_port": "<unset>", "ansible_ssh_common_args": "<unset>"}},
		{host: "host2", groups: []string{"all", "atlanta", "raleigh", "southeast", "usa"}, check: func(h *Host) string {
			return expect(h.User == "myuser" && slices.Equal(h.Identities, []string{"/home/tester/.ssh/atl"}),
				"user %q ids %v", h.User, h.Identities)
		}},
		{host: "host3", check: func(h *Host) string {
			return expect(h.Connection == ConnLocal && h.ProxyJump == "", "connection %q jump %q", h.Connection, h.ProxyJump)
		}},
	}
	for _, tc := range tests {
		t.Run(tc.host, func(t *testing.T) {
			h := mustHost(t, inv, tc.host)
			if tc.check != nil {
				if msg := tc.check(h); msg != "" {
					t.Error(msg)
				}
			}
			if tc.groups != nil && !slices.Equal(h.Groups, tc.groups) {
				t.Errorf("Groups = %v, want %v", h.Groups, tc.groups)
			}
			for k, v := range tc.vars {
				if got := varString(h, k); got != v {
					t.Errorf("var %s = %s, want %s", k, got, v)
				}
			}
		})
	}
	if n := len(inv.Hosts()); n != 14 {
		t.Errorf("%d hosts, want 14", n)
	}
	se, _ := inv.Group("southeast")
	if !slices.Equal(se.Children, []string{"atlanta", "raleigh"}) || !slices.Equal(se.Parents, []string{"usa"}) {
		t.Errorf("southeast = %+v", se)
	}
}

func expect(ok bool, format string, args ...any) string {
	if ok {
		return ""
	}
	return "got " + sprintf(format, args...)
}

func TestAnsibleYAML(t *testing.T) {
	inv := mustLoad(t, "testdata/yaml/hosts.yml")
	if got := names(inv.GroupHosts("prod")); !slices.Equal(got, []string{"foo.example.com", "one.example.com", "two.example.com"}) {
		t.Errorf("prod = %v", got)
	}
	if got := names(inv.GroupHosts("ungrouped")); len(got) != 26 || got[0] != "mail.example.com" || got[1] != "www01.example.com" || got[25] != "www49.example.com" {
		t.Errorf("ungrouped = %v", got)
	}
	bar := mustHost(t, inv, "bar.example.com")
	foo := mustHost(t, inv, "foo.example.com")
	for _, c := range []struct {
		h    *Host
		k, v string
	}{
		{bar, "http_port", "303"}, // host var beats group var
		{foo, "http_port", "80"},
		{foo, "ntp_server", `"ntp.example.com"`},
		{foo, "enabled", "true"}, // YAML 1.1 "on"
		{foo, "mode", "493"},     // YAML 1.1 octal 0755
		{foo, "ports", "[80, 443]"},
		{foo, "nested", `{a=1, b=["x", "y"]}`},
	} {
		if got := varString(c.h, c.k); got != c.v {
			t.Errorf("%s var %s = %s, want %s", c.h.Name, c.k, got, c.v)
		}
	}
	if !slices.Equal(bar.Groups, []string{"all", "test", "webservers", "west"}) {
		t.Errorf("bar groups = %v", bar.Groups)
	}
	if bar.Become.User != "admin" {
		t.Errorf("become user = %q", bar.Become.User)
	}
}

func TestFormatSniffing(t *testing.T) {
	tests := []struct {
		path, want string
	}{
		{"testdata/sniff/yamlinv", FormatYAML},
		{"testdata/sniff/iniinv", FormatINI},
		{"testdata/sniff/plain", FormatINI},
		{"testdata/sniff/scriptout", FormatYAML},
		{"x.hcl", FormatHCL},
		{"x.json", FormatYAML},
		{"x.ini", FormatINI},
	}
	for _, tc := range tests {
		src, _ := readIfExists(tc.path)
		if got := DetectFormat(tc.path, src); got != tc.want {
			t.Errorf("DetectFormat(%s) = %s, want %s", tc.path, got, tc.want)
		}
	}
	inv := mustLoad(t, "testdata/sniff/yamlinv", "testdata/sniff/iniinv", "testdata/sniff/plain")
	a := mustHost(t, inv, "a.example.com")
	if a.Address != "10.1.1.1" || !slices.Equal(a.Groups, []string{"all", "ungrouped"}) {
		t.Errorf("a = %+v", a)
	}
	if got := names(inv.Hosts()); !slices.Equal(got, []string{"a.example.com", "b.example.com", "web1", "web2"}) {
		t.Errorf("hosts = %v", got)
	}
}

func TestInventoryDirectory(t *testing.T) {
	dir := writeFiles(t, map[string]string{
		"inv/01-web.ini":          "[web]\nweb1\n",
		"inv/02-db.yml":           "db:\n  hosts:\n    db1:\n",
		"inv/README.md":           "not an inventory\n",
		"inv/group_vars/web.yml":  "role: frontend\n",
		"inv/host_vars/db1/a.yml": "x: 1\n",
		"inv/host_vars/db1/b.yml": "x: 2\ny: 3\n",
	})
	inv := mustLoad(t, filepath.Join(dir, "inv"))
	if got := names(inv.Hosts()); !slices.Equal(got, []string{"web1", "db1"}) {
		t.Fatalf("hosts = %v", got)
	}
	if v := varString(mustHost(t, inv, "web1"), "role"); v != `"frontend"` {
		t.Errorf("role = %s", v)
	}
	db := mustHost(t, inv, "db1")
	if varString(db, "x") != "2" || varString(db, "y") != "3" {
		t.Errorf("db1 vars = %v", db.Vars)
	}
}

func TestAnsibleDiagnostics(t *testing.T) {
	tests := []struct {
		name  string
		files map[string]string
		want  []string
	}{
		{"become method", map[string]string{"hosts": "[web]\nweb1 ansible_become_method=su\n"},
			[]string{`hosts:2:1: error: Invalid ansible_become_method: host "web1": become method "su" is not supported`}},
		{"group become method", map[string]string{"hosts": "[web]\nweb1\n[web:vars]\nansible_become_method=doas\n"},
			[]string{`hosts:4:1: error: Invalid ansible_become_method: group "web": become method "doas" is not supported`}},
		{"bad section", map[string]string{"hosts": "[web servers]\nweb1\n"},
			[]string{`hosts:1:1: error: Invalid section header: "[web servers]" is not a section header`}},
		{"unknown section type", map[string]string{"hosts": "[web:hostz]\nweb1\n"},
			[]string{`hosts:1:1: error: Unknown section type: Section [web:hostz] has unknown type "hostz"`}},
		{"vars for undefined group", map[string]string{"hosts": "web1\n[db:vars]\nx=1\n"},
			[]string{`hosts:2:1: error: Vars for an undefined group: Section [db:vars] is for group "db", which this file does not define.`}},
		{"vars before group is fine", map[string]string{"hosts": "[db:vars]\nx=1\n[db]\ndb1\n"}, nil},
		{"host var without =", map[string]string{"hosts": "[web]\nweb1 primary\n"},
			[]string{`hosts:2:1: error: Invalid host variable: Expected key=value after host "web1", got "primary".`}},
		{"vars line without =", map[string]string{"hosts": "[web]\nweb1\n[web:vars]\nhttp_port\n"},
			[]string{`hosts:4:1: error: Invalid variable: Expected key=value in [web:vars], got "http_port".`}},
		{"bad range", map[string]string{"hosts": "web[3:1]\n"},
			[]string{`hosts:1:1: error: Invalid host pattern: "web[3:1]": range [3:1] starts after it ends.`}},
		{"unsupported connection", map[string]string{"hosts": "\nweb1 ansible_connection=docker\n"},
			[]string{`hosts:2:1: error: Invalid ansible_connection: host "web1": connection "docker" is not supported`}},
		{"bad port", map[string]string{"hosts": "web1 ansible_port=ssh\n"},
			[]string{`hosts:1:1: error: Invalid ansible_port: host "web1": "ssh" is not a port number.`}},
		{"bad become", map[string]string{"hosts": "web1 ansible_become=maybe\n"},
			[]string{`hosts:1:1: error: Invalid ansible_become: host "web1": the value must be a boolean`}},
		{"ignored ssh args warn", map[string]string{"hosts": "web1 ansible_ssh_common_args='-o ForwardAgent=yes -J jump'\n"},
			[]string{`hosts:1:1: warning: SSH option -o ForwardAgent ignored: host "web1": drover does not use -o ForwardAgent=yes from ansible_ssh_common_args`}},
		{"group cycle", map[string]string{"hosts": "[a:children]\nb\n[b:children]\na\n"},
			[]string{`hosts:4:1: error: Group cycle: Groups contain each other: a -> b -> a.`}},
		{"script", map[string]string{"inv.py": "#!/usr/bin/env python3\nprint('{}')\n"},
			[]string{`inv.py:1:1: error: Dynamic inventory scripts are not supported`}},
		{"vault file", map[string]string{"hosts.yml": "$ANSIBLE_VAULT;1.1;AES256\n6162\n"},
			[]string{`hosts.yml:1:1: error: Encrypted inventory file: This inventory file is encrypted with Ansible Vault. drover decrypts Vault files in group_vars/ and host_vars/`}},
		{"yaml unexpected key", map[string]string{"hosts.yml": "all:\n  children:\n    web:\n      hostz:\n        web1:\n"},
			[]string{`hosts.yml:4:7: error: Unexpected key in group: Group "web" has key "hostz"`}},
		{"yaml hosts list", map[string]string{"hosts.yml": "web:\n  hosts:\n    - web1\n"},
			[]string{`hosts.yml:3:5: error: Invalid hosts: The hosts of group "web" must be a mapping, not a list.`}},
		{"yaml syntax", map[string]string{"hosts.yml": "web:\n  hosts: [\n"},
			[]string{`hosts.yml:2:1: error: Invalid YAML: yaml: line 2`}},
		{"yaml vault value", map[string]string{"hosts.yml": "web:\n  vars:\n    pw: !vault |\n      $ANSIBLE_VAULT;1.1;AES256\n      6162\n"},
			[]string{`hosts.yml:3:9: error: Cannot decrypt value: group "web": variable "pw": `}},
		{"group_vars vault without a password", map[string]string{"hosts": "[web]\nweb1\n", "group_vars/web/vault.yml": "$ANSIBLE_VAULT;1.1;AES256\n6162\n"},
			[]string{`vault.yml:1:1: error: Cannot decrypt vars file: `}},
		{"yaml bad host var", map[string]string{"hosts.yml": "web:\n  hosts:\n    web1:\n      ansible_port: ssh\n"},
			[]string{`hosts.yml:4:7: error: Invalid ansible_port: host "web1": "ssh" is not a port number.`}},
		{"group_vars error", map[string]string{"hosts": "[web]\nweb1\n", "group_vars/web.yml": "ansible_connection: winrm\n"},
			[]string{`web.yml:1:1: error: Invalid ansible_connection: group "web": connection "winrm" is not supported`}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			dir := writeFiles(t, tc.files)
			var paths []string
			for _, n := range sortedKeys(tc.files) {
				if !strings.Contains(n, "/") {
					paths = append(paths, filepath.Join(dir, n))
				}
			}
			_, diags := Load(paths, LoadOptions{SSHConfigPath: "none"})
			var got []string
			for _, d := range diags {
				got = append(got, diagLine(d))
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

func TestExpandHostPattern(t *testing.T) {
	tests := []struct {
		in    string
		want  []string
		port  int
		error string
	}{
		{in: "web1", want: []string{"web1"}},
		{in: "web[1:3]", want: []string{"web1", "web2", "web3"}},
		{in: "www[01:03].example.com", want: []string{"www01.example.com", "www02.example.com", "www03.example.com"}},
		{in: "www[01:10:4]", want: []string{"www01", "www05", "www09"}},
		{in: "db-[a:c].example.com", want: []string{"db-a.example.com", "db-b.example.com", "db-c.example.com"}},
		{in: "r[1:2]c[a:b]", want: []string{"r1ca", "r1cb", "r2ca", "r2cb"}},
		{in: "web[:2]", want: []string{"web0", "web1", "web2"}},
		{in: "badwolf.example.com:5309", want: []string{"badwolf.example.com"}, port: 5309},
		{in: "web[1:2]:2222", want: []string{"web1", "web2"}, port: 2222},
		{in: "[2001:db8::1]:2222", want: []string{"2001:db8::1"}, port: 2222},
		{in: "2001:db8::1", want: []string{"2001:db8::1"}},
		{in: "web:ssh", error: `"ssh" is not a port number`},
		{in: "web[1:2", error: "unclosed ["},
		{in: "web[a:3]", error: "must be numbers or single letters"},
		{in: "web[1:2:0]", error: "step"},
		{in: "web[0:999999]", error: "more than"},
	}
	for _, tc := range tests {
		got, port, err := expandHostPattern(tc.in)
		if tc.error != "" {
			if err == nil || !strings.Contains(err.Error(), tc.error) {
				t.Errorf("%s: err = %v, want %q", tc.in, err, tc.error)
			}
			continue
		}
		if err != nil || !slices.Equal(got, tc.want) || port != tc.port {
			t.Errorf("%s = %v, %d, %v; want %v, %d", tc.in, got, port, err, tc.want, tc.port)
		}
	}
}

func TestPyLiteral(t *testing.T) {
	tests := map[string]string{
		"22":             "22",
		"-3":             "-3",
		"0x1F":           "31",
		"1_000":          "1000",
		"0.5":            "0.5",
		"1e3":            "1000",
		"0755":           `"0755"`,
		"True":           "true",
		"False":          "false",
		"true":           `"true"`,
		"yes":            `"yes"`,
		"None":           "null",
		"'quoted'":       `"quoted"`,
		`"a b"`:          `"a b"`,
		"[1, 'x', True]": `[1, "x", true]`,
		"(1, 2)":         "[1, 2]",
		"{'a': 1}":       "{a=1}",
		"[]":             "[]",
		"10.0.0.1":       `"10.0.0.1"`,
		"web1":           `"web1"`,
		"a b":            `"a b"`,
		"80 # comment":   "80",
		"[1, 2":          `"[1, 2"`,
		"inf":            `"inf"`,
		"":               `""`,
	}
	for in, want := range tests {
		if got := ctyDebug(pyLiteral(in)); got != want {
			t.Errorf("pyLiteral(%q) = %s, want %s", in, got, want)
		}
	}
}

func TestShlexSplit(t *testing.T) {
	tests := []struct {
		in   string
		want []string
	}{
		{`web1 a=1 b="x y" c='p q'`, []string{"web1", "a=1", "b=x y", "c=p q"}},
		{`web1 a=1 # comment`, []string{"web1", "a=1"}},
		{`web1 a=x#y`, []string{"web1", "a=x"}},
		{`a=\"x\"`, []string{`a="x"`}},
		{`a="x \" y"`, []string{`a=x " y`}},
	}
	for _, tc := range tests {
		got, err := shlexSplit(tc.in)
		if err != nil || !slices.Equal(got, tc.want) {
			t.Errorf("shlexSplit(%q) = %q, %v; want %q", tc.in, got, err, tc.want)
		}
	}
	if _, err := shlexSplit(`a="x`); err == nil {
		t.Error("unclosed quote: want an error")
	}
}

func TestSSHArgs(t *testing.T) {
	tests := []struct {
		in, jump string
		ignored  []string
	}{
		{"-J bastion", "bastion", nil},
		{"-Juser@b1,b2:2222", "user@b1,b2:2222", nil},
		{"-o ProxyJump=admin@bastion:2200", "admin@bastion:2200", nil},
		{`-o ProxyCommand="ssh -W %h:%p -q admin@bastion"`, "admin@bastion", nil},
		{`-o 'ProxyCommand=ssh -W %h:%p -p 2200 -l admin bastion'`, "admin@bastion:2200", nil},
		{"-o StrictHostKeyChecking=no -C -o ForwardAgent=yes", "", []string{"-C", "-o ForwardAgent=yes"}},
		{"-oProxyJump=b1 -J b2", "b1", nil}, // the first value wins, as with ssh
	}
	for _, tc := range tests {
		jump, ignored := parseSSHArgs(tc.in)
		if jump != tc.jump || !slices.Equal(ignored, tc.ignored) {
			t.Errorf("parseSSHArgs(%q) = %q, %q; want %q, %q", tc.in, jump, ignored, tc.jump, tc.ignored)
		}
	}
}

func TestAnsibleTimeoutAndAliases(t *testing.T) {
	dir := writeFiles(t, map[string]string{"hosts": "web1 ansible_ssh_host=10.1.1.1 ansible_ssh_port=2022 ansible_ssh_user=u ansible_timeout=7 ansible_sudo=true ansible_sudo_user=pg ansible_connection=ansible.builtin.ssh\n"})
	h := mustHost(t, mustLoad(t, filepath.Join(dir, "hosts")), "web1")
	if h.Address != "10.1.1.1" || h.Port != 2022 || h.User != "u" || h.ConnectTimeout != 7*time.Second ||
		h.Become != (Become{Enabled: true, User: "pg", Method: "sudo"}) || h.Connection != ConnSSH {
		t.Errorf("host = %+v", h)
	}
	if len(h.Vars) != 0 {
		t.Errorf("connection variables leaked into Vars: %v", h.Vars)
	}
}

func TestDynamicInventoryJSON(t *testing.T) {
	inv := mustLoad(t, "testdata/script.json")
	if got := names(inv.Hosts()); !slices.Equal(got, []string{"web1", "web2", "db1"}) {
		t.Errorf("hosts = %v", got)
	}
	web1, db1 := mustHost(t, inv, "web1"), mustHost(t, inv, "db1")
	if web1.Address != "10.0.0.1" || varString(web1, "role") != `"primary"` || varString(web1, "http_port") != "80" {
		t.Errorf("web1 = %+v", web1)
	}
	if db1.Port != 2222 || !slices.Equal(db1.Groups, []string{"all", "db", "prod"}) {
		t.Errorf("db1 = %+v", db1)
	}
}

// TestSSHArgSettings reads ansible_ssh_common_args as Ansible users write
// it into the settings it names, in each spelling ssh accepts.
func TestSSHArgSettings(t *testing.T) {
	home := t.TempDir()
	t.Setenv("HOME", home)
	tests := []struct {
		name, line string
		want       func(h *Host) bool
	}{
		{"known_hosts -o k=v", `h ansible_ssh_common_args='-o UserKnownHostsFile=/kh/a -o StrictHostKeyChecking=yes'`,
			func(h *Host) bool {
				return slices.Equal(h.KnownHostsFiles, []string{"/kh/a"}) && h.StrictHostKeyChecking == HostKeyVerify
			}},
		{"-oKey=value, several files", `h ansible_ssh_common_args="-oUserKnownHostsFile='/kh/a /kh/b'"`,
			func(h *Host) bool { return slices.Equal(h.KnownHostsFiles, []string{"/kh/a", "/kh/b"}) }},
		{"-o Key value", `h ansible_ssh_extra_args='-o "UserKnownHostsFile /kh/c" -o "StrictHostKeyChecking accept-new"'`,
			func(h *Host) bool {
				return slices.Equal(h.KnownHostsFiles, []string{"/kh/c"}) && h.AcceptsNewHostKeys()
			}},
		{"global known hosts", `h ansible_ssh_common_args='-o GlobalKnownHostsFile=/kh/g'`,
			func(h *Host) bool {
				return slices.Equal(h.KnownHostsFiles, []string{home + "/.ssh/known_hosts", home + "/.ssh/known_hosts2", "/kh/g"})
			}},
		{"StrictHostKeyChecking=no is accept-new", `h ansible_ssh_common_args='-o StrictHostKeyChecking=no'`,
			func(h *Host) bool { return h.StrictHostKeyChecking == HostKeyNo && h.AcceptsNewHostKeys() }},
		{"-i -p -l", `h ansible_ssh_common_args='-i /k/1 -i/k/2 -p 2222 -l deploy -o IdentitiesOnly=yes'`,
			func(h *Host) bool {
				return slices.Equal(h.Identities, []string{"/k/1", "/k/2"}) && h.Port == 2222 && h.User == "deploy" && h.IdentitiesOnly
			}},
		{"-o Port and User", `h ansible_ssh_common_args='-o Port=2200 -o User=app'`,
			func(h *Host) bool { return h.Port == 2200 && h.User == "app" }},
		{"ansible_port beats -o Port", `h ansible_port=2201 ansible_ssh_common_args='-o Port=2200' ansible_user=me`,
			func(h *Host) bool { return h.Port == 2201 && h.User == "me" }},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			h := loadOne(t, map[string]string{"hosts": tc.line + "\n"}, "hosts")
			if !tc.want(h) {
				t.Errorf("%s: got %+v", tc.line, h)
			}
		})
	}
}

// TestSSHArgWarnings: an option drover ignores is named once however many
// groups set it, StrictHostKeyChecking=no warns that it means accept-new,
// and a ProxyCommand drover cannot run is an error naming the group and
// the variable.
func TestSSHArgWarnings(t *testing.T) {
	dir := writeFiles(t, map[string]string{"hosts": `[web]
web[01:03]
[db]
db1
[web:vars]
ansible_ssh_common_args='-o ForwardAgent=yes -o StrictHostKeyChecking=no'
[db:vars]
ansible_ssh_common_args='-o ForwardAgent=no -o StrictHostKeyChecking=no'
`, "bad": `[web]
w1
[web:vars]
ansible_ssh_common_args='-o ProxyCommand="nc -x proxy %h %p"'
`})
	_, diags := Load([]string{filepath.Join(dir, "hosts")}, LoadOptions{SSHConfigPath: "none"})
	var got []string
	for _, d := range diags {
		got = append(got, d.Summary)
	}
	want := []string{"StrictHostKeyChecking=no is taken as accept-new", "SSH option -o ForwardAgent ignored"}
	if diags.HasErrors() || !slices.Equal(got, want) {
		t.Errorf("diagnostics %q, want %q:\n%v", got, want, diags)
	}
	_, diags = Load([]string{filepath.Join(dir, "bad")}, LoadOptions{SSHConfigPath: "none"})
	if !diags.HasErrors() || !strings.Contains(diags.Error(), `group "web"`) || !strings.Contains(diags.Error(), "ansible_ssh_common_args") ||
		!strings.Contains(diags.Error(), "ProxyCommand") {
		t.Errorf("unsupported ProxyCommand: %v", diags)
	}
}

// TestAnsibleVault reads files the real ansible-vault wrote
// (testdata/vault/README.md): a group_vars vault (1.1), a host_vars vault
// (1.2, labelled) and an inline !vault value. Every value from them is
// sensitive; clear files beside them are not.
func TestAnsibleVault(t *testing.T) {
	keys := &secrets.Keys{VaultPasswordFile: "testdata/vault/vault.pass"}
	inv, diags := Load([]string{"testdata/vault/hosts.yml"}, LoadOptions{SSHConfigPath: "none", Vault: keys.OpenVault})
	if diags.HasErrors() {
		t.Fatal(diags)
	}
	for _, c := range []struct {
		host, name, want string
		sensitive        bool
	}{
		{"web1", "vault_db_password", `"group-Secret-41"`, true},
		{"web2", "vault_api", `{ token = "api-Tok-42" }`, true},
		{"web1", "host_secret", `"host-Secret-43"`, true},
		{"web2", "inline_pw", `"inline-Secret-44"`, true},
		{"web1", "http_port", `8080`, false},
	} {
		h, _ := inv.Host(c.host)
		v, ok := h.Vars[c.name]
		if !ok {
			t.Errorf("%s: no %s", c.host, c.name)
			continue
		}
		if got := v.HasMarkDeep(lang.SensitiveMark); got != c.sensitive {
			t.Errorf("%s.%s sensitive = %v", c.host, c.name, got)
		}
		u, _ := v.UnmarkDeep()
		if got := strings.Join(strings.Fields(string(hclwrite.TokensForValue(u).Bytes())), " "); got != c.want {
			t.Errorf("%s.%s = %s, want %s", c.host, c.name, got, c.want)
		}
	}
	// A connection variable from a vault still sets the connection.
	if h, _ := inv.Host("web1"); h.User != "deploy" {
		u := h.User
		t.Errorf("web1 user %q, want deploy from its host_vars vault", u)
	}

	// A wrong password: errors naming the files, and not one value from
	// them (the whole file or nothing).
	bad := &secrets.Keys{VaultPasswordFile: "testdata/vault/hosts.yml"}
	inv, diags = Load([]string{"testdata/vault/hosts.yml"}, LoadOptions{SSHConfigPath: "none", Vault: bad.OpenVault})
	var text []string
	for _, d := range diags {
		text = append(text, diagLine(d))
	}
	all := strings.Join(text, "\n")
	for _, want := range []string{"vault.yml: wrong vault password", "web1.yml: wrong vault password", "hosts.yml:5: wrong vault password"} {
		if !strings.Contains(all, want) {
			t.Errorf("no error with %q in:\n%s", want, all)
		}
	}
	if h, ok := inv.Host("web1"); ok {
		if _, ok := h.Vars["vault_db_password"]; ok {
			t.Errorf("a value from a vault that did not open: %v", h.Vars)
		}
	}
}
