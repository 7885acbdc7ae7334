package integration

import (
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
)

// InventoryFile writes a drover HCL inventory of the fleet (every host as
// root with the fleet's key, all in group "fleet") and returns its path.
func (f *Fleet) InventoryFile() string {
	return f.InventoryFileAs("root")
}

// InventoryFileAs is InventoryFile logging in as user.
func (f *Fleet) InventoryFileAs(user string) string {
	var b strings.Builder
	fmt.Fprintf(&b, "# drover test fleet in %s\n", f.Dir)
	fmt.Fprintf(&b, "\ndefaults {\n  user             = %q\n  identity_file    = %q\n  known_hosts_file = %q\n}\n",
		user, f.KeyFile, f.KnownHostsFile)
	names := make([]string, len(f.Hosts))
	for i, h := range f.Hosts {
		names[i] = strconv.Quote(h.Name)
		fmt.Fprintf(&b, "\nhost %q {\n  address = %q\n  port    = %d\n}\n", h.Name, h.Addr, h.Port)
	}
	fmt.Fprintf(&b, "\ngroup \"fleet\" {\n  hosts = [%s]\n}\n", strings.Join(names, ", "))
	name := "inventory.hcl"
	if user != "root" {
		name = "inventory-" + user + ".hcl"
	}
	return f.writeFile(name, b.String())
}

// AnsibleInventoryFile writes an Ansible INI inventory of the fleet (group
// "fleet", root, the fleet's key and known_hosts) and returns its path.
func (f *Fleet) AnsibleInventoryFile() string {
	var b strings.Builder
	b.WriteString("[fleet]\n")
	for _, h := range f.Hosts {
		fmt.Fprintf(&b, "%s ansible_host=%s ansible_port=%d\n", h.Name, h.Addr, h.Port)
	}
	fmt.Fprintf(&b, "\n[fleet:vars]\nansible_user=root\nansible_ssh_private_key_file=%s\n", f.KeyFile)
	fmt.Fprintf(&b, "ansible_ssh_common_args='-o UserKnownHostsFile=%s -o StrictHostKeyChecking=yes -o IdentitiesOnly=yes'\n", f.KnownHostsFile)
	return f.writeFile("inventory.ini", b.String())
}

func (f *Fleet) writeFile(name, content string) string {
	p := filepath.Join(f.Dir, name)
	if err := os.WriteFile(p, []byte(content), 0o644); err != nil {
		// The fleet directory is ours and was writable a moment ago.
		panic(fmt.Sprintf("fleet: write %s: %v", p, err))
	}
	return p
}
