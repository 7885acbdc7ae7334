// Fleet-wide data: the inventory object of expressions (inventory.groups,
// inventory.hosts), built only for plays that refer to it, and the facts
// of other hosts, gathered only when an expression may read them.

package run

import (
	"context"
	"fmt"
	"sort"
	"sync"

	"github.com/hashicorp/hcl/v2"
	"github.com/hashicorp/hcl/v2/hcldec"
	"github.com/hashicorp/hcl/v2/hclsyntax"
	"github.com/zclconf/go-cty/cty"

	"github.com/drover-cm/drover/engine/config"
	"github.com/drover-cm/drover/engine/facts"
	"github.com/drover-cm/drover/engine/fanout"
	"github.com/drover-cm/drover/engine/lang"
	"github.com/drover-cm/drover/engine/transport"
	"github.com/drover-cm/drover/inventory"
)

// fleetUse is what a play's expressions (its tasks, handlers, become and
// the playbook's locals) read of inventory.*.
type fleetUse struct {
	// any: something refers to inventory.*; the value is built only then.
	any bool
	// allFacts: some expression may read the facts of any host (an index
	// that is not a literal); factsOf are hosts named literally whose
	// facts are read.
	allFacts bool
	factsOf  map[string]bool
	// groups are the groups named literally in inventory.groups["NAME"];
	// anyGroup: a group is chosen by a computed name, or the groups or
	// hosts map is used whole. They bound the hosts a computed index can
	// reach (factsWanted).
	groups   map[string]bool
	anyGroup bool
	// named are the hosts named literally in inventory.hosts["NAME"], with
	// where, for the check that they exist.
	named []namedHost
}

type namedHost struct {
	name string
	rng  hcl.Range
}

// playUse reads, once per play, what the play's expressions use of
// inventory.* (static analysis: nothing is evaluated).
func (r *runner) playUse(pl *config.Play) *fleetUse {
	r.mu.Lock()
	defer r.mu.Unlock()
	if u, ok := r.fleetUses[pl]; ok {
		return u
	}
	u := &fleetUse{factsOf: map[string]bool{}, groups: map[string]bool{}}
	var nodes []hclsyntax.Node
	var trs []hcl.Traversal
	addExpr := func(e hcl.Expression) {
		if e == nil {
			return
		}
		trs = append(trs, e.Variables()...)
		if n, ok := e.(hclsyntax.Node); ok {
			nodes = append(nodes, n)
		} else {
			nodes = append(nodes, nil) // not native syntax: assume the worst
		}
	}
	for _, name := range r.pb.LocalOrder {
		addExpr(r.pb.Locals[name].Expr)
	}
	// A stack's inputs are evaluated in its caller, its locals in the
	// stack; its tasks are among the play's.
	for _, c := range pl.AllCalls {
		for _, a := range c.Inputs {
			addExpr(a.Expr)
		}
		if c.Stack != nil {
			for _, name := range c.Stack.LocalOrder {
				addExpr(c.Stack.Locals[name].Expr)
			}
		}
	}
	addExpr(pl.Become)
	addExpr(pl.BecomeUser)
	for _, t := range append(append([]*config.Task(nil), pl.Tasks...), pl.Handlers...) {
		for _, e := range append(config.WhenParts(t.When), t.ForEach, t.Count, t.Sensitive, t.Become, t.BecomeUser, t.DelegateTo) {
			addExpr(e)
		}
		trs = append(trs, hcldec.Variables(t.Body, t.Spec)...)
		if b, ok := t.Body.(*hclsyntax.Body); ok {
			nodes = append(nodes, b)
		} else {
			nodes = append(nodes, nil)
		}
	}
	dynamic := false
	for _, tr := range trs {
		if tr.RootName() != "inventory" {
			continue
		}
		u.any = true
		if len(tr) >= 2 && traverseAttr(tr[1]) == "groups" {
			if len(tr) >= 3 {
				if ix, ok := tr[2].(hcl.TraverseIndex); ok && ix.Key.Type() == cty.String && ix.Key.IsKnown() {
					u.groups[ix.Key.AsString()] = true
					continue
				}
			}
			u.anyGroup = true
			continue
		}
		if len(tr) < 2 || traverseAttr(tr[1]) != "hosts" {
			continue
		}
		if len(tr) < 3 {
			dynamic = true // inventory.hosts[EXPR] or the whole map
			continue
		}
		ix, ok := tr[2].(hcl.TraverseIndex)
		if !ok || ix.Key.Type() != cty.String || !ix.Key.IsKnown() {
			dynamic = true
			continue
		}
		name := ix.Key.AsString()
		u.named = append(u.named, namedHost{name, tr.SourceRange()})
		if len(tr) == 3 || traverseAttr(tr[3]) == "facts" {
			u.factsOf[name] = true
		}
	}
	if dynamic {
		for _, n := range nodes {
			if n == nil {
				u.allFacts, u.anyGroup = true, true
				break
			}
			facts, whole := readsFacts(n)
			u.allFacts = u.allFacts || facts
			u.anyGroup = u.anyGroup || whole
		}
	}
	if r.fleetUses == nil {
		r.fleetUses = map[*config.Play]*fleetUse{}
	}
	r.fleetUses[pl] = u
	return u
}

