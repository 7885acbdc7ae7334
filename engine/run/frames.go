package run

import (
	"fmt"
	"strings"
	"sync"

	"github.com/hashicorp/hcl/v2"
	"github.com/zclconf/go-cty/cty"
	"github.com/zclconf/go-cty/cty/function"

	"github.com/drover-cm/drover/engine/config"
	"github.com/drover-cm/drover/engine/lang"
)

// frame is one instance of a stack call on one host (stack.app, or
// stack.app[0] with count): the scope its tasks, locals and outputs are
// evaluated in. Its variables come from the call's inputs, evaluated in the
// frame of the caller (parent; nil is the play).
type frame struct {
	call   *config.StackCall
	parent *frame
	key    cty.Value
	each   *lang.Each
	count  cty.Value
	// prefix starts the addresses of its tasks: "stack.app[0].".
	prefix string
	scope  *lang.Scope
	// known: every input was known when last evaluated, so its variables
	// and locals are final. Otherwise they are evaluated again when one
	// of its tasks is (the inputs wait for tasks of the caller).
	known     bool
	tmplFuncs map[string]function.Function
}

// stackFuncs are the functions of each stack, whose file functions read
// in its own directory; shared by the hosts of a run.
type stackFuncs struct {
	mu    sync.Mutex
	allow []string
	by    map[*config.Stack][2]map[string]function.Function
}

func newStackFuncs(allow []string) *stackFuncs {
	return &stackFuncs{allow: allow, by: map[*config.Stack][2]map[string]function.Function{}}
}

func (s *stackFuncs) get(st *config.Stack) (funcs, tmpl map[string]function.Function) {
	s.mu.Lock()
	defer s.mu.Unlock()
	fs, ok := s.by[st]
	if !ok {
		fs = [2]map[string]function.Function{lang.Functions(st.Dir, s.allow...), lang.TemplateFunctions(st.Dir, s.allow...)}
		s.by[st] = fs
	}
	return fs[0], fs[1]
}

// scopeOf is the scope of frame f; the play's when f is nil.
func (e *evaluator) scopeOf(f *frame) *lang.Scope {
	if f == nil {
		return e.scope
	}
	return f.scope
}

// buildFrames expands the play's stack calls, outermost first: count and
// for_each (which must be known before any task runs), then the inputs,
// variables and locals of each instance.
func (e *evaluator) buildFrames() hcl.Diagnostics {
	if len(e.play.AllCalls) == 0 {
		return nil
	}
	if e.stackFns == nil {
		e.stackFns = newStackFuncs(e.pb.AllowLocal)
	}
	e.frames = map[*config.StackCall][]*frame{}
	var diags hcl.Diagnostics
	for _, c := range e.play.AllCalls {
		if c.Stack == nil {
			continue // a load error, reported
		}
		parents := []*frame{nil}
		if c.Parent != nil {
			parents = e.frames[c.Parent]
		}
		for _, p := range parents {
			ctx := e.scopeOf(p).EvalContext()
			reps, known, ds := repeat(ctx, c.ForEach, c.Count, "stack call")
			diags = append(diags, ds...)
			if ds.HasErrors() {
				continue
			}
			if !known {
				if !e.validate && !e.offline {
					expr := c.Count
					if expr == nil {
						expr = c.ForEach
					}
					diags = append(diags, &hcl.Diagnostic{Severity: hcl.DiagError, Summary: "Unknown count or for_each of a stack call",
						Detail:  fmt.Sprintf("The count or for_each of %s must be known before any task runs: use variables, locals and host values only.", c.Addr()),
						Subject: expr.Range().Ptr()})
					continue
				}
				// Checked once with unknown stand-ins.
				reps = []rep{{key: cty.UnknownVal(cty.String), each: &lang.Each{Key: cty.UnknownVal(cty.String), Value: cty.DynamicVal}, count: cty.UnknownVal(cty.Number)}}
				if c.ForEach == nil {
					reps[0].each = nil
				} else {
					reps[0].count = cty.NilVal
				}
			}
			for _, r := range reps {
				f := &frame{call: c, parent: p, key: r.key, each: r.each, count: r.count, prefix: "stack." + c.Name + r.suffix + "."}
				if p != nil {
					f.prefix = p.prefix + f.prefix
				}
				diags = append(diags, e.evalFrame(f)...)
				e.frames[c] = append(e.frames[c], f)
			}
		}
	}
	return diags
}

