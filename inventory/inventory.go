// Package inventory knows the hosts: where they are, how to log in, which
// groups they belong to and which variables they carry. It reads drover's HCL
// inventory and Ansible INI/YAML inventories, applies ~/.ssh/config, and
// selects hosts with Ansible-style patterns.
package inventory

import (
	"time"

	"github.com/zclconf/go-cty/cty"
)

// Connection kinds.
const (
	ConnSSH   = "ssh"
	ConnLocal = "local"
)

// Host is one target with every setting resolved (inventory, groups, defaults,
// ssh_config and built-in defaults merged in the documented precedence).
type Host struct {
	Name       string // the inventory name, unique
	Address    string // what is dialled: an IP or a DNS name
	Port       int
	User       string
	Connection string   // ConnSSH or ConnLocal
	Identities []string // private key files, in order of preference
	ProxyJump  string   // "[user@]host[:port][,...]" as in OpenSSH, or "" for direct
	// KnownHostsFiles from ssh_config's UserKnownHostsFile/GlobalKnownHostsFile
	// for this host; empty means OpenSSH's defaults.
	KnownHostsFiles []string
	ConnectTimeout  time.Duration // 0 means the transport's default
	Become          Become
	// Vars are the host's variables after merging group vars (documented
	// precedence). Connection settings above are not repeated here.
	Vars map[string]cty.Value
	// Groups the host belongs to, directly or through child groups, sorted;
	// always includes "all".
	Groups []string
	// Source says where the host was defined ("inventory.hcl:12"), for messages.
	Source string
}

// Become is how to run commands as another user on the host.
type Become struct {
	Enabled bool
	User    string // default "root"
	Method  string // "sudo" (the only one implemented)
}

// Group is a named set of hosts with variables. Children's hosts are members.
type Group struct {
	Name     string
	Hosts    []string // direct members, in file order
	Children []string
	Vars     map[string]cty.Value
	Source   string
}