// readsFacts reports whether an expression may read the facts of a host
// it got from inventory.hosts by a computed index: it names an attribute
// "facts" (other than host.facts) after such an index or on a variable of a
// for expression, or it uses a host object or the hosts map as a whole
// (given to a function such as jsonencode, which could show the facts).
// It also reports whether the hosts map is used other than indexed
// (iterated, or given whole), which reaches every host.
func readsFacts(n hclsyntax.Node) (facts, whole bool) {
	w := &factsWalker{}
	hclsyntax.Walk(n, w)
	return w.found, w.whole
}

type factsWalker struct {
	stack []hclsyntax.Node
	found bool
	whole bool
}

func (w *factsWalker) Enter(n hclsyntax.Node) hcl.Diagnostics {
	switch x := n.(type) {
	case *hclsyntax.ScopeTraversalExpr:
		root := x.Traversal.RootName()
		if root != "host" && root != "inventory" && hasFactsStep(x.Traversal) {
			w.found = true // a for variable: h.facts
		}
		if isHostsMap(x.Traversal) {
			if !w.readsNonFacts() {
				w.found = true
			}
			if p, ok := w.parent().(*hclsyntax.IndexExpr); !ok || p.Collection != hclsyntax.Expression(x) {
				w.whole = true
			}
		}
	case *hclsyntax.RelativeTraversalExpr:
		if hasFactsStep(x.Traversal) {
			w.found = true
		}
	case *hclsyntax.IndexExpr:
		if lk, ok := x.Key.(*hclsyntax.LiteralValueExpr); ok && lk.Val.Type() == cty.String && lk.Val.AsString() == "facts" {
			w.found = true
		}
		if k, ok := x.Key.(*hclsyntax.TemplateExpr); ok && k.IsStringLiteral() {
			if v, _ := k.Value(nil); v.Type() == cty.String && v.AsString() == "facts" {
				w.found = true
			}
		}
	}
	w.stack = append(w.stack, n)
	return nil
}

func (w *factsWalker) Exit(hclsyntax.Node) hcl.Diagnostics {
	w.stack = w.stack[:len(w.stack)-1]
	return nil
}

func (w *factsWalker) parent() hclsyntax.Node {
	if len(w.stack) == 0 {
		return nil
	}
	return w.stack[len(w.stack)-1]
}

// readsNonFacts reports whether the inventory.hosts traversal being
// entered is read as inventory.hosts[EXPR].ATTR with ATTR other than
// facts, or iterated by a for expression (whose variables are checked on
// their own).
func (w *factsWalker) readsNonFacts() bool {
	if len(w.stack) == 0 {
		return false
	}
	switch p := w.stack[len(w.stack)-1].(type) {
	case *hclsyntax.ForExpr:
		return true
	case *hclsyntax.IndexExpr:
		if len(w.stack) < 2 {
			return false
		}
		rt, ok := w.stack[len(w.stack)-2].(*hclsyntax.RelativeTraversalExpr)
		return ok && rt.Source == hclsyntax.Expression(p) && len(rt.Traversal) > 0 && traverseAttr(rt.Traversal[0]) != "" && traverseAttr(rt.Traversal[0]) != "facts"
	}
	return false
}

func isHostsMap(tr hcl.Traversal) bool {
	return tr.RootName() == "inventory" && len(tr) == 2 && traverseAttr(tr[1]) == "hosts"
}

func hasFactsStep(tr hcl.Traversal) bool {
	for _, s := range tr {
		if traverseAttr(s) == "facts" {
			return true
		}
	}
	return false
}

func traverseAttr(s hcl.Traverser) string {
	if a, ok := s.(hcl.TraverseAttr); ok {
		return a.Name
	}
	return ""
}

// factsWanted reports whether the facts of h may be read: it is named
// literally, or an index is computed and h is in the run, in a group named
// literally, or any host can be reached (a group by a computed name, the
// hosts map iterated or given whole).
func (u *fleetUse) factsWanted(h *inventory.Host, inRun bool) bool {
	if u.factsOf[h.Name] {
		return true
	}
	if !u.allFacts {
		return false
	}
	if inRun || u.anyGroup {
		return true
	}
	for _, g := range h.Groups {
		if u.groups[g] {
			return true
		}
	}
	return false
}