// evalFrame evaluates a frame's inputs in its caller's scope, then its
// variables (types, defaults, validations) and locals.
func (e *evaluator) evalFrame(f *frame) hcl.Diagnostics {
	c, st := f.call, f.call.Stack
	if f.scope == nil {
		funcs, tmpl := e.stackFns.get(st)
		f.scope = &lang.Scope{Host: e.scope.Host, Inventory: e.scope.Inventory, Functions: funcs, Tasks: map[string]map[string]cty.Value{}}
		f.tmplFuncs = tmpl
		f.scope.CacheTaskObjects()
		for _, t := range c.Tasks {
			setTaskValue(f.scope, t, cty.UnknownVal(taskType(t)))
		}
	}
	var diags hcl.Diagnostics
	if len(c.StackRefs) > 0 {
		diags = append(diags, e.refreshStacks(f.parent)...)
	}
	ctx := e.scopeOf(f.parent).With(f.each, f.count).EvalContext()
	in := Inputs{}
	known := true
	for _, a := range c.Inputs {
		v := st.Variables[a.Name]
		if v == nil {
			continue // reported by config
		}
		val, ds := a.Expr.Value(ctx)
		diags = append(diags, ds...)
		if ds.HasErrors() {
			continue
		}
		if _, err := v.Convert(val); err != nil {
			diags = append(diags, config.InputTypeError(c, v, a.Expr.Range(), err))
			continue
		}
		known = known && val.IsWhollyKnown()
		if e.secret != nil {
			for _, s := range lang.SensitiveStrings(val) {
				e.secret(s)
			}
		}
		r := a.Expr.Range()
		in[a.Name] = InputValue{Value: val, Range: r,
			Source: fmt.Sprintf("the input of %s at %s:%d", strings.TrimSuffix(f.prefix, "."), r.Filename, r.Start.Line)}
	}
	if diags.HasErrors() {
		return diags
	}
	vars, ds := resolveVars(&st.Playbook, in, e.host, nil, true, true)
	diags = append(diags, ds...)
	if e.secret != nil {
		for _, v := range vars {
			for _, s := range lang.SensitiveStrings(v) {
				e.secret(s)
			}
		}
	}
	f.scope.Vars = vars
	locals, ds := evalLocals(&st.Playbook, f.scope)
	diags = append(diags, ds...)
	f.scope.Locals = locals
	f.known = known
	return diags
}

// refreshFrame evaluates again a frame whose inputs were not all known,
// now that more of the caller's tasks may have run.
func (e *evaluator) refreshFrame(f *frame) hcl.Diagnostics {
	if f == nil || f.known {
		return nil
	}
	if diags := e.refreshFrame(f.parent); diags.HasErrors() {
		return diags
	}
	return e.evalFrame(f)
}

// refreshStacks recomputes stack.NAME in frame f's scope (the play's when
// nil) from the outputs of its calls' instances, whose own stack values
// are refreshed first.
func (e *evaluator) refreshStacks(f *frame) hcl.Diagnostics {
	calls := e.play.Calls
	if f != nil {
		calls = f.call.Calls
	}
	if len(calls) == 0 {
		return nil
	}
	var diags hcl.Diagnostics
	m := map[string]cty.Value{}
	for _, c := range calls {
		var keys []string
		vals := map[string]cty.Value{}
		var list []cty.Value
		for _, cf := range e.frames[c] {
			if cf.parent != f {
				continue
			}
			diags = append(diags, e.refreshStacks(cf)...)
			v, ds := e.outputs(cf)
			diags = append(diags, ds...)
			list = append(list, v)
			if cf.key != cty.NilVal && cf.key.IsKnown() && cf.key.Type() == cty.String {
				keys = append(keys, cf.key.AsString())
				vals[cf.key.AsString()] = v
			}
		}
		switch {
		case len(list) == 0 && c.Count == nil && c.ForEach == nil:
			m[c.Name] = cty.DynamicVal // not evaluated yet
		case c.Count != nil:
			m[c.Name] = cty.TupleVal(list)
		case c.ForEach != nil && len(keys) == len(list):
			m[c.Name] = cty.ObjectVal(vals)
		case c.ForEach != nil:
			m[c.Name] = cty.DynamicVal
		default:
			m[c.Name] = list[0]
		}
	}
	e.scopeOf(f).Stacks = m
	return diags
}

// outputs is the object of a frame's outputs.
func (e *evaluator) outputs(f *frame) (cty.Value, hcl.Diagnostics) {
	st := f.call.Stack
	if len(st.OutputOrder) == 0 {
		return cty.EmptyObjectVal, nil
	}
	var diags hcl.Diagnostics
	ctx := f.scope.EvalContext()
	attrs := map[string]cty.Value{}
	for _, name := range st.OutputOrder {
		o := st.Outputs[name]
		v, ds := o.Value.Value(ctx)
		diags = append(diags, ds...)
		if ds.HasErrors() {
			v = cty.DynamicVal
		}
		if o.Sensitive {
			v = lang.Sensitive(v)
		}
		attrs[name] = v
	}
	return cty.ObjectVal(attrs), diags
}

// isNotified reports whether handler h was notified: a stack's handler in
// any instance of its call.
func (hr *hostRun) isNotified(h *config.Task) bool {
	if h.Call == nil {
		return hr.notified[h.Name]
	}
	for _, f := range hr.e.frames[h.Call] {
		if hr.notified[f.prefix+h.Name] {
			return true
		}
	}
	return false
}

// callTraversals are the references of a play's stack calls (inputs,
// count, for_each) and of their stacks' locals and outputs, for needsFacts.
func callTraversals(pl *config.Play) []hcl.Traversal {
	var trs []hcl.Traversal
	for _, c := range pl.AllCalls {
		for _, a := range c.Inputs {
			trs = append(trs, a.Expr.Variables()...)
		}
		for _, e := range []hcl.Expression{c.Count, c.ForEach} {
			if e != nil {
				trs = append(trs, e.Variables()...)
			}
		}
		if c.Stack == nil {
			continue
		}
		for _, l := range c.Stack.Locals {
			trs = append(trs, l.Expr.Variables()...)
		}
		for _, o := range c.Stack.Outputs {
			if o.Value != nil {
				trs = append(trs, o.Value.Variables()...)
			}
		}
	}
	return trs
}
