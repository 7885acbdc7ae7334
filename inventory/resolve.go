package inventory

import (
	"fmt"
	"maps"
	"slices"
	"sort"
	"strings"

	"github.com/hashicorp/hcl/v2"
	"github.com/zclconf/go-cty/cty"
)

// Built-in defaults, the lowest precedence.
const (
	defaultPort       = 22
	defaultBecomeUser = "root"
	becomeSudo        = "sudo"
)

// layers returns the settings layers that apply to def, lowest precedence
// first: inventory defaults, group "all", the other groups in Ansible's
// order, the host itself. The ssh_config and built-in defaults are applied
// under them by resolveHost.
func (m *model) layers(def *hostDef) (layers []*settings, groups []*groupDef) {
	if m.defaults != nil {
		layers = append(layers, m.defaults)
	}
	layers = append(layers, &m.groups[GroupAll].set)
	if !def.implicit {
		groups = m.hostGroups(def.name)
		orderGroups(groups)
		for _, g := range groups {
			layers = append(layers, &g.set)
		}
	}
	layers = append(layers, &def.set)
	return layers, groups
}

// resolveHost merges def's layers with ssh_config and built-in defaults.
func (m *model) resolveHost(def *hostDef, ssh *sshConfig) (*Host, hcl.Diagnostics) {
	var diags hcl.Diagnostics
	layers, groups := m.layers(def)
	var s settings
	for _, l := range layers {
		s.merge(l)
	}
	h := &Host{Name: def.name, Source: def.src}
	bad := func(field, summary, detail string) {
		d := &hcl.Diagnostic{Severity: hcl.DiagError, Summary: summary, Detail: detail}
		if r, ok := s.where[field]; ok && r.Filename != "" {
			d.Subject = r.Ptr()
		}
		diags = append(diags, d)
	}

	h.Connection = ConnSSH
	if s.Connection != nil {
		switch c := *s.Connection; c {
		case ConnSSH, ConnLocal:
			h.Connection = c
		default:
			bad("connection", "Unsupported connection",
				fmt.Sprintf("Host %q: connection %q is not supported; use \"ssh\" or \"local\".", def.name, c))
		}
	}
	h.Become = Become{User: defaultBecomeUser, Method: becomeSudo}
	if s.Become != nil {
		h.Become.Enabled = *s.Become
	}
	if s.BecomeUser != nil && *s.BecomeUser != "" {
		h.Become.User = *s.BecomeUser
	}
	if s.BecomeMethod != nil && *s.BecomeMethod != becomeSudo {
		bad("become_method", "Unsupported become method",
			fmt.Sprintf("Host %q: become method %q is not supported; drover only runs commands as another user with sudo.", def.name, *s.BecomeMethod))
	}

	alias := def.name
	if s.Address != nil && *s.Address != "" {
		alias = *s.Address
	}
	var sh sshHost
	if h.Connection == ConnSSH {
		var err error
		sh, err = ssh.lookup(alias)
		if err != nil {
			diags = append(diags, &hcl.Diagnostic{Severity: hcl.DiagError, Summary: "Invalid ssh_config value",
				Detail: fmt.Sprintf("Host %q: %v.", def.name, err)})
		}
	}
	h.Address = alias
	if sh.HostName != "" {
		h.Address = expandPath(sh.HostName, tokens{host: alias, alias: alias})
	}
	h.Port = defaultPort
	if sh.Port != 0 {
		h.Port = sh.Port
	}
	if s.Port != nil {
		if p := *s.Port; p < 1 || p > 65535 {
			bad("port", "Invalid port", fmt.Sprintf("Host %q: port %d is not between 1 and 65535.", def.name, p))
		} else {
			h.Port = p
		}
	}
	h.User = currentUser()
	if sh.User != "" {
		h.User = sh.User
	}
	if s.User != nil && *s.User != "" {
		h.User = *s.User
	}
	tok := tokens{host: h.Address, alias: alias, remoteUser: h.User, port: h.Port}
	ids := sh.Identities
	if s.Identities != nil {
		ids = s.Identities
	}
	for _, id := range ids {
		h.Identities = append(h.Identities, expandPath(id, tok))
	}
	h.ProxyJump = sh.ProxyJump
	if s.ProxyJump != nil {
		h.ProxyJump = *s.ProxyJump
		if strings.EqualFold(h.ProxyJump, "none") {
			h.ProxyJump = ""
		}
	}
	if h.ProxyJump != "" {
		// A host that would jump through itself (proxy_jump set for every
		// host in defaults or group all, including the bastion) connects
		// directly.
		if hops, err := parseJumpList(h.ProxyJump); err == nil && len(hops) == 1 && hops[0].host == def.name {
			h.ProxyJump = ""
		} else if err != nil {
			bad("proxy_jump", "Invalid proxy_jump", fmt.Sprintf("Host %q: %v.", def.name, err))
		}
	}
	if len(sh.UserKnownHosts) > 0 || len(sh.GlobalKnownHosts) > 0 {
		user := sh.UserKnownHosts
		if len(user) == 0 {
			user = []string{"~/.ssh/known_hosts", "~/.ssh/known_hosts2"}
		}
		for _, f := range append(slices.Clone(user), sh.GlobalKnownHosts...) {
			h.KnownHostsFiles = append(h.KnownHostsFiles, expandPath(f, tok))
		}
	}
	if s.KnownHosts != nil { // the inventory wins over ssh_config
		h.KnownHostsFiles = nil
		for _, f := range s.KnownHosts {
			h.KnownHostsFiles = append(h.KnownHostsFiles, expandPath(f, tok))
		}
	}
	h.ConnectTimeout = sh.ConnectTimeout
	if s.ConnectTimeout != nil {
		h.ConnectTimeout = *s.ConnectTimeout
	}
	if h.Connection == ConnLocal {
		h.ProxyJump = ""
	}
	h.Vars = maps.Clone(s.Vars)
	if h.Vars == nil {
		h.Vars = map[string]cty.Value{}
	}
	if !def.implicit {
		h.Groups = []string{GroupAll}
		for _, g := range groups {
			h.Groups = append(h.Groups, g.name)
		}
		if len(groups) == 0 {
			h.Groups = append(h.Groups, GroupUngrouped)
		}
		sort.Strings(h.Groups)
	}
	return h, diags
}

// dedupeDiags folds diagnostics that have the same summary and subject (a
// bad group variable is reported once, not once per host), naming how many
// hosts it affects.
func dedupeDiags(diags hcl.Diagnostics) hcl.Diagnostics {
	type key struct {
		summary string
		subject hcl.Range
	}
	var out hcl.Diagnostics
	count := map[key]int{}
	first := map[key]*hcl.Diagnostic{}
	for _, d := range diags {
		if d.Subject == nil {
			out = append(out, d)
			continue
		}
		k := key{d.Summary, *d.Subject}
		count[k]++
		if _, ok := first[k]; !ok {
			first[k] = d
			out = append(out, d)
		}
	}
	for k, d := range first {
		if n := count[k]; n > 1 {
			d.Detail += fmt.Sprintf(" (%d hosts get this value.)", n)
		}
	}
	return out
}
