// Checking stack calls and outputs, and flattening a play's calls: each
// call path gets its own copies of the stack's tasks and handlers, so the
// play's graph holds every task it will run, with stack addresses.

package config

import (
	"fmt"
	"strings"

	"github.com/hashicorp/hcl/v2"
	"github.com/hashicorp/hcl/v2/ext/typeexpr"
	"github.com/zclconf/go-cty/cty"
)

// loadStacks loads the stacks every play calls.
func loadStacks(pb *Playbook, opts LoadOptions) hcl.Diagnostics {
	var diags hcl.Diagnostics
	l := &stackLoader{modules: pb.modules, opts: opts, allow: pb.AllowLocal, loaded: map[string]*Stack{}}
	for _, pl := range pb.Plays {
		diags = append(diags, l.resolve(pl, pb.Dir)...)
	}
	return diags
}

// checkCall checks a call in pl (a play, or a stack's unit) against the
// stack it calls: every input names a variable, every required variable has
// an input, constant inputs fit their type; and the references of its
// inputs, count, for_each and depends_on.
func checkCall(pb *Playbook, pl *Play, c *StackCall) hcl.Diagnostics {
	var diags hcl.Diagnostics
	w := where{desc: "the inputs of a stack call", host: true, locals: true, tasks: pl, each: c.ForEach != nil, count: c.Count != nil,
		collect: &c.Refs, stackRefs: &c.StackRefs, call: c}
	for _, a := range c.Inputs {
		diags = append(diags, checkExpr(pb, a.Expr.Variables(), w)...)
	}
	wn := where{desc: "the count or for_each of a stack call (they must be known before any task runs)", host: true, locals: true}
	for _, e := range []hcl.Expression{c.Count, c.ForEach} {
		if e != nil {
			diags = append(diags, checkExpr(pb, e.Variables(), wn)...)
		}
	}
	for _, r := range c.DependsOn {
		if d := checkDependsOn(pl, nil, r); d != nil {
			diags = append(diags, d)
		}
	}
	st := c.Stack
	if st == nil {
		return diags
	}
	for _, a := range c.Inputs {
		v := st.Variables[a.Name]
		if v == nil {
			detail := fmt.Sprintf("Stack %q (%s) declares no variable %q.", c.Name, c.Source, a.Name)
			if s := Suggest(a.Name, st.VariableOrder); s != "" {
				detail += fmt.Sprintf(" Did you mean %q (declared at %s)?", s, where1(st.Variables[s].DeclRange))
			}
			detail += " " + inputsList(st)
			diags = append(diags, &hcl.Diagnostic{Severity: hcl.DiagError, Summary: "Unknown stack input", Detail: detail, Subject: a.NameRange.Ptr()})
			continue
		}
		if len(a.Expr.Variables()) > 0 {
			continue // checked once its value is known (validate, plan)
		}
		val, ds := a.Expr.Value(nil)
		if ds.HasErrors() {
			continue // a function call: evaluated with the rest
		}
		if _, err := v.Convert(val); err != nil {
			diags = append(diags, InputTypeError(c, v, a.Expr.Range(), err))
		}
	}
	for _, name := range st.VariableOrder {
		v := st.Variables[name]
		if v.Default == cty.NilVal && c.Input(name) == nil {
			diags = append(diags, &hcl.Diagnostic{
				Severity: hcl.DiagError,
				Summary:  "Missing required stack input",
				Detail: fmt.Sprintf("Stack %q (%s) needs a value for variable %q (%s, declared at %s without a default). Add %s = VALUE to the call.",
					c.Name, c.Source, name, typeexpr.TypeString(v.Type), where1(v.DeclRange), name),
				Subject: c.DeclRange.Ptr(),
			})
		}
	}
	return diags
}

