package config

import (
	"fmt"
	"sort"
	"strings"

	"github.com/hashicorp/hcl/v2"
	"github.com/hashicorp/hcl/v2/hcldec"
	"github.com/zclconf/go-cty/cty"

	"github.com/drover-cm/drover/engine/graph"
	"github.com/drover-cm/drover/modules/contract"
)

var nilVal cty.Value

// HostAttributes are the attributes of the host object in expressions.
var HostAttributes = []string{"name", "address", "vars", "groups", "facts"}

// InventoryAttributes are the attributes of the inventory object: every
// group's host names and every host's data (engine/lang.InventoryValue).
var InventoryAttributes = []string{"groups", "hosts"}

// where an expression sits decides which names it may use.
type where struct {
	desc   string // "a local value", "the hosts of a play", ...
	host   bool
	tasks  *Play // task references resolve in this play; nil: none allowed
	self   *Task
	each   bool
	count  bool
	locals bool
	// result: self.* (the task's own result) may be used.
	result  bool
	collect *[]Ref
	// runbook: in a runbook, whose inventory.* has no facts (a runbook
	// contacts only the hosts it runs on).
	runbook bool
	// stackRefs collects the stack outputs used, when not nil.
	stackRefs *[]StackRef
	// call is the stack call whose inputs are checked: they cannot use
	// its own outputs.
	call *StackCall
	// templateVars are the module's own template variables
	// (contract.TemplateVars), usable in its attributes only.
	templateVars []string
}

// checkReferences checks every reference in the playbook that can be checked
// without values, records task references, and reports dependency cycles.
func checkReferences(pb *Playbook) hcl.Diagnostics {
	var diags hcl.Diagnostics
	localDeps := graph.New[string]()
	for _, name := range pb.LocalOrder {
		localDeps.AddVertex(name)
	}
	for _, name := range pb.LocalOrder {
		l := pb.Locals[name]
		diags = append(diags, checkExpr(pb, l.Expr.Variables(), where{desc: "a local value", host: true, locals: true})...)
		for _, tr := range l.Expr.Variables() {
			if tr.RootName() == "local" && len(tr) > 1 {
				if dep := traverseName(tr[1]); pb.Locals[dep] != nil {
					localDeps.AddEdge(dep, name, "")
				}
			}
		}
	}
	for _, c := range localDeps.Cycles() {
		names := make([]string, len(c))
		for i, n := range c {
			names[i] = "local." + n
		}
		diags = append(diags, &hcl.Diagnostic{
			Severity: hcl.DiagError,
			Summary:  "Local values refer to each other in a cycle",
			Detail:   fmt.Sprintf("Cycle: %s → %s. Break it by computing one of them without the others.", strings.Join(names, " → "), names[0]),
			Subject:  pb.Locals[c[0]].DeclRange.Ptr(),
		})
	}
	for _, pl := range pb.Plays {
		if pl.Hosts != nil {
			diags = append(diags, checkExpr(pb, pl.Hosts.Variables(), where{desc: "the hosts of a play", locals: true})...)
		}
		for _, e := range []hcl.Expression{pl.Become, pl.BecomeUser} {
			if e != nil {
				diags = append(diags, checkExpr(pb, e.Variables(), where{desc: "a play's become settings", host: true, locals: true})...)
			}
		}
		for _, t := range append(append([]*Task(nil), pl.Tasks...), pl.Handlers...) {
			diags = append(diags, checkTask(pb, pl, t)...)
		}
		for _, b := range pl.Blocks {
			diags = append(diags, checkBlockWhen(pb, pl, b)...)
		}
		for _, c := range pl.Calls {
			diags = append(diags, checkCall(pb, pl, c)...)
		}
	}
	return diags
}

