package inventory

import (
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"
)

const testSSHConfig = `
Host web1
  HostName 10.9.9.9
  User sshuser
  Port 2022
  IdentityFile ~/.ssh/%r@%h
  IdentityFile %d/.ssh/second
  UserKnownHostsFile ~/.ssh/kh_%n
  ConnectTimeout 7
  ProxyJump jump.example.com

Host 10.0.0.*
  User subnet
  IdentityFile ~/.ssh/subnet_%u

Host jump.example.com
  User jumpuser
  Port 2200
  IdentityFile ~/.ssh/jump
  ProxyJump none

Host outer.example.com
  User outer

Host inner.example.com
  ProxyJump outer.example.com

Host *
  User star
`

func TestSSHConfig(t *testing.T) {
	home := t.TempDir()
	t.Setenv("HOME", home)
	dir := writeFiles(t, map[string]string{
		"ssh_config": testSSHConfig,
		"hosts": `web1
web2 ansible_host=10.0.0.5
web3 ansible_host=10.0.0.6 ansible_user=inv ansible_port=2345
web4 ansible_ssh_private_key_file=/keys/web4 ansible_ssh_common_args="-J none"
local1 ansible_connection=local
`,
	})
	inv, diags := Load([]string{filepath.Join(dir, "hosts")}, LoadOptions{SSHConfigPath: filepath.Join(dir, "ssh_config")})
	if diags.HasErrors() {
		t.Fatal(diags.Error())
	}
	tests := []struct {
		name, address, user, jump string
		port                      int
		ids, knownHosts           []string
		timeout                   time.Duration
	}{
		{name: "web1", address: "10.9.9.9", user: "sshuser", port: 2022, jump: "jump.example.com",
			ids:        []string{home + "/.ssh/sshuser@10.9.9.9", home + "/.ssh/second"},
			knownHosts: []string{home + "/.ssh/kh_web1"}, timeout: 7 * time.Second},
		{name: "web2", address: "10.0.0.5", user: "subnet", port: 22, ids: []string{home + "/.ssh/subnet_tester"}},
		// inventory values win over ssh_config; %r is the final user
		{name: "web3", address: "10.0.0.6", user: "inv", port: 2345, ids: []string{home + "/.ssh/subnet_tester"}},
		{name: "web4", address: "web4", user: "star", port: 22, ids: []string{"/keys/web4"}},
		{name: "local1", address: "local1", user: "tester", port: 22}, // no ssh_config for local hosts
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			h := mustHost(t, inv, tc.name)
			if h.Address != tc.address || h.User != tc.user || h.Port != tc.port || h.ProxyJump != tc.jump || h.ConnectTimeout != tc.timeout {
				t.Errorf("got address=%q user=%q port=%d jump=%q timeout=%v", h.Address, h.User, h.Port, h.ProxyJump, h.ConnectTimeout)
			}
			if !slices.Equal(h.Identities, tc.ids) {
				t.Errorf("Identities = %v, want %v", h.Identities, tc.ids)
			}
			if !slices.Equal(h.KnownHostsFiles, tc.knownHosts) {
				t.Errorf("KnownHostsFiles = %v, want %v", h.KnownHostsFiles, tc.knownHosts)
			}
		})
	}
}

func TestSSHConfigDefaultPath(t *testing.T) {
	home := t.TempDir()
	t.Setenv("HOME", home)
	dir := writeFiles(t, map[string]string{"hosts": "web1\n"})
	inv := filepath.Join(dir, "hosts")

	// No ~/.ssh/config: fine.
	if _, diags := Load([]string{inv}, LoadOptions{}); len(diags) != 0 {
		t.Errorf("no config: %v", diags)
	}
	writeFilesIn(t, home, map[string]string{".ssh/config": "Host web1\n  User fromdefault\n"})
	i, diags := Load([]string{inv}, LoadOptions{})
	if len(diags) != 0 || mustHost(t, i, "web1").User != "fromdefault" {
		t.Errorf("default config not applied: %v", diags)
	}
	// "none" disables it.
	i, _ = Load([]string{inv}, LoadOptions{SSHConfigPath: "none"})
	if mustHost(t, i, "web1").User != "tester" {
		t.Error(`"none" did not disable ssh_config`)
	}
	// A default file drover cannot parse is a warning; an explicit one an error.
	writeFilesIn(t, home, map[string]string{".ssh/config": "Match exec \"true\"\n  User x\n"})
	_, diags = Load([]string{inv}, LoadOptions{})
	if len(diags) != 1 || diags[0].Severity != 2 || !strings.Contains(diags[0].Detail, "ignores this file") {
		t.Errorf("broken default config: %v", diags)
	}
	_, diags = Load([]string{inv}, LoadOptions{SSHConfigPath: filepath.Join(home, ".ssh/config")})
	if !diags.HasErrors() {
		t.Error("broken explicit config: want an error")
	}
	_, diags = Load([]string{inv}, LoadOptions{SSHConfigPath: filepath.Join(home, "missing")})
	if !diags.HasErrors() {
		t.Error("missing explicit config: want an error")
	}
}

func TestExpandPath(t *testing.T) {
	t.Setenv("HOME", "/home/u")
	t.Setenv("KEYDIR", "/keys")
	tok := tokens{host: "10.0.0.1", alias: "web1", remoteUser: "deploy", port: 2222}
	tests := map[string]string{
		"~/.ssh/id":         "/home/u/.ssh/id",
		"~":                 "/home/u",
		"%d/.ssh/%r@%h:%p":  "/home/u/.ssh/deploy@10.0.0.1:2222",
		"%n-%u-100%%":       "web1-tester-100%",
		"${KEYDIR}/id":      "/keys/id",
		"/abs/%x":           "/abs/%x",
		"/trailing%":        "/trailing%",
		"relative/~/notexp": "relative/~/notexp",
	}
	for in, want := range tests {
		if got := expandPath(in, tok); got != want {
			t.Errorf("expandPath(%q) = %q, want %q", in, got, want)
		}
	}
}
