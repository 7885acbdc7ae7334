package lang

import (
	"sort"

	"github.com/hashicorp/hcl/v2"
	"github.com/zclconf/go-cty/cty"
	"github.com/zclconf/go-cty/cty/function"

	"github.com/drover-cm/drover/engine/facts"
)

// SensitiveMark marks values that must be masked in every output: variables
// declared sensitive, values passed through sensitive(), and everything
// computed from them (cty carries marks through operations and functions).
const SensitiveMark = sensitiveMark("sensitive")

type sensitiveMark string

// Sensitive returns v marked sensitive.
func Sensitive(v cty.Value) cty.Value { return v.Mark(SensitiveMark) }

// IsSensitive reports whether v or anything inside it is sensitive.
func IsSensitive(v cty.Value) bool { return v.HasMarkDeep(SensitiveMark) }

// SensitiveStrings returns every known, non-empty string inside v that is
// marked sensitive (or inside a sensitive collection), for masking writers.
func SensitiveStrings(v cty.Value) []string {
	var out []string
	u, pvms := v.UnmarkDeepWithPaths()
	for _, pvm := range pvms {
		if _, ok := pvm.Marks[SensitiveMark]; !ok {
			continue
		}
		x, err := pvm.Path.Apply(u)
		if err != nil {
			continue
		}
		cty.Walk(x, func(_ cty.Path, y cty.Value) (bool, error) {
			if y.IsKnown() && !y.IsNull() && y.Type() == cty.String && y.AsString() != "" {
				out = append(out, y.AsString())
			}
			return true, nil
		})
	}
	return out
}

// Scope holds the values an expression can refer to. engine/run builds one
// per host (and per task instance, for each/count).
type Scope struct {
	Vars   map[string]cty.Value
	Locals map[string]cty.Value
	// Host is the host object (see HostValue); cty.NilVal where host.* is not
	// available (the hosts of a play).
	Host cty.Value
	// Inventory is the inventory object (InventoryValue); cty.NilVal where
	// nothing refers to inventory.* (building it costs per host).
	Inventory cty.Value
	// Tasks are the values of the play's tasks, by module type then name: an
	// object of the task's attributes and outputs, or for for_each/count a
	// map/tuple of them; unknown while not yet known.
	Tasks map[string]map[string]cty.Value
	// Each is set in a for_each instance, Count in a count instance.
	Each *Each
	// Count is count.index in a count instance, cty.NilVal otherwise.
	Count cty.Value
	// Stacks are the outputs of the stack calls in scope, by call name
	// (stack.NAME.OUTPUT); nil where there are none.
	Stacks    map[string]cty.Value
	Functions map[string]function.Function
	// objs caches the object EvalContext builds of each module type's
	// Tasks (see CacheTaskObjects); nil: none is kept.
	objs map[string]cty.Value
}

// CacheTaskObjects makes EvalContext keep the object it builds of each
// module type's tasks until SetTask changes a task of that type. Building
// those objects (cty.ObjectVal normalises and copies every name) was most
// of EvalContext's cost, and a host's evaluation asks for a context per
// task and per refresh: with 30 tasks, 30 objects of up to 30 values each
// time. Only for a scope used by one goroutine at a time (with its copies
// from With, which share the cache) whose Tasks change only through
// SetTask: engine/run's scope of one host.
func (s *Scope) CacheTaskObjects() { s.objs = map[string]cty.Value{} }

// SetTask sets what expressions see of the task typ.name.
func (s *Scope) SetTask(typ, name string, v cty.Value) {
	if s.Tasks == nil {
		s.Tasks = map[string]map[string]cty.Value{}
	}
	m := s.Tasks[typ]
	if m == nil {
		m = map[string]cty.Value{}
		s.Tasks[typ] = m
	}
	m[name] = v
	delete(s.objs, typ)
}

// Each is each.key and each.value.
type Each struct{ Key, Value cty.Value }

// EvalContext returns an HCL evaluation context for the scope.
func (s *Scope) EvalContext() *hcl.EvalContext {
	vars := map[string]cty.Value{
		"var":   objectOrEmpty(s.Vars),
		"local": objectOrEmpty(s.Locals),
	}
	if s.Host != cty.NilVal {
		vars["host"] = s.Host
	}
	if s.Inventory != cty.NilVal {
		vars["inventory"] = s.Inventory
	}
	for typ, byName := range s.Tasks {
		o, ok := s.objs[typ]
		if !ok {
			o = objectOrEmpty(byName)
			if s.objs != nil {
				s.objs[typ] = o
			}
		}
		vars[typ] = o
	}
	if s.Each != nil {
		vars["each"] = cty.ObjectVal(map[string]cty.Value{"key": s.Each.Key, "value": s.Each.Value})
	}
	if s.Count != cty.NilVal {
		vars["count"] = cty.ObjectVal(map[string]cty.Value{"index": s.Count})
	}
	if s.Stacks != nil {
		vars["stack"] = objectOrEmpty(s.Stacks)
	}
	return &hcl.EvalContext{Variables: vars, Functions: s.Functions}
}

// With returns a copy of the scope for one for_each or count instance.
func (s *Scope) With(each *Each, count cty.Value) *Scope {
	c := *s
	c.Each, c.Count = each, count
	return &c
}

func objectOrEmpty(m map[string]cty.Value) cty.Value {
	if len(m) == 0 {
		return cty.EmptyObjectVal
	}
	return cty.ObjectVal(m)
}

// HostInfo is what the language exposes about the current host.
type HostInfo struct {
	Name    string
	Address string
	Vars    map[string]cty.Value
	Groups  []string
	// Facts is host.facts (FactsValue); cty.NilVal means not gathered, and
	// host.facts is then a null object.
	Facts cty.Value
}

// HostValue returns the host object: host.name, host.address, host.vars.*,
// host.groups and host.facts.*.
func HostValue(h HostInfo) cty.Value {
	groups := make([]cty.Value, 0, len(h.Groups))
	gs := append([]string(nil), h.Groups...)
	sort.Strings(gs)
	for _, g := range gs {
		groups = append(groups, cty.StringVal(g))
	}
	gv := cty.ListValEmpty(cty.String)
	if len(groups) > 0 {
		gv = cty.ListVal(groups)
	}
	fv := h.Facts
	if fv == cty.NilVal {
		fv = cty.NullVal(facts.Type)
	}
	return cty.ObjectVal(map[string]cty.Value{
		"name":    cty.StringVal(h.Name),
		"address": cty.StringVal(h.Address),
		"vars":    objectOrEmpty(h.Vars),
		"groups":  gv,
		"facts":   fv,
	})
}

// UnknownHost is the host object when the host is not known (validate): every
// attribute is unknown, so expressions type-check without values.
func UnknownHost() cty.Value {
	return cty.ObjectVal(map[string]cty.Value{
		"name":    cty.UnknownVal(cty.String),
		"address": cty.UnknownVal(cty.String),
		"vars":    cty.DynamicVal,
		"groups":  cty.UnknownVal(cty.List(cty.String)),
		"facts":   cty.UnknownVal(facts.Type),
	})
}

// FactsValue is the host.facts object: facts.Type with the gathered values,
// or a null object when facts were not gathered.
func FactsValue(f *facts.Facts) cty.Value {
	return f.Value()
}