func checkTask(pb *Playbook, pl *Play, t *Task) hcl.Diagnostics {
	var diags hcl.Diagnostics
	w := where{desc: "a task", host: true, locals: true, tasks: pl, self: t, each: t.ForEach != nil, count: t.Count != nil, collect: &t.Refs, stackRefs: &t.StackRefs}
	if t.Handler {
		w.desc = "a handler"
	}
	body := hcldec.Variables(t.Body, t.Spec)
	wb := w
	if tv, ok := t.Module.(contract.TemplateVars); ok {
		wb.templateVars = tv.TemplateVars()
	}
	diags = append(diags, checkExpr(pb, body, wb)...)
	for _, e := range []hcl.Expression{ownWhen(t.When), t.Sensitive, t.Become, t.BecomeUser, t.DelegateTo, t.Retries, t.RetryDelay} {
		if e != nil {
			diags = append(diags, checkExpr(pb, e.Variables(), w)...)
		}
	}
	diags = append(diags, checkRunOnce(pb, t)...)
	wr := w
	wr.result = true
	for _, e := range []hcl.Expression{t.Until, t.ChangedWhen, t.FailedWhen} {
		if e != nil {
			diags = append(diags, checkExpr(pb, e.Variables(), wr)...)
		}
	}
	// for_each and count decide how many instances there are: they cannot
	// use each/count themselves.
	wn := w
	wn.each, wn.count = false, false
	for _, e := range []hcl.Expression{t.ForEach, t.Count} {
		if e != nil {
			diags = append(diags, checkExpr(pb, e.Variables(), wn)...)
		}
	}
	for _, r := range t.DependsOn {
		if d := checkDependsOn(pl, t, r); d != nil {
			diags = append(diags, d)
		}
	}
	for _, r := range t.Notify {
		if t.Handler {
			diags = append(diags, &hcl.Diagnostic{Severity: hcl.DiagError, Summary: "A handler cannot notify", Detail: "Only tasks notify handlers.", Subject: r.Range.Ptr()})
			continue
		}
		if pl.Handler(r.Name) == nil {
			var names []string
			for _, h := range pl.Handlers {
				names = append(names, h.Name)
			}
			detail := fmt.Sprintf("%s has no handler named %q.", pl.describe(), r.Name)
			if s := Suggest(r.Name, names); s != "" {
				detail += fmt.Sprintf(" Did you mean handler.%s?", s)
			}
			diags = append(diags, &hcl.Diagnostic{Severity: hcl.DiagError, Summary: "Reference to undeclared handler", Detail: detail, Subject: r.Range.Ptr()})
		}
	}
	return diags
}

// checkBlockWhen checks a block's when once (not once per task), and gives
// what it refers to to every task of the block: they run after those tasks
// and stack calls. It cannot refer to a task of the block itself, whose
// running it decides.
func checkBlockWhen(pb *Playbook, pl *Play, b *Block) hcl.Diagnostics {
	if b.When == nil {
		return nil
	}
	var refs []Ref
	var srefs []StackRef
	w := where{desc: "a block's when", host: true, locals: true, tasks: pl, collect: &refs, stackRefs: &srefs}
	diags := checkExpr(pb, b.When.Variables(), w)
	var inside []*Task
	for _, t := range pl.Tasks {
		if _, ok := t.SectionOf(b); ok {
			inside = append(inside, t)
		}
	}
	for _, r := range refs {
		for _, t := range inside {
			if t.Type == r.Type && t.Name == r.Name {
				diags = append(diags, &hcl.Diagnostic{Severity: hcl.DiagError, Summary: "Block's when refers to its own task",
					Detail:  fmt.Sprintf("The when of %s refers to %s, a task inside the block: the when decides whether that task runs, so it cannot wait for it. Move %s before the block, or put the condition on the tasks that need it.", b.Addr(), t.LocalAddr(), r.Addr()),
					Subject: r.Range.Ptr()})
			}
		}
	}
	if diags.HasErrors() {
		return diags
	}
	for _, t := range inside {
		for _, r := range refs {
			if !hasRef(t.Refs, r) {
				t.Refs = append(t.Refs, r)
			}
		}
		for _, sr := range srefs {
			if !hasStackRef(t.StackRefs, sr) {
				t.StackRefs = append(t.StackRefs, sr)
			}
		}
	}
	return diags
}

func hasStackRef(refs []StackRef, r StackRef) bool {
	for _, x := range refs {
		if x.Name == r.Name && x.Output == r.Output {
			return true
		}
	}
	return false
}

// inventoryFacts reports whether tr is inventory.hosts[...].facts, written
// out.
func inventoryFacts(tr hcl.Traversal) bool {
	return len(tr) >= 4 && traverseName(tr[1]) == "hosts" && traverseName(tr[3]) == "facts"
}