// fleet is the run's view of the whole inventory: built once, read by
// every host.
type fleet struct {
	once  sync.Once
	hosts []*inventory.Host
	index map[string]*inventory.Host
	// inRun are the hosts some play of the run selects.
	inRun map[string]bool
	// plain is the inventory value without facts.
	plain cty.Value
	// withFacts is, per play, the value with the facts it reads.
	withFacts map[*config.Play]*factsValue
	// facts are gathered facts, per play and host (facts are per play, as
	// a play may change what the next one sees).
	facts map[factsKey]*factsCell
	mu    sync.Mutex
}

type factsKey struct {
	play *config.Play
	host string
}

type factsCell struct {
	once sync.Once
	f    *facts.Facts
	err  error
}

type factsValue struct {
	once sync.Once
	v    cty.Value
}

// fleetHosts returns the inventory's hosts (Options.Fleet) by name.
func (r *runner) fleetHosts() *fleet {
	f := &r.fleet
	f.once.Do(func() {
		f.index = map[string]*inventory.Host{}
		if r.opts.Fleet != nil {
			f.hosts = r.opts.Fleet()
		}
		for _, h := range f.hosts {
			f.index[h.Name] = h
		}
		f.withFacts = map[*config.Play]*factsValue{}
		f.facts = map[factsKey]*factsCell{}
		if f.inRun == nil {
			f.inRun = map[string]bool{}
		}
	})
	return f
}

// setRunHosts records the hosts the plays select, before any host is
// contacted.
func (r *runner) setRunHosts(hosts []*inventory.Host) {
	f := r.fleetHosts()
	for _, h := range hosts {
		f.inRun[h.Name] = true
	}
}

// gatherFacts gathers the facts of host for play pl once, with gather;
// every host that reads them shares the result.
func (r *runner) gatherFacts(pl *config.Play, host string, gather func() (*facts.Facts, error)) (*facts.Facts, error) {
	f := r.fleetHosts()
	f.mu.Lock()
	c := f.facts[factsKey{pl, host}]
	if c == nil {
		c = &factsCell{}
		f.facts[factsKey{pl, host}] = c
	}
	f.mu.Unlock()
	c.once.Do(func() { c.f, c.err = gather() })
	return c.f, c.err
}

// inventoryValue is the inventory object for play pl's expressions, or
// cty.NilVal when none refers to it (a playbook that reads no other host
// pays nothing). Facts are in it for the hosts whose facts the play may
// read (factsWanted), gathered once per play and host, over the host's
// connection of the run (a host outside the run is connected to just for
// them); a host whose facts cannot be gathered has null facts.
func (r *runner) inventoryValue(ctx context.Context, pl *config.Play) cty.Value {
	u := r.playUse(pl)
	if !u.any {
		return cty.NilVal
	}
	f := r.fleetHosts()
	if !u.allFacts && len(u.factsOf) == 0 {
		f.mu.Lock()
		defer f.mu.Unlock()
		if f.plain == cty.NilVal {
			f.plain = r.buildInventory(nil)
		}
		return f.plain
	}
	f.mu.Lock()
	fv := f.withFacts[pl]
	if fv == nil {
		fv = &factsValue{}
		f.withFacts[pl] = fv
	}
	f.mu.Unlock()
	fv.once.Do(func() {
		var want []*inventory.Host
		for _, h := range f.hosts {
			if u.factsWanted(h, f.inRun[h.Name]) {
				want = append(want, h)
			}
		}
		got := make([]*facts.Facts, len(want))
		fanout.Run(ctx, want, r.opts.Forks, func(ctx context.Context, h *inventory.Host) error {
			fs, err := r.gatherFacts(pl, h.Name, func() (*facts.Facts, error) {
				conn, err := r.opts.Connect(ctx, h, r.playBecome(pl))
				if err != nil {
					return nil, err
				}
				return r.factsGatherer()(ctx, h, conn)
			})
			if err == nil {
				got[indexOfName(want, h.Name)] = fs
			}
			return nil
		})
		byName := map[string]*facts.Facts{}
		for i, h := range want {
			byName[h.Name] = got[i]
		}
		fv.v = r.buildInventory(byName)
	})
	return fv.v
}

