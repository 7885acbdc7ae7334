package inventory

import (
	"fmt"
	"maps"
	"sort"

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
	layers, groups := m.layers(def)
	var s settings
	for _, l := range layers {
		s.merge(l)
	}
	var diags hcl.Diagnostics
	h := resolve(def.name, &s, func(alias string) *settings {
		sh, err := ssh.lookup(alias)
		if err != nil {
			diags = append(diags, &hcl.Diagnostic{Severity: hcl.DiagError, Summary: "Invalid ssh_config value",
				Detail: fmt.Sprintf("Host %q: %v.", def.name, err)})
		}
		return sh
	}, &diags)
	h.Source = def.src
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

// resolve makes the host named name from its merged inventory layer s,
// ssh_config (lookup gives its layer for the name ssh_config knows the host
// by; it is not called for a local host) and the built-in defaults, field by
// field in the table's order. A value that fails its field's check is
// reported and the next source applies.
func resolve(name string, s *settings, lookup func(alias string) *settings, diags *hcl.Diagnostics) *Host {
	h := &Host{Name: name}
	alias := name
	if a, _ := s.vals[keyAddress].(string); a != "" {
		alias = a
	}
	var sh *settings
	for _, f := range fields {
		if f.ssh != nil && sh == nil {
			sh = &settings{}
			if h.Connection == ConnSSH {
				if l := lookup(alias); l != nil {
					sh = l
				}
			}
		}
		valid := func(v any) bool {
			if f.check == nil {
				return true
			}
			err := f.check(v)
			if err != nil {
				d := &hcl.Diagnostic{Severity: hcl.DiagError, Summary: f.summaryText(),
					Detail: fmt.Sprintf("Host %q: %s.", name, lowerFirst(err.Error()))}
				if r, ok := s.where[f.name]; ok && r.Filename != "" {
					d.Subject = r.Ptr()
				}
				*diags = append(*diags, d)
			}
			return err == nil
		}
		var v any
		inv := s.vals[f.key]
		if f.emptyUnset && inv == "" {
			inv = nil
		}
		switch {
		case f.merge == mergeAlias:
			v = alias
			if hn, ok := sh.vals[f.key].(string); ok {
				v = expandPath(hn, tokens{host: alias, alias: alias})
			}
		case inv != nil && valid(inv):
			v = inv
		case sh != nil && sh.vals[f.key] != nil && valid(sh.vals[f.key]):
			v = sh.vals[f.key]
		case f.builtin != nil:
			v = f.builtin()
		default:
			continue
		}
		if f.expand {
			tok := tokens{host: h.Address, alias: alias, remoteUser: h.User, port: h.Port}
			var out []string
			for _, p := range v.([]string) {
				out = append(out, expandPath(p, tok))
			}
			v = out
		}
		f.set(h, v)
	}
	return h
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
