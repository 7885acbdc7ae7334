package inventory

import (
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/zclconf/go-cty/cty"
)

func TestJumpHosts(t *testing.T) {
	home := t.TempDir()
	t.Setenv("HOME", home)
	dir := writeFiles(t, map[string]string{
		"ssh_config": `
Host jump.example.com
  HostName 198.51.100.7
  User jumpuser
  Port 2200
  IdentityFile ~/.ssh/jump
  UserKnownHostsFile ~/.ssh/known_jump
Host inner.example.com
  ProxyJump outer.example.com
Host outer.example.com
  User outer
`,
		"inv.hcl": `
host "bastion" {
  address = "203.0.113.10"
  port    = 2222
  user    = "ops"
}
host "inner-bastion" { proxy_jump = "bastion" }
host "web1" { proxy_jump = "bastion" }
host "web2" { proxy_jump = "admin@bastion:2200" }
host "web3" { proxy_jump = "jump.example.com" }
host "web4" { proxy_jump = "inner-bastion" }
host "web5" { proxy_jump = "bastion,inner-bastion" }
host "web6" { proxy_jump = "inner.example.com" }
host "web7" { proxy_jump = "ops@[2001:db8::1]:2022" }
host "loop1" { proxy_jump = "loop2" }
host "loop2" { proxy_jump = "loop1" }
host "local" { connection = "local" }
host "web8" { proxy_jump = "local" }
host "web9" {}
`,
	})
	inv, diags := Load([]string{filepath.Join(dir, "inv.hcl")}, LoadOptions{SSHConfigPath: filepath.Join(dir, "ssh_config")})
	if diags.HasErrors() {
		t.Fatal(diags.Error())
	}
	hop := func(h *Host) string {
		s := h.Name + "=" + h.User + "@" + h.Address + ":" + itoa(h.Port)
		if len(h.Identities) > 0 {
			s += " id=" + strings.Join(h.Identities, ",")
		}
		if len(h.KnownHostsFiles) > 0 {
			s += " kh=" + strings.Join(h.KnownHostsFiles, ",")
		}
		return s
	}
	tests := []struct {
		host string
		want []string
		err  string
	}{
		{host: "web9", want: nil},
		{host: "web1", want: []string{"bastion=ops@203.0.113.10:2222"}},
		{host: "web2", want: []string{"bastion=admin@203.0.113.10:2200"}},
		{host: "web3", want: []string{"jump.example.com=jumpuser@198.51.100.7:2200 id=" + home + "/.ssh/jump kh=" + home + "/.ssh/known_jump"}},
		{host: "web4", want: []string{"bastion=ops@203.0.113.10:2222", "inner-bastion=tester@inner-bastion:22"}},
		{host: "web5", want: []string{"bastion=ops@203.0.113.10:2222", "inner-bastion=tester@inner-bastion:22"}},
		{host: "web6", want: []string{"outer.example.com=outer@outer.example.com:22", "inner.example.com=tester@inner.example.com:22"}},
		{host: "web7", want: []string{"2001:db8::1=ops@2001:db8::1:2022"}},
		{host: "loop1", err: `host "loop1": proxy jump loop loop1 -> loop2 -> loop1`},
		{host: "web8", err: `proxy jump host "local" has connection local`},
	}
	for _, tc := range tests {
		t.Run(tc.host, func(t *testing.T) {
			hops, err := inv.JumpHosts(mustHost(t, inv, tc.host))
			if tc.err != "" {
				if err == nil || !strings.Contains(err.Error(), tc.err) {
					t.Fatalf("err = %v, want %q", err, tc.err)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			var got []string
			for _, h := range hops {
				got = append(got, hop(h))
			}
			if !slices.Equal(got, tc.want) {
				t.Errorf("JumpHosts = %q\nwant %q", got, tc.want)
			}
		})
	}
	// Hops are copies: changing one does not change the inventory.
	hops, _ := inv.JumpHosts(mustHost(t, inv, "web2"))
	hops[0].User = "changed"
	if mustHost(t, inv, "bastion").User != "ops" {
		t.Error("JumpHosts returned the inventory's own host")
	}
}

func TestParseJump(t *testing.T) {
	tests := []struct {
		in   string
		want []jumpSpec
		err  string
	}{
		{in: "bastion", want: []jumpSpec{{host: "bastion"}}},
		{in: "u@b:2", want: []jumpSpec{{user: "u", host: "b", port: 2}}},
		{in: "ssh://u@b:2, c", want: []jumpSpec{{user: "u", host: "b", port: 2}, {host: "c"}}},
		{in: "[::1]:22", want: []jumpSpec{{host: "::1", port: 22}}},
		{in: "::1", want: []jumpSpec{{host: "::1"}}},
		{in: "a,,b", err: "empty hop"},
		{in: "@b", err: "empty user"},
		{in: "b:0", err: "not a port number"},
		{in: "[::1", err: "unclosed"},
		{in: "u@", err: "no valid host"},
	}
	for _, tc := range tests {
		got, err := parseJumpList(tc.in)
		if tc.err != "" {
			if err == nil || !strings.Contains(err.Error(), tc.err) {
				t.Errorf("%q: err = %v, want %q", tc.in, err, tc.err)
			}
			continue
		}
		if err != nil || !slices.Equal(got, tc.want) {
			t.Errorf("%q = %+v, %v; want %+v", tc.in, got, err, tc.want)
		}
	}
}

func TestAddHost(t *testing.T) {
	inv := mustLoad(t, "testdata/hcl/site.hcl")
	h := &Host{Name: "web9", Address: "10.0.0.19", Vars: map[string]cty.Value{"role": cty.StringVal("new")}}
	if err := inv.AddHost(h, "web", "fresh"); err != nil {
		t.Fatal(err)
	}
	if h.User != "deploy" || h.Port != 22 || h.Connection != ConnSSH || varString(h, "http_port") != "80" ||
		varString(h, "role") != `"new"` || varString(h, "env") != `"prod"` {
		t.Errorf("added host not resolved: %+v", h)
	}
	if !slices.Equal(h.Groups, []string{"all", "fresh", "web"}) {
		t.Errorf("Groups = %v", h.Groups)
	}
	if got, _ := inv.Host("web9"); got != h {
		t.Error("Host(web9) is not the added host")
	}
	if got, err := inv.Select("fresh"); err != nil || len(got) != 1 || got[0] != h {
		t.Errorf("Select(fresh) = %v, %v", names(got), err)
	}
	if got, _ := inv.Select("web"); !slices.Equal(names(got), []string{"web1", "web2", "web9"}) {
		t.Errorf("Select(web) = %v", names(got))
	}
	if g, ok := inv.Group("web"); !ok || !slices.Contains(g.Hosts, "web9") {
		t.Errorf("group web = %+v", g)
	}
	if err := inv.AddHost(&Host{Name: "web9"}); err == nil || !strings.Contains(err.Error(), "already exists") {
		t.Errorf("duplicate: err = %v", err)
	}
	if err := inv.AddHost(&Host{Name: "bad", Connection: "winrm"}); err == nil || !strings.Contains(err.Error(), "winrm") {
		t.Errorf("bad connection: err = %v", err)
	}
	if _, ok := inv.Host("bad"); ok {
		t.Error("a rejected host was kept")
	}
	if err := inv.AddHost(&Host{}); err == nil {
		t.Error("nameless host: want an error")
	}
}

func TestImplicitLocalhost(t *testing.T) {
	inv := mustLoad(t, "testdata/patterns.ini")
	h, ok := inv.Host("localhost")
	if !ok || h.Connection != ConnLocal || h.Groups != nil {
		t.Fatalf("implicit localhost = %+v", h)
	}
	for _, x := range inv.Hosts() {
		if x.Name == "localhost" {
			t.Error("implicit localhost is in Hosts()")
		}
	}
	if hs, _ := inv.Select("all"); slices.Contains(names(hs), "localhost") {
		t.Error("implicit localhost is in all")
	}
	// Defined localhost is an ordinary host.
	inv = mustLoad(t, "testdata/hcl/site.hcl")
	if hs, _ := inv.Select("all"); !slices.Contains(names(hs), "localhost") {
		t.Error("defined localhost is not in all")
	}
}

func TestProxyJumpForEveryHost(t *testing.T) {
	dir := writeFiles(t, map[string]string{"inv.hcl": `
defaults { proxy_jump = "bastion" }
host "bastion" { address = "203.0.113.10" }
host "web1" {}
`})
	inv := mustLoad(t, filepath.Join(dir, "inv.hcl"))
	if b := mustHost(t, inv, "bastion"); b.ProxyJump != "" {
		t.Errorf("bastion jumps through %q; a host never jumps through itself", b.ProxyJump)
	}
	hops, err := inv.JumpHosts(mustHost(t, inv, "web1"))
	if err != nil || len(hops) != 1 || hops[0].Name != "bastion" {
		t.Errorf("JumpHosts(web1) = %v, %v", names(hops), err)
	}
}

func TestUngroupedVars(t *testing.T) {
	dir := writeFiles(t, map[string]string{
		"hosts.yml":                "ungrouped:\n  hosts:\n    a:\n  vars:\n    x: 1\nweb:\n  hosts:\n    b:\n",
		"group_vars/ungrouped.yml": "y: 2\n",
	})
	inv := mustLoad(t, filepath.Join(dir, "hosts.yml"))
	a, b := mustHost(t, inv, "a"), mustHost(t, inv, "b")
	if varString(a, "x") != "1" || varString(a, "y") != "2" || varString(b, "x") != "<unset>" {
		t.Errorf("a.Vars = %v, b.Vars = %v", a.Vars, b.Vars)
	}
	if !slices.Equal(a.Groups, []string{"all", "ungrouped"}) {
		t.Errorf("a.Groups = %v", a.Groups)
	}
}
