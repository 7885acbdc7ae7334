package main

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/drover-cm/drover/integration"
)

// ansibleINI is an inventory as an Ansible user writes it: a range, a
// :children group, [all:vars] with the ssh arguments that name the
// known_hosts file, and ports in host_vars (a range shares its line's
// variables).
const ansibleINI = `[web]
web[01:02] ansible_host=127.0.0.1

[db]
db01 ansible_host=127.0.0.1 ansible_port=%d

[app:children]
web
db

[all:vars]
ansible_user=root
ansible_ssh_private_key_file=%s
ansible_ssh_common_args='-o UserKnownHostsFile=%s -o StrictHostKeyChecking=%s -o ForwardAgent=no'
`

// ansibleYAML is the same inventory in Ansible's YAML form.
const ansibleYAML = `all:
  vars:
    ansible_user: root
    ansible_ssh_private_key_file: %s
    ansible_ssh_common_args: "-oUserKnownHostsFile=%s -o StrictHostKeyChecking=%s -o ForwardAgent=no"
  children:
    app:
      children:
        web:
          hosts:
            web[01:02]:
              ansible_host: 127.0.0.1
        db:
          hosts:
            db01: {ansible_host: 127.0.0.1, ansible_port: %d}
`

// writeAnsibleInventory writes the inventory in form ("ini" or "yaml") for
// the fleet's three hosts, verifying keys against knownHosts with policy.
func writeAnsibleInventory(t *testing.T, f *integration.Fleet, form, knownHosts, policy string) string {
	t.Helper()
	dir := t.TempDir()
	os.Mkdir(filepath.Join(dir, "host_vars"), 0o755)
	for i, name := range []string{"web01", "web02"} {
		writeFile(t, filepath.Join(dir, "host_vars"), name+".yml", fmt.Sprintf("ansible_port: %d\n", f.Hosts[i].Port))
	}
	if form == "ini" {
		return writeFile(t, dir, "hosts.ini", fmt.Sprintf(ansibleINI, f.Hosts[2].Port, f.KeyFile, knownHosts, policy))
	}
	return writeFile(t, dir, "hosts.yml", fmt.Sprintf(ansibleYAML, f.KeyFile, knownHosts, policy, f.Hosts[2].Port))
}

// TestCLIAnsibleInventoryAsWritten: ping, plan and apply work with an
// Ansible inventory and no drover flags: the known_hosts file named in
// ansible_ssh_common_args verifies the hosts' keys, and the option drover
// ignores is named once.
func TestCLIAnsibleInventoryAsWritten(t *testing.T) {
	f := integration.Start(t, 3)
	pb := writeFile(t, t.TempDir(), "site.hcl", `play "app" {
  hosts = "app"
  file "motd" {
    path    = "/root/motd"
    content = "managed\n"
  }
}
`)
	for _, form := range []string{"ini", "yaml"} {
		t.Run(form, func(t *testing.T) {
			inv := writeAnsibleInventory(t, f, form, f.KnownHostsFile, "yes")
			r := drover(t, "", "ping", "-i", inv, "app")
			if r.code != 0 || !strings.Contains(r.stdout, ": 3 ok") {
				t.Fatalf("ping: exit %d\n%s\n%s", r.code, r.stdout, r.stderr)
			}
			if n := strings.Count(r.stderr, "Warning: SSH option -o ForwardAgent ignored"); n != 1 {
				t.Errorf("the ignored option is named %d times, want once:\n%s", n, r.stderr)
			}
			r = drover(t, "", "plan", "-i", inv, pb)
			if r.code != 0 || !strings.Contains(r.stdout, "web01") || !strings.Contains(r.stdout, "db01") {
				t.Errorf("plan: exit %d\n%s\n%s", r.code, r.stdout, r.stderr)
			}
			r = drover(t, "", "apply", "-i", inv, pb)
			if r.code != 0 {
				t.Fatalf("apply: exit %d\n%s\n%s", r.code, r.stdout, r.stderr)
			}
			if n := strings.Count(r.stderr, "Warning: SSH option -o ForwardAgent ignored"); n != 1 {
				t.Errorf("apply names the ignored option %d times, want once:\n%s", n, r.stderr)
			}
			for _, h := range f.Hosts {
				if got := h.Exec(t, "cat /root/motd"); got != "managed\n" {
					t.Errorf("%s: motd %q", h.Name, got)
				}
			}
		})
	}

	// become as Ansible writes it, connection local, and a become method
	// drover does not have refused by name.
	inv := writeAnsibleInventory(t, f, "ini", f.KnownHostsFile, "yes")
	extra := fmt.Sprintf("\n[deploy]\ndb01 ansible_user=%s ansible_become=yes ansible_become_user=root ansible_become_method=sudo\n[here]\nlocalhost ansible_connection=local\n", integration.DeployUser)
	appendFile(t, inv, extra)
	r := drover(t, "", "exec", "-i", inv, "deploy,here", "--", "id -un")
	if r.code != 0 || strings.Count(r.stdout, "| ok | exit 0") != 2 || strings.Count(r.stdout, "    root\n") != 2 {
		t.Errorf("become and local: exit %d\n%s\n%s", r.code, r.stdout, r.stderr)
	}
	appendFile(t, inv, "[su]\nweb01 ansible_become_method=su\n")
	if r := drover(t, "", "ping", "-i", inv); r.code != 1 || !strings.Contains(r.stderr, `host "web01": become method "su" is not supported`) {
		t.Errorf("become method su: exit %d\n%s", r.code, r.stderr)
	}

	// Unknown keys: the hint names the inventory's file, not ~/.ssh.
	empty := filepath.Join(t.TempDir(), "kh")
	inv = writeAnsibleInventory(t, f, "ini", empty, "yes")
	r = drover(t, "", "ping", "-i", inv, "web01")
	if r.code != 1 || !strings.Contains(r.stdout, "host-key-unknown") || !strings.Contains(r.stdout, ">> "+empty) {
		t.Errorf("unknown key: exit %d\n%s", r.code, r.stdout)
	}

	// accept-new records the keys in the inventory's file, then verifies.
	kh := filepath.Join(t.TempDir(), "known_hosts")
	inv = writeAnsibleInventory(t, f, "ini", kh, "accept-new")
	for range 2 {
		if r := drover(t, "", "ping", "-i", inv, "app"); r.code != 0 {
			t.Fatalf("ping with accept-new: exit %d\n%s\n%s", r.code, r.stdout, r.stderr)
		}
	}
	if data, _ := os.ReadFile(kh); strings.Count(string(data), "\n") != 3 {
		t.Errorf("accept-new recorded:\n%s", data)
	}
}

func appendFile(t *testing.T, path, text string) {
	t.Helper()
	f, err := os.OpenFile(path, os.O_APPEND|os.O_WRONLY, 0)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	if _, err := f.WriteString(text); err != nil {
		t.Fatal(err)
	}
}