// InputTypeError is the diagnostic for an input that does not fit its
// variable's type: at the input, naming where the variable is declared.
func InputTypeError(c *StackCall, v *Variable, rng hcl.Range, err error) *hcl.Diagnostic {
	return &hcl.Diagnostic{
		Severity: hcl.DiagError,
		Summary:  "Invalid value for stack input",
		Detail: fmt.Sprintf("The value for %q does not fit the type of variable %q of stack %q: %s. The variable is declared at %s as %s.",
			v.Name, v.Name, c.Name, err, where1(v.DeclRange), typeexpr.TypeString(v.Type)),
		Subject: rng.Ptr(),
	}
}

// where1 is a range's file:line, as people write it.
func where1(r hcl.Range) string {
	return fmt.Sprintf("%s:%d", r.Filename, r.Start.Line)
}

func inputsList(st *Stack) string {
	if len(st.VariableOrder) == 0 {
		return "It takes no inputs."
	}
	return "Its inputs are " + strings.Join(st.VariableOrder, ", ") + "."
}

// checkStackRef checks stack.NAME[.OUTPUT] against the calls of the
// play or stack the expression is in.
func checkStackRef(w where, tr hcl.Traversal) *hcl.Diagnostic {
	rng := tr.SourceRange()
	bad := func(summary, detail string) *hcl.Diagnostic {
		return &hcl.Diagnostic{Severity: hcl.DiagError, Summary: summary, Detail: detail, Subject: rng.Ptr()}
	}
	if w.tasks == nil {
		return bad("Invalid reference", fmt.Sprintf("Stack outputs cannot be used in %s.", w.desc))
	}
	name := ""
	if len(tr) > 1 {
		name = traverseName(tr[1])
	}
	if name == "" {
		return bad("Invalid reference", "Write stack.NAME.OUTPUT to use an output of a stack call.")
	}
	c := w.tasks.Call(name)
	if c == nil {
		var names []string
		for _, x := range w.tasks.Calls {
			names = append(names, x.Name)
		}
		detail := fmt.Sprintf("There is no stack call %q here.", name)
		if s := Suggest(name, names); s != "" {
			detail += fmt.Sprintf(" Did you mean stack.%s?", s)
		}
		return bad("Reference to undeclared stack call", detail)
	}
	if c == w.call {
		return bad("Invalid reference", fmt.Sprintf("The inputs of stack call %q cannot use its own outputs.", name))
	}
	out := outputName(tr)
	if c.Stack != nil && out != "" && c.Stack.Outputs[out] == nil {
		detail := fmt.Sprintf("Stack %q (%s) has no output %q.", name, c.Source, out)
		if s := Suggest(out, c.Stack.OutputOrder); s != "" {
			detail += fmt.Sprintf(" Did you mean stack.%s.%s?", name, s)
		} else if len(c.Stack.OutputOrder) > 0 {
			detail += " Its outputs are " + strings.Join(c.Stack.OutputOrder, ", ") + "."
		} else {
			detail += " It declares no output blocks."
		}
		return bad("Reference to undeclared output", detail)
	}
	if w.stackRefs != nil {
		sr := StackRef{Name: name, Output: out, Range: rng}
		for _, x := range *w.stackRefs {
			if x.Name == sr.Name && x.Output == sr.Output {
				return nil
			}
		}
		*w.stackRefs = append(*w.stackRefs, sr)
	}
	return nil
}

// outputName is OUTPUT in stack.NAME.OUTPUT or stack.NAME[KEY].OUTPUT, ""
// when the reference stops at the call.
func outputName(tr hcl.Traversal) string {
	for _, s := range tr[min(2, len(tr)):] {
		switch s := s.(type) {
		case hcl.TraverseAttr:
			return s.Name
		case hcl.TraverseIndex, hcl.TraverseSplat:
			continue
		}
		break
	}
	return ""
}

