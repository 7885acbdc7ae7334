package lang

import (
	"sort"

	"github.com/zclconf/go-cty/cty"

	"github.com/drover-cm/drover/engine/facts"
)

// FleetHost is what inventory.hosts["NAME"] shows of one host.
type FleetHost struct {
	Name    string
	Address string
	Port    int
	User    string
	Groups  []string
	Vars    map[string]cty.Value
	// Facts are the host's facts, nil when not gathered (facts is then a
	// null object).
	Facts *facts.Facts
}

// ReadMark marks the values of inventory.hosts[NAME] (all but its name)
// with the host they come from, so that what a task read from other hosts
// can be listed (HostsRead) however the value was computed: cty carries
// marks through operations, functions and templates.
type ReadMark struct{ Host string }

// InventoryValue is the inventory object of expressions:
// inventory.groups["GROUP"] is the list of the group's host names in
// inventory order (hosts given in inventory order), and
// inventory.hosts["NAME"] an object with name, address, port, user,
// groups, vars and facts.
func InventoryValue(hosts []FleetHost) cty.Value {
	byGroup := map[string][]cty.Value{}
	hv := make(map[string]cty.Value, len(hosts))
	for _, h := range hosts {
		for _, g := range h.Groups {
			byGroup[g] = append(byGroup[g], cty.StringVal(h.Name))
		}
		groups := append([]string(nil), h.Groups...)
		sort.Strings(groups)
		gl := make([]cty.Value, len(groups))
		for i, g := range groups {
			gl[i] = cty.StringVal(g)
		}
		gv := cty.ListValEmpty(cty.String)
		if len(gl) > 0 {
			gv = cty.ListVal(gl)
		}
		fv := cty.NullVal(facts.Type)
		if h.Facts != nil {
			fv = h.Facts.Value()
		}
		m := ReadMark{h.Name}
		hv[h.Name] = cty.ObjectVal(map[string]cty.Value{
			"name":    cty.StringVal(h.Name),
			"address": cty.StringVal(h.Address).Mark(m),
			"port":    cty.NumberIntVal(int64(h.Port)).Mark(m),
			"user":    cty.StringVal(h.User).Mark(m),
			"groups":  gv.Mark(m),
			"vars":    objectOrEmpty(h.Vars).Mark(m),
			"facts":   fv.Mark(m),
		})
	}
	gs := make(map[string]cty.Value, len(byGroup))
	for g, names := range byGroup {
		gs[g] = cty.ListVal(names)
	}
	groups := cty.MapValEmpty(cty.List(cty.String))
	if len(gs) > 0 {
		groups = cty.MapVal(gs)
	}
	return cty.ObjectVal(map[string]cty.Value{"groups": groups, "hosts": objectOrEmpty(hv)})
}

// UnknownInventory is the inventory object when the inventory is not known
// (validate): expressions using it type-check to unknown values.
func UnknownInventory() cty.Value {
	return cty.ObjectVal(map[string]cty.Value{
		"groups": cty.UnknownVal(cty.Map(cty.List(cty.String))),
		"hosts":  cty.DynamicVal,
	})
}

// HostsRead lists, sorted, the hosts whose inventory data (other than
// their names) went into v, and returns v without those marks: modules and
// sinks see plain values, sensitive marks stay.
func HostsRead(v cty.Value) ([]string, cty.Value) {
	u, pvms := v.UnmarkDeepWithPaths()
	seen := map[string]bool{}
	var out []string
	keep := pvms[:0]
	for _, pvm := range pvms {
		rest := cty.ValueMarks{}
		for m := range pvm.Marks {
			if r, ok := m.(ReadMark); ok {
				if !seen[r.Host] {
					seen[r.Host] = true
					out = append(out, r.Host)
				}
				continue
			}
			rest[m] = struct{}{}
		}
		if len(rest) > 0 {
			keep = append(keep, cty.PathValueMarks{Path: pvm.Path, Marks: rest})
		}
	}
	sort.Strings(out)
	if len(out) == 0 {
		return nil, v
	}
	return out, u.MarkWithPaths(keep)
}
