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

type hostDef struct {
	name    string
	set     settings
	src     string    // "file:line"
	rng     hcl.Range // the definition, for duplicate diagnostics
	fromHCL bool      // defined by a host block (duplicates are errors)
	// implicit marks the implicit localhost, which is in no group.
	implicit bool
}

type groupDef struct {
	name     string
	set      settings
	hosts    []string // direct members, in the order they were declared
	children []string
	// hostRefs and childRefs are names an HCL group block refers to; they
	// must exist once every file is read.
	hostRefs  map[string]hcl.Range
	childRefs map[string]hcl.Range
	priority  int
	src       string
	rng       hcl.Range
	fromHCL   bool // declared by a group block (duplicates are errors)
	// computed by computeGroupGraph
	parents []string
	depth   int
}

// model is what the inventory files say, before resolution.
type model struct {
	hosts     map[string]*hostDef
	hostOrder []string
	groups    map[string]*groupDef
	grpOrder  []string
	defaults  *settings
	defRange  *hcl.Range
	// varsDirs are the directories whose group_vars/ and host_vars/ apply.
	varsDirs []string
	// vault decrypts Ansible Vault text (LoadOptions.Vault).
	vault vaultFunc
	// sources are the dynamic inventory blocks (source.go).
	sources []Source
}

func newModel() *model {
	m := &model{hosts: map[string]*hostDef{}, groups: map[string]*groupDef{}}
	m.addGroup(&groupDef{name: GroupAll, src: "built in"})
	return m
}

func (m *model) addHost(h *hostDef) {
	if _, ok := m.hosts[h.name]; !ok {
		m.hostOrder = append(m.hostOrder, h.name)
	}
	m.hosts[h.name] = h
}

func (m *model) removeHost(name string) {
	delete(m.hosts, name)
	m.hostOrder = slices.DeleteFunc(m.hostOrder, func(n string) bool { return n == name })
	for _, g := range m.groups {
		g.hosts = slices.DeleteFunc(g.hosts, func(n string) bool { return n == name })
	}
}

// host returns the host named name, creating it (defined at src) if needed.
func (m *model) host(name, src string, rng hcl.Range) *hostDef {
	if h, ok := m.hosts[name]; ok {
		return h
	}
	h := &hostDef{name: name, src: src, rng: rng}
	m.addHost(h)
	return h
}

func (m *model) addGroup(g *groupDef) {
	if _, ok := m.groups[g.name]; !ok {
		m.grpOrder = append(m.grpOrder, g.name)
	}
	m.groups[g.name] = g
}

// group returns the group named name, creating it if needed.
func (m *model) group(name, src string, rng hcl.Range) *groupDef {
	if g, ok := m.groups[name]; ok {
		return g
	}
	g := &groupDef{name: name, src: src, rng: rng}
	m.addGroup(g)
	return g
}

// addMember makes host a direct member of group (once).
func (m *model) addMember(group *groupDef, host string) {
	if group.name == GroupAll {
		return
	}
	if !slices.Contains(group.hosts, host) {
		group.hosts = append(group.hosts, host)
	}
}

func (m *model) addChild(parent *groupDef, child string) {
	if !slices.Contains(parent.children, child) {
		parent.children = append(parent.children, child)
	}
}

// cycles returns the child-group cycles, each as the list of group names
// along it with the first repeated at the end.
func (m *model) cycles() [][]string {
	const (
		white = iota
		grey
		black
	)
	color := map[string]int{}
	var stack []string
	var out [][]string
	var visit func(string)
	visit = func(n string) {
		color[n] = grey
		stack = append(stack, n)
		if g, ok := m.groups[n]; ok {
			for _, c := range g.children {
				switch color[c] {
				case white:
					visit(c)
				case grey:
					i := slices.Index(stack, c)
					cyc := append(slices.Clone(stack[i:]), c)
					out = append(out, cyc)
				}
			}
		}
		stack = stack[:len(stack)-1]
		color[n] = black
	}
	for _, n := range m.grpOrder {
		if color[n] == white {
			visit(n)
		}
	}
	return out
}

// breakCycles removes the child edges that close cycles, so that resolution
// can go on (the cycles have been reported).
func (m *model) breakCycles() {
	for _, cyc := range m.cycles() {
		last, first := cyc[len(cyc)-2], cyc[len(cyc)-1]
		if g, ok := m.groups[last]; ok {
			g.children = slices.DeleteFunc(g.children, func(c string) bool { return c == first })
		}
	}
}