func checkTaskRef(pl *Play, self *Task, r Ref) *hcl.Diagnostic {
	if self != nil && !self.Handler && r.Type == self.Type && r.Name == self.Name {
		return &hcl.Diagnostic{Severity: hcl.DiagError, Summary: "Self-reference", Detail: fmt.Sprintf("Task %s refers to itself.", r.Addr()), Subject: r.Range.Ptr()}
	}
	if pl.Task(r.Type, r.Name) != nil {
		return nil
	}
	var names []string
	for _, t := range pl.Tasks {
		if t.Type == r.Type {
			names = append(names, t.Name)
		}
	}
	detail := fmt.Sprintf("%s has no %s task named %q.", pl.describe(), r.Type, r.Name)
	if s := Suggest(r.Name, names); s != "" {
		detail += fmt.Sprintf(" Did you mean %s.%s?", r.Type, s)
	}
	return &hcl.Diagnostic{Severity: hcl.DiagError, Summary: "Reference to undeclared task", Detail: detail, Subject: r.Range.Ptr()}
}

func checkExpr(pb *Playbook, trs []hcl.Traversal, w where) hcl.Diagnostics {
	var diags hcl.Diagnostics
	for _, tr := range trs {
		root := tr.RootName()
		rng := tr.SourceRange()
		attr := ""
		if len(tr) > 1 {
			attr = traverseName(tr[1])
		}
		bad := func(summary, detail string) {
			diags = append(diags, &hcl.Diagnostic{Severity: hcl.DiagError, Summary: summary, Detail: detail, Subject: rng.Ptr()})
		}
		switch root {
		case "var":
			if attr == "" {
				bad("Invalid reference", `Write var.NAME to use a variable.`)
			} else if pb.Variables[attr] == nil {
				detail := fmt.Sprintf("No variable %q is declared.", attr)
				if s := Suggest(attr, pb.VariableOrder); s != "" {
					detail += fmt.Sprintf(" Did you mean var.%s?", s)
				} else {
					detail += fmt.Sprintf(" Declare it with a variable %q {} block.", attr)
				}
				bad("Reference to undeclared variable", detail)
			}
		case "local":
			if !w.locals {
				bad("Invalid reference", fmt.Sprintf("Local values cannot be used in %s.", w.desc))
			} else if attr == "" {
				bad("Invalid reference", `Write local.NAME to use a local value.`)
			} else if pb.Locals[attr] == nil {
				detail := fmt.Sprintf("No local value %q is declared.", attr)
				if s := Suggest(attr, pb.LocalOrder); s != "" {
					detail += fmt.Sprintf(" Did you mean local.%s?", s)
				}
				bad("Reference to undeclared local value", detail)
			}
		case "host":
			if !w.host {
				bad("Invalid reference", fmt.Sprintf("host.* cannot be used in %s: it is evaluated once for all hosts.", w.desc))
			} else if attr != "" && !contains(HostAttributes, attr) {
				detail := fmt.Sprintf("host has no attribute %q; it has %s.", attr, strings.Join(HostAttributes, ", "))
				if s := Suggest(attr, HostAttributes); s != "" {
					detail = fmt.Sprintf("host has no attribute %q. Did you mean host.%s?", attr, s)
				}
				bad("Unsupported attribute", detail)
			}
		case "inventory":
			if !w.host {
				bad("Invalid reference", fmt.Sprintf("inventory.* cannot be used in %s.", w.desc))
			} else if w.runbook && inventoryFacts(tr) {
				bad("Invalid reference", "A runbook reads the inventory, not other hosts: inventory.hosts[NAME].facts is not available in a runbook (it contacts only the hosts it runs on). Use host.facts for the host being checked, or the host's vars.")
			} else if !contains(InventoryAttributes, attr) {
				detail := "Write inventory.groups[\"GROUP\"] (the names of a group's hosts) or inventory.hosts[\"HOST\"] (a host's name, address, port, user, groups, vars and facts)."
				if s := Suggest(attr, InventoryAttributes); s != "" && attr != "" {
					detail = fmt.Sprintf("inventory has no attribute %q. Did you mean inventory.%s?", attr, s)
				}
				bad("Unsupported attribute", detail)
			}
		case "each":
			if !w.each {
				bad("Invalid reference", fmt.Sprintf("each.key and each.value can be used only in a task with for_each, not in %s or in for_each itself.", w.desc))
			} else if attr != "key" && attr != "value" {
				bad("Unsupported attribute", "each has two attributes: each.key and each.value.")
			}
		case "count":
			if !w.count {
				bad("Invalid reference", fmt.Sprintf("count.index can be used only in a task with count, not in %s or in count itself.", w.desc))
			} else if attr != "index" {
				bad("Unsupported attribute", "count has one attribute: count.index.")
			}
		case "handler":
			bad("Invalid reference", "Handlers are named only in notify = [handler.NAME].")
		case "self":
			if !w.result {
				bad("Invalid reference", fmt.Sprintf("self is the task's own result: it can be used only in changed_when, failed_when and until, not in %s.", w.desc))
			} else if !contains(SelfAttributes, attr) {
				bad("Unsupported attribute", fmt.Sprintf("self has %s.", strings.Join(SelfAttributes, ", ")))
			}
		case "stack":
			if d := checkStackRef(w, tr); d != nil {
				diags = append(diags, d)
			}
		default:
			if contains(w.templateVars, root) {
				continue
			}
			if _, ok := pb.modules.Lookup(root); ok {
				if w.tasks == nil {
					bad("Invalid reference", fmt.Sprintf("Tasks cannot be referred to in %s.", w.desc))
					continue
				}
				if attr == "" {
					bad("Invalid reference", fmt.Sprintf("Write %s.NAME to refer to a %s task.", root, root))
					continue
				}
				r := Ref{Type: root, Name: attr, Range: rng}
				if d := checkTaskRef(w.tasks, w.self, r); d != nil {
					diags = append(diags, d)
					continue
				}
				if w.collect != nil && !hasRef(*w.collect, r) {
					*w.collect = append(*w.collect, r)
				}
				continue
			}
			roots := []string{"var", "local", "host"}
			if w.host {
				roots = append(roots, "inventory")
			}
			roots = append(roots, w.templateVars...)
			if w.each {
				roots = append(roots, "each")
			}
			if w.count {
				roots = append(roots, "count")
			}
			detail := fmt.Sprintf("There is no %q here. Expressions can use %s", root, strings.Join(roots, ", "))
			if w.tasks != nil {
				detail += " and other tasks (TYPE.NAME)"
			}
			detail += "."
			if s := Suggest(root, append(roots, moduleNames(pb.modules)...)); s != "" {
				detail += fmt.Sprintf(" Did you mean %q?", s)
			}
			bad("Unknown name", detail)
		}
	}
	return diags
}