// buildInventory makes the inventory value with the facts given, and hands
// the sensitive values of every host's variables to the masker: they stay
// masked whichever host's output shows them.
func (r *runner) buildInventory(fs map[string]*facts.Facts) cty.Value {
	f := &r.fleet
	hs := make([]lang.FleetHost, len(f.hosts))
	for i, h := range f.hosts {
		for _, v := range h.Vars {
			for _, s := range lang.SensitiveStrings(v) {
				r.opts.Masker.Add(s)
			}
		}
		hs[i] = lang.FleetHost{Name: h.Name, Address: h.Address, Port: h.Port, User: h.User, Groups: h.Groups, Vars: h.Vars, Facts: fs[h.Name]}
	}
	return lang.InventoryValue(hs)
}

// factsGatherer is Options.Facts, or facts.Gather.
func (r *runner) factsGatherer() func(context.Context, *inventory.Host, transport.Conn) (*facts.Facts, error) {
	if r.opts.Facts != nil {
		return r.opts.Facts
	}
	return func(ctx context.Context, _ *inventory.Host, conn transport.Conn) (*facts.Facts, error) {
		return facts.Gather(ctx, conn)
	}
}

// checkFleetRefs checks, before any host is contacted, the host names the
// playbook writes literally: inventory.hosts["NAME"] must name an
// inventory host, and so must a delegate_to that needs no host to
// evaluate.
func (r *runner) checkFleetRefs(vars, locals map[string]cty.Value) hcl.Diagnostics {
	f := r.fleetHosts()
	var names []string
	for _, h := range f.hosts {
		names = append(names, h.Name)
	}
	var diags hcl.Diagnostics
	for _, pl := range r.pb.Plays {
		u := r.playUse(pl)
		for _, n := range u.named {
			if f.index[n.name] == nil {
				diags = append(diags, noSuchHost(n.name, "inventory.hosts", names, n.rng))
			}
		}
		for _, t := range pl.Tasks {
			// A stack's task is evaluated in its stack (checked per host).
			if t.DelegateTo == nil || t.Call != nil || r.pb.PerHost(t.DelegateTo) || len(exprRoots(t.DelegateTo, "each", "count")) > 0 {
				continue
			}
			s := &lang.Scope{Vars: vars, Locals: locals, Functions: r.funcs}
			v, ds := t.DelegateTo.Value(s.EvalContext())
			if ds.HasErrors() {
				diags = append(diags, ds...)
				continue
			}
			if !v.IsWhollyKnown() {
				// It reads what this scope lacks (a local using inventory.*):
				// each host's evaluation checks it.
				continue
			}
			name, err := delegateName(v)
			if err != nil {
				diags = append(diags, &hcl.Diagnostic{Severity: hcl.DiagError, Summary: "Invalid delegate_to value", Detail: err.Error(), Subject: t.DelegateTo.Range().Ptr()})
				continue
			}
			if name != "" && f.index[name] == nil {
				diags = append(diags, noSuchHost(name, "delegate_to", names, t.DelegateTo.Range()))
			}
		}
	}
	return diags
}

func noSuchHost(name, what string, names []string, rng hcl.Range) *hcl.Diagnostic {
	detail := fmt.Sprintf("%s names %q, which is no host of the inventory.", what, name)
	if s := config.Suggest(name, names); s != "" {
		detail += fmt.Sprintf(" Did you mean %q?", s)
	} else if len(names) > 0 {
		sorted := append([]string(nil), names...)
		sort.Strings(sorted)
		if len(sorted) > 8 {
			sorted = append(sorted[:8], "...")
		}
		detail += fmt.Sprintf(" The inventory has %v.", sorted)
	}
	return &hcl.Diagnostic{Severity: hcl.DiagError, Summary: "No such host", Detail: detail, Subject: rng.Ptr()}
}

func exprRoots(e hcl.Expression, roots ...string) []string {
	var out []string
	for _, tr := range e.Variables() {
		for _, r := range roots {
			if tr.RootName() == r {
				out = append(out, r)
			}
		}
	}
	return out
}

// playBecome is a play's become setting when it is the same on every host
// (nil otherwise, or when the play sets none): the connection another host
// gathers a host's facts over is then the one the host's tasks use.
func (r *runner) playBecome(pl *config.Play) *Become {
	if pl.Become == nil && pl.BecomeUser == nil {
		return nil
	}
	for _, e := range []hcl.Expression{pl.Become, pl.BecomeUser} {
		if e != nil && r.pb.PerHost(e) {
			return nil
		}
	}
	b, diags := evalBecome(pl.Become, pl.BecomeUser, &lang.Scope{Vars: r.globalVars, Locals: r.globalLocals, Functions: r.funcs})
	if diags.HasErrors() {
		return nil
	}
	return b
}