// computeGroupGraph fills parents and depth ("all" is 0, a top-level group
// 1, a child one more than its deepest parent, as Ansible counts).
func (m *model) computeGroupGraph() error {
	if cyc := m.cycles(); len(cyc) > 0 {
		return fmt.Errorf("group cycle %s", strings.Join(cyc[0], " -> "))
	}
	for _, g := range m.groups {
		g.parents = nil
		g.depth = -1
	}
	for _, n := range m.grpOrder {
		g := m.groups[n]
		for _, c := range g.children {
			if cg, ok := m.groups[c]; ok && n != GroupAll {
				cg.parents = append(cg.parents, n)
			}
		}
	}
	var depth func(g *groupDef) int
	depth = func(g *groupDef) int {
		if g.depth >= 0 {
			return g.depth
		}
		if g.name == GroupAll {
			g.depth = 0
			return 0
		}
		d := 1
		for _, p := range g.parents {
			d = max(d, depth(m.groups[p])+1)
		}
		g.depth = d
		return d
	}
	for _, g := range m.groups {
		depth(g)
	}
	return nil
}

// hostGroups returns every group h belongs to, directly or as a member of a
// child group, excluding "all".
func (m *model) hostGroups(name string) []*groupDef {
	seen := map[string]bool{}
	var out []*groupDef
	var up func(g *groupDef)
	up = func(g *groupDef) {
		if seen[g.name] || g.name == GroupAll {
			return
		}
		seen[g.name] = true
		out = append(out, g)
		for _, p := range g.parents {
			up(m.groups[p])
		}
	}
	for _, gn := range m.grpOrder {
		g := m.groups[gn]
		if slices.Contains(g.hosts, name) {
			up(g)
		}
	}
	// A host in no group is in "ungrouped", whose variables (from a YAML
	// "ungrouped:" group or group_vars/ungrouped.yml) then apply.
	if g, ok := m.groups[GroupUngrouped]; ok && len(out) == 0 {
		out = append(out, g)
	}
	return out
}

// orderGroups sorts groups by Ansible's rule for merging their variables:
// by depth (parents before children), then by priority
// (ansible_group_priority), then by name; later ones win.
func orderGroups(gs []*groupDef) {
	sort.SliceStable(gs, func(i, j int) bool {
		a, b := gs[i], gs[j]
		if a.depth != b.depth {
			return a.depth < b.depth
		}
		if a.priority != b.priority {
			return a.priority < b.priority
		}
		return a.name < b.name
	})
}

// buildGroups makes the public Group values.
func (m *model) buildGroups() ([]*Group, map[string]*Group) {
	var list []*Group
	idx := map[string]*Group{}
	grouped := map[string]bool{}
	for _, gn := range m.grpOrder {
		if gn == GroupAll || gn == GroupUngrouped {
			continue
		}
		for _, h := range m.groups[gn].hosts {
			grouped[h] = true
		}
	}
	mk := func(g *groupDef) *Group {
		out := &Group{
			Name:     g.name,
			Hosts:    slices.Clone(g.hosts),
			Children: slices.Clone(g.children),
			Parents:  slices.Clone(g.parents),
			Vars:     maps.Clone(g.set.Vars),
			Source:   g.src,
		}
		if out.Vars == nil {
			out.Vars = map[string]cty.Value{}
		}
		return out
	}
	all := mk(m.groups[GroupAll])
	all.Hosts = slices.Clone(m.hostOrder)
	all.Children = nil
	for _, gn := range m.grpOrder {
		if gn != GroupAll && len(m.groups[gn].parents) == 0 {
			all.Children = append(all.Children, gn)
		}
	}
	list = append(list, all)
	idx[GroupAll] = all
	for _, gn := range m.grpOrder {
		if gn == GroupAll || gn == GroupUngrouped {
			continue
		}
		g := mk(m.groups[gn])
		list = append(list, g)
		idx[gn] = g
	}
	var ungrouped []string
	for _, h := range m.hostOrder {
		if !grouped[h] {
			ungrouped = append(ungrouped, h)
		}
	}
	ug := &Group{Name: GroupUngrouped, Hosts: ungrouped, Vars: map[string]cty.Value{}, Source: "built in"}
	if g, ok := m.groups[GroupUngrouped]; ok {
		ug = mk(g)
		ug.Hosts = ungrouped
	}
	if len(ug.Hosts) > 0 || m.groups[GroupUngrouped] != nil {
		list = append(list, ug)
		idx[GroupUngrouped] = ug
	}
	return list, idx
}

// hostDefFromHost turns the set fields of a run-time host into a host layer.
func hostDefFromHost(h *Host) *hostDef {
	d := &hostDef{name: h.Name, src: h.Source}
	if d.src == "" {
		d.src = "added at run time"
	}
	for _, f := range fields {
		if v, ok := f.get(h); ok {
			if l, isList := v.([]string); isList {
				v = slices.Clone(l)
			}
			d.set.vals[f.key] = v
		}
	}
	d.set.Vars = maps.Clone(h.Vars)
	return d
}
