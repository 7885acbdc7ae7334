// Package inventory knows the hosts: where they are, how to log in, which
// groups they belong to and which variables they carry. It reads drover's HCL
// inventory and Ansible INI/YAML inventories, applies ~/.ssh/config, and
// selects hosts with Ansible-style patterns.
//
// An Inventory is read-only after Load except through AddHost; all methods
// are safe for concurrent use.
package inventory

import (
	"fmt"
	"slices"
	"sort"
	"sync"
	"time"

	"github.com/hashicorp/hcl/v2"
	"github.com/zclconf/go-cty/cty"
)

// Connection kinds.
const (
	ConnSSH   = "ssh"
	ConnLocal = "local"
)

// Host-key policies (Host.StrictHostKeyChecking, OpenSSH's values).
const (
	HostKeyVerify    = "yes"
	HostKeyAcceptNew = "accept-new"
	// HostKeyNo is accepted from Ansible inventories but means accept-new:
	// new keys are recorded and a changed key is refused.
	HostKeyNo = "no"
)

// AcceptsNewHostKeys reports whether the host's own policy trusts and
// records the key of a host not yet in known_hosts.
func (h *Host) AcceptsNewHostKeys() bool {
	return h.StrictHostKeyChecking == HostKeyAcceptNew || h.StrictHostKeyChecking == HostKeyNo
}

// Names of the built-in groups.
const (
	GroupAll       = "all"
	GroupUngrouped = "ungrouped"
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
	// IdentitiesOnly offers only the Identities (and agent keys matching
	// their .pub files), as OpenSSH's IdentitiesOnly=yes.
	IdentitiesOnly bool
	// StrictHostKeyChecking is the host's own host-key policy: "" or
	// HostKeyVerify, HostKeyAcceptNew, or HostKeyNo (which drover treats as
	// accept-new: it never turns verification off).
	StrictHostKeyChecking string
	// Vars are the host's variables after merging group vars (documented
	// precedence). Connection settings above are not repeated here.
	Vars map[string]cty.Value
	// Groups the host belongs to, directly or through child groups, sorted;
	// always includes "all" (except for the implicit localhost, which belongs
	// to no group).
	Groups []string
	// Source says where the host was defined ("inventory.hcl:12"), for messages.
	Source string
}

// InGroup reports whether the host belongs to the group, directly or through
// a child group.
func (h *Host) InGroup(group string) bool {
	_, ok := slices.BinarySearch(h.Groups, group)
	return ok
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
	// Parents are the groups this group is a child of ("all" is implied and
	// not listed).
	Parents []string
	// Vars are the group's own variables (connection settings such as
	// ansible_user are resolved into hosts and not repeated here).
	Vars   map[string]cty.Value
	Source string
}

// Inventory is the set of hosts and groups read from inventory files.
type Inventory struct {
	mu     sync.RWMutex
	hosts  []*Host
	byName map[string]*Host
	groups []*Group
	byGrp  map[string]*Group
	// model keeps the unresolved layers so AddHost can resolve new hosts with
	// the same group vars, defaults and ssh_config.
	model *model
	ssh   *sshConfig
	// localhost is the implicit local host, used when "localhost" is not in
	// the inventory.
	localhost *Host
}

// Hosts returns every host in inventory order (the order in which the files
// first mention them). The implicit localhost is not included.
func (inv *Inventory) Hosts() []*Host {
	inv.mu.RLock()
	defer inv.mu.RUnlock()
	return slices.Clone(inv.hosts)
}

// Host returns the host with this inventory name. "localhost" is always
// found: when the inventory does not define it, it is the implicit local
// host (connection local), which is not a member of "all".
func (inv *Inventory) Host(name string) (*Host, bool) {
	inv.mu.RLock()
	defer inv.mu.RUnlock()
	return inv.hostLocked(name)
}

func (inv *Inventory) hostLocked(name string) (*Host, bool) {
	if h, ok := inv.byName[name]; ok {
		return h, true
	}
	if name == "localhost" && inv.localhost != nil {
		return inv.localhost, true
	}
	return nil, false
}

// Groups returns every group: "all" first, then the others in the order they
// were first defined, "ungrouped" last when it has members.
func (inv *Inventory) Groups() []*Group {
	inv.mu.RLock()
	defer inv.mu.RUnlock()
	return slices.Clone(inv.groups)
}

// Group returns the group with this name.
func (inv *Inventory) Group(name string) (*Group, bool) {
	inv.mu.RLock()
	defer inv.mu.RUnlock()
	g, ok := inv.byGrp[name]
	return g, ok
}

// GroupHosts returns the hosts of a group, including those of its child
// groups, in inventory order.
func (inv *Inventory) GroupHosts(name string) []*Host {
	inv.mu.RLock()
	defer inv.mu.RUnlock()
	return inv.groupHostsLocked(name)
}

func (inv *Inventory) groupHostsLocked(name string) []*Host {
	var out []*Host
	for _, h := range inv.hosts {
		if h.InGroup(name) {
			out = append(out, h)
		}
	}
	return out
}

// AddHost adds a host discovered at run time (for example one just
// provisioned) as a member of groups, which are created when they do not
// exist. The fields of h that are set (non-zero) are taken as the host's own
// settings, the highest inventory precedence; the others are filled from the
// groups' variables, the inventory defaults, ssh_config and the built-in
// defaults, exactly as for a host read from a file. h is updated in place and
// becomes the inventory's host. Adding a name that exists is an error.
func (inv *Inventory) AddHost(h *Host, groups ...string) error {
	if h == nil || h.Name == "" {
		return fmt.Errorf("inventory: AddHost needs a host with a name")
	}
	inv.mu.Lock()
	defer inv.mu.Unlock()
	if _, ok := inv.byName[h.Name]; ok {
		return fmt.Errorf("inventory: host %q already exists (defined at %s); choose another name", h.Name, inv.byName[h.Name].Source)
	}
	def := hostDefFromHost(h)
	inv.model.addHost(def)
	for _, g := range groups {
		if g == "" || g == GroupAll {
			continue
		}
		inv.model.addMember(inv.model.group(g, "added at run time", hcl.Range{}), h.Name)
	}
	if err := inv.model.computeGroupGraph(); err != nil {
		return fmt.Errorf("inventory: adding host %q: %w", h.Name, err)
	}
	resolved, diags := inv.model.resolveHost(def, inv.ssh)
	if diags.HasErrors() {
		inv.model.removeHost(h.Name)
		_ = inv.model.computeGroupGraph()
		return fmt.Errorf("inventory: adding host %q: %s", h.Name, diags.Error())
	}
	src := h.Source
	*h = *resolved
	if src != "" {
		h.Source = src
	}
	inv.rebuildLocked(h)
	return nil
}

// rebuildLocked refreshes the host list and groups after a change to the
// model, keeping the existing resolved hosts and adding added.
func (inv *Inventory) rebuildLocked(added *Host) {
	inv.hosts = append(inv.hosts, added)
	inv.byName[added.Name] = added
	inv.groups, inv.byGrp = inv.model.buildGroups()
}

func sortedKeys[V any](m map[string]V) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	return keys
}