// checkOutputs checks the references of a stack's outputs: they may use
// what the stack's tasks may.
func checkOutputs(st *Stack) hcl.Diagnostics {
	var diags hcl.Diagnostics
	for _, name := range st.OutputOrder {
		o := st.Outputs[name]
		if o.Value == nil {
			continue
		}
		var refs []Ref
		var srefs []StackRef
		w := where{desc: "an output", host: true, locals: true, tasks: st.Unit, collect: &refs, stackRefs: &srefs}
		diags = append(diags, checkExpr(&st.Playbook, o.Value.Variables(), w)...)
	}
	return diags
}

// flatten copies the tasks and handlers of every stack the play calls into
// the play, once per call path: a task's copy knows its call (Task.Call),
// and is placed where the call is written among the play's tasks.
func flatten(pl *Play) {
	if len(pl.Calls) == 0 {
		return
	}
	var all []*StackCall
	var handlers []*Task
	var calls []*StackCall
	pl.Tasks = interleave(pl.Tasks, pl.Calls, func(c *StackCall) []*Task {
		fc, ts := flattenCall(c, nil, &all, &handlers)
		calls = append(calls, fc)
		return ts
	})
	pl.Calls, pl.AllCalls = calls, all
	pl.Handlers = append(pl.Handlers, handlers...)
}

// flattenCall returns the copy of the call template under parent and its
// tasks in file order (nested calls' where they are written).
func flattenCall(tmpl, parent *StackCall, all *[]*StackCall, handlers *[]*Task) (*StackCall, []*Task) {
	c := *tmpl
	c.Parent, c.Calls, c.Tasks, c.Handlers = parent, nil, nil, nil
	*all = append(*all, &c)
	if c.Stack == nil {
		return &c, nil
	}
	own := make([]*Task, len(c.Stack.Unit.Tasks))
	for i, t := range c.Stack.Unit.Tasks {
		cp := *t
		cp.Call = &c
		own[i] = &cp
	}
	copyBlocks(own)
	c.Tasks = own
	ordered := interleave(own, c.Stack.Unit.Calls, func(n *StackCall) []*Task {
		fc, ts := flattenCall(n, &c, all, handlers)
		c.Calls = append(c.Calls, fc)
		return ts
	})
	for _, h := range c.Stack.Unit.Handlers {
		cp := *h
		cp.Call = &c
		c.Handlers = append(c.Handlers, &cp)
	}
	*handlers = append(*handlers, c.Handlers...)
	return &c, ordered
}

// interleave puts each call's tasks before the task it was written before.
func interleave(tasks []*Task, calls []*StackCall, expand func(*StackCall) []*Task) []*Task {
	out := make([]*Task, 0, len(tasks))
	ci := 0
	for i := 0; i <= len(tasks); i++ {
		for ci < len(calls) && calls[ci].pos <= i {
			out = append(out, expand(calls[ci])...)
			ci++
		}
		if i < len(tasks) {
			out = append(out, tasks[i])
		}
	}
	return out
}

// taskIn resolves a task reference in a call's stack (a play's own task
// when c is nil).
func taskIn(pl *Play, c *StackCall, typ, name string) *Task {
	if c == nil {
		return pl.Task(typ, name)
	}
	return c.Task(typ, name)
}

// callIn resolves stack.NAME in a call's stack (in the play when c is nil).
func callIn(pl *Play, c *StackCall, name string) *StackCall {
	if c == nil {
		return pl.Call(name)
	}
	return c.Call(name)
}