func moduleNames(modules contract.Catalog) []string {
	var out []string
	for _, m := range modules.All() {
		out = append(out, m.Spec().Name)
	}
	sort.Strings(out)
	return out
}

func contains(ss []string, s string) bool {
	for _, x := range ss {
		if x == s {
			return true
		}
	}
	return false
}

func hasRef(refs []Ref, r Ref) bool {
	for _, x := range refs {
		if x.Type == r.Type && x.Name == r.Name {
			return true
		}
	}
	return false
}

// PlayGraph returns the static dependency graph of a play's tasks (handlers
// are not part of it: they run after every task): edges from references and
// depends_on, vertices in file order. Edges the modules infer on a host
// (engine/run) come on top. A cycle is a diagnostic naming every task in it.
func PlayGraph(pl *Play) (*graph.Graph[*Task], hcl.Diagnostics) {
	g := graph.New[*Task]()
	for _, t := range pl.Tasks {
		g.AddVertex(t)
	}
	for _, t := range pl.Tasks {
		for _, r := range t.Refs {
			if d := taskIn(pl, t.Call, r.Type, r.Name); d != nil {
				g.AddEdge(d, t, "reference")
			}
		}
		for _, r := range t.DependsOn {
			for _, d := range dependsOn(pl, t.Call, r) {
				g.AddEdge(d, t, "depends_on")
			}
		}
	}
	addBlockEdges(g, pl)
	if len(pl.AllCalls) > 0 {
		callEdges(pl, func(from, to *Task, reason string) {
			if from != to {
				g.AddEdge(from, to, reason)
			}
		})
	}
	var diags hcl.Diagnostics
	for _, c := range g.Cycles() {
		diags = append(diags, &hcl.Diagnostic{
			Severity: hcl.DiagError,
			Summary:  "Dependency cycle",
			Detail: fmt.Sprintf("In play %q these tasks depend on each other: %s. Remove a reference or a depends_on entry to break the cycle.",
				pl.Name, graph.FormatCycle(c, func(t *Task) string { return t.Addr() })),
			Subject: c[0].DeclRange.Ptr(),
		})
	}
	return g, diags
}