// depsOf returns the tasks an expression's traversals depend on, evaluated
// in call c (the play when nil): tasks it names, and through locals,
// variables (the call's inputs) and nested outputs the tasks those use.
func depsOf(pl *Play, c *StackCall, trs []hcl.Traversal, seen map[string]bool) []*Task {
	var out []*Task
	for _, tr := range trs {
		if len(tr) < 2 {
			continue
		}
		root, attr := tr.RootName(), traverseName(tr[1])
		key := fmt.Sprintf("%p/%s.%s", c, root, attr)
		switch root {
		case "local", "var", "stack":
			if seen[key] {
				continue
			}
			seen[key] = true
		}
		switch root {
		case "local":
			if c != nil && c.Stack != nil && c.Stack.Locals[attr] != nil {
				out = append(out, depsOf(pl, c, c.Stack.Locals[attr].Expr.Variables(), seen)...)
			}
		case "var":
			if c != nil {
				if a := c.Input(attr); a != nil {
					out = append(out, depsOf(pl, c.Parent, a.Expr.Variables(), seen)...)
				}
			}
		case "stack":
			if n := callIn(pl, c, attr); n != nil {
				out = append(out, outputTasks(pl, n, outputName(tr), seen)...)
			}
		default:
			if t := taskIn(pl, c, root, attr); t != nil {
				out = append(out, t)
			}
		}
	}
	return out
}

// outputTasks are the tasks output name of call c depends on (every
// output's when name is "").
func outputTasks(pl *Play, c *StackCall, name string, seen map[string]bool) []*Task {
	if c.Stack == nil {
		return nil
	}
	var out []*Task
	for _, n := range c.Stack.OutputOrder {
		if o := c.Stack.Outputs[n]; (name == "" || n == name) && o.Value != nil {
			out = append(out, depsOf(pl, c, o.Value.Variables(), seen)...)
		}
	}
	return out
}

// callEdges adds the edges of a play's stack calls to g: every task of a
// call runs after what the call's inputs and depends_on name, and a task
// using a call's output after the tasks that output depends on.
func callEdges(pl *Play, add func(from, to *Task, reason string)) {
	for _, t := range pl.Tasks {
		for _, sr := range t.StackRefs {
			if n := callIn(pl, t.Call, sr.Name); n != nil {
				for _, d := range outputTasks(pl, n, sr.Output, map[string]bool{}) {
					add(d, t, "output "+strings.TrimSuffix("stack."+sr.Name+"."+sr.Output, "."))
				}
			}
		}
	}
	for _, c := range pl.AllCalls {
		var deps []*Task
		for _, r := range append(append([]Ref(nil), c.Refs...), c.DependsOn...) {
			deps = append(deps, dependsOn(pl, c.Parent, r)...)
		}
		for _, sr := range c.StackRefs {
			if n := callIn(pl, c.Parent, sr.Name); n != nil {
				deps = append(deps, outputTasks(pl, n, sr.Output, map[string]bool{})...)
			}
		}
		if len(deps) == 0 {
			continue
		}
		for _, t := range c.AllTasks() {
			for _, d := range deps {
				add(d, t, "input of "+c.Addr())
			}
		}
	}
}

// checkDependsOn checks a depends_on entry: a task, or a stack call
// (stack.NAME: every task of the call).
func checkDependsOn(pl *Play, self *Task, r Ref) *hcl.Diagnostic {
	if r.Type != "stack" {
		return checkTaskRef(pl, self, r)
	}
	if pl.Call(r.Name) != nil {
		return nil
	}
	var names []string
	for _, c := range pl.Calls {
		names = append(names, c.Name)
	}
	detail := fmt.Sprintf("%s has no stack call %q.", pl.describe(), r.Name)
	if s := Suggest(r.Name, names); s != "" {
		detail += fmt.Sprintf(" Did you mean stack.%s?", s)
	}
	return &hcl.Diagnostic{Severity: hcl.DiagError, Summary: "Reference to undeclared stack call", Detail: detail, Subject: r.Range.Ptr()}
}

// dependsOn resolves a depends_on entry (or a reference) in call c (the
// play when nil) to the tasks it waits for.
func dependsOn(pl *Play, c *StackCall, r Ref) []*Task {
	if r.Type == "stack" {
		if n := callIn(pl, c, r.Name); n != nil {
			return n.AllTasks()
		}
		return nil
	}
	if t := taskIn(pl, c, r.Type, r.Name); t != nil {
		return []*Task{t}
	}
	return nil
}
