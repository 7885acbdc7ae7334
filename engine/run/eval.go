package run

import (
	"errors"
	"fmt"
	"math/big"
	"sort"

	"github.com/hashicorp/hcl/v2"
	"github.com/hashicorp/hcl/v2/hcldec"
	"github.com/zclconf/go-cty/cty"
	"github.com/zclconf/go-cty/cty/convert"
	"github.com/zclconf/go-cty/cty/function"

	"github.com/drover-cm/drover/engine/config"
	"github.com/drover-cm/drover/engine/facts"
	"github.com/drover-cm/drover/engine/lang"
	"github.com/drover-cm/drover/modules/contract"
)

// evaluator evaluates one play's expressions for one host.
type evaluator struct {
	pb    *config.Playbook
	play  *config.Play
	funcs map[string]function.Function
	// tmplFuncs are handed to modules: no templatefile, so that a template
	// module cannot recurse.
	tmplFuncs map[string]function.Function
	scope     *lang.Scope
	host      string
	facts     *facts.Facts
	insts     map[*config.Task][]*instance
	expand    map[*config.Task]bool // for_each/count known
	// validate is set for `drover validate`: unknown values are expected.
	validate bool
	// offline: no connection, facts unknown (HostGraphs).
	offline bool
	// fleet is the inventory, for delegate_to (nil: not checked).
	fleet *fleet
	// frames are the instances of the play's stack calls (frames.go), by
	// call; stackFns their functions; notified the handlers notified so far
	// (nil in validate: every handler is checked).
	frames   map[*config.StackCall][]*frame
	stackFns *stackFuncs
	notified map[string]bool
	// secret receives the sensitive strings of stack inputs (the masker).
	secret func(string)
}

// newEvaluator returns an evaluator for one play on one host. funcs and
// tmplFuncs (lang.Functions and lang.TemplateFunctions of the playbook's
// directory) are shared by every host: they hold no state.
func newEvaluator(pb *config.Playbook, play *config.Play, funcs, tmplFuncs map[string]function.Function, vars, locals map[string]cty.Value, host, inventory cty.Value, hostName string) *evaluator {
	e := &evaluator{
		pb: pb, play: play, funcs: funcs, host: hostName,
		tmplFuncs: tmplFuncs,
		insts:     map[*config.Task][]*instance{},
		expand:    map[*config.Task]bool{},
		scope: &lang.Scope{
			Vars: vars, Locals: locals, Host: host, Inventory: inventory, Functions: funcs,
			Tasks: map[string]map[string]cty.Value{},
		},
	}
	e.scope.CacheTaskObjects()
	for _, t := range play.Tasks {
		if t.Call == nil {
			setTaskValue(e.scope, t, cty.UnknownVal(taskType(t)))
		}
	}
	return e
}

// evalLocals evaluates the playbook's locals in dependency order.
func evalLocals(pb *config.Playbook, scope *lang.Scope) (map[string]cty.Value, hcl.Diagnostics) {
	out := map[string]cty.Value{}
	var diags hcl.Diagnostics
	done := map[string]bool{}
	for progress := true; progress && len(done) < len(pb.LocalOrder); {
		progress = false
		for _, name := range pb.LocalOrder {
			if done[name] {
				continue
			}
			l := pb.Locals[name]
			ready := true
			for _, tr := range l.Expr.Variables() {
				if tr.RootName() == "local" && len(tr) > 1 {
					if a, ok := tr[1].(hcl.TraverseAttr); ok && !done[a.Name] && pb.Locals[a.Name] != nil {
						ready = false
					}
				}
			}
			if !ready {
				continue
			}
			s := *scope
			s.Locals = out
			v, ds := l.Expr.Value(s.EvalContext())
			diags = append(diags, ds...)
			if ds.HasErrors() {
				v = cty.DynamicVal
			}
			out[name] = v
			done[name] = true
			progress = true
		}
	}
	for _, name := range pb.LocalOrder {
		if !done[name] {
			out[name] = cty.DynamicVal // in a cycle, reported by config
		}
	}
	return out, diags
}

// taskType is the object type of a task's value: its attributes and outputs.
func taskType(t *config.Task) cty.Type {
	attrs := map[string]cty.Type{}
	s := t.Module.Spec()
	for _, a := range s.Attributes {
		attrs[a.Name] = a.Type
	}
	for _, o := range s.Outputs {
		attrs[o.Name] = o.Type
	}
	if _, ok := attrs["changed"]; !ok {
		attrs["changed"] = cty.Bool // every task's, once it ran
	}
	return cty.Object(attrs)
}

func setTaskValue(scope *lang.Scope, t *config.Task, v cty.Value) {
	scope.SetTask(t.Type, t.Name, v)
}

// refreshTaskValue recomputes what other tasks see of t from its instances:
// in the play's scope, or in each instance of its stack call.
func (e *evaluator) refreshTaskValue(t *config.Task) {
	if t.Call == nil {
		setTaskValue(e.scope, t, e.taskValue(t, e.insts[t]))
		return
	}
	insts := e.insts[t]
	for _, f := range e.frames[t.Call] {
		var mine []*instance
		for len(insts) > 0 && insts[0].frame == f {
			mine, insts = append(mine, insts[0]), insts[1:]
		}
		setTaskValue(f.scope, t, e.taskValue(t, mine))
	}
}

// taskValue is a task's value from its instances (in one frame).
func (e *evaluator) taskValue(t *config.Task, insts []*instance) cty.Value {
	switch {
	case !e.expand[t]:
		return cty.DynamicVal
	case t.ForEach != nil:
		m := map[string]cty.Value{}
		for _, in := range insts {
			m[in.key.AsString()] = e.instanceValue(in)
		}
		return cty.ObjectVal(m)
	case t.Count != nil:
		vs := make([]cty.Value, len(insts))
		for i, in := range insts {
			vs[i] = e.instanceValue(in)
		}
		return cty.TupleVal(vs)
	case len(insts) == 0:
		return cty.NullVal(taskType(t))
	default:
		return e.instanceValue(insts[0])
	}
}

// instanceValue is one instance as references see it: its attributes, and
// its outputs once it has run (unknown before).
func (e *evaluator) instanceValue(in *instance) cty.Value {
	ty := taskType(in.task)
	if in.state == instSkipped {
		return cty.NullVal(ty)
	}
	if in.values == cty.NilVal || !in.values.Type().IsObjectType() {
		return cty.UnknownVal(ty)
	}
	attrs := map[string]cty.Value{}
	for it := in.values.ElementIterator(); it.Next(); {
		k, v := it.Element()
		attrs[k.AsString()] = v
	}
	outs := in.task.Module.Spec().Outputs
	if _, ok := attrs["changed"]; !ok && !hasOutput(outs, "changed") {
		outs = append(outs[:len(outs):len(outs)], contract.Attribute{Name: "changed", Type: cty.Bool})
	}
	for _, o := range outs {
		v, ok := in.outputs[o.Name]
		if !ok {
			v = cty.UnknownVal(o.Type)
		}
		if in.sensitive {
			v = lang.Sensitive(v)
		}
		attrs[o.Name] = v
	}
	return cty.ObjectVal(attrs)
}

// expandTask evaluates for_each or count and creates the task's instances
// (in every instance of its stack call, for a stack's task). It reports
// false when their number is not known yet.
func (e *evaluator) expandTask(t *config.Task) (bool, hcl.Diagnostics) {
	if t.Call == nil {
		insts, known, diags := e.instancesIn(t, nil)
		if !known {
			return false, diags
		}
		e.insts[t], e.expand[t] = insts, true
		return true, diags
	}
	var all []*instance
	for _, f := range e.frames[t.Call] {
		if t.Handler && e.notified != nil && !e.notified[f.prefix+t.Name] {
			continue // a stack's handler runs where its own tasks notified it
		}
		if diags := e.refreshFrame(f); diags.HasErrors() {
			return false, diags
		}
		insts, known, diags := e.instancesIn(t, f)
		if !known {
			return false, diags
		}
		all = append(all, insts...)
	}
	e.insts[t], e.expand[t] = all, true
	return true, nil
}

// instancesIn evaluates t's for_each or count in frame f (nil: the play).
func (e *evaluator) instancesIn(t *config.Task, f *frame) ([]*instance, bool, hcl.Diagnostics) {
	prefix := ""
	if f != nil {
		prefix = f.prefix
	}
	if t.ForEach == nil && t.Count == nil {
		return []*instance{{task: t, frame: f, addr: prefix + t.LocalAddr()}}, true, nil
	}
	if len(t.StackRefs) > 0 && (t.ForEach != nil || t.Count != nil) {
		if diags := e.refreshStacks(f); diags.HasErrors() {
			return nil, false, diags
		}
	}
	reps, known, diags := repeat(e.scopeOf(f).EvalContext(), t.ForEach, t.Count, "task")
	if !known || diags.HasErrors() {
		return nil, false, diags
	}
	insts := make([]*instance, len(reps))
	for i, r := range reps {
		insts[i] = &instance{task: t, frame: f, key: r.key, each: r.each, count: r.count, addr: prefix + t.LocalAddr() + r.suffix}
	}
	return insts, true, nil
}

// rep is one element of a for_each or count: its key, each or count, and
// the address suffix (["key"] or [0]; "" without either).
type rep struct {
	key    cty.Value
	each   *lang.Each
	count  cty.Value
	suffix string
}

// repeat evaluates for_each or count (both nil: one element), of a task or
// a stack call (what). It reports false when they are not known yet.
func repeat(ctx *hcl.EvalContext, forEach, countExpr hcl.Expression, what string) ([]rep, bool, hcl.Diagnostics) {
	var reps []rep
	switch {
	case forEach != nil:
		v, diags := forEach.Value(ctx)
		if diags.HasErrors() {
			return nil, false, diags
		}
		if !v.IsWhollyKnown() {
			return nil, false, nil
		}
		if v.HasMark(lang.SensitiveMark) || (v.Type().IsSetType() && lang.IsSensitive(v)) {
			return nil, false, hcl.Diagnostics{{
				Severity: hcl.DiagError,
				Summary:  "Sensitive value in for_each",
				Detail:   "for_each keys become part of task addresses, which every output shows, so they cannot be sensitive. Use a map whose keys are not secret (its values may be).",
				Subject:  forEach.Range().Ptr(),
			}}
		}
		v, _ = v.Unmark() // map values keep their marks for each.value
		ty := v.Type()
		if v.IsNull() || !(ty.IsMapType() || ty.IsObjectType() || ty.IsSetType()) {
			return nil, false, hcl.Diagnostics{{
				Severity: hcl.DiagError,
				Summary:  "Invalid for_each value",
				Detail:   fmt.Sprintf("for_each needs a map, an object or a set of strings, not %s. Use toset([...]) for a list.", friendly(v)),
				Subject:  forEach.Range().Ptr(),
			}}
		}
		if ty.IsSetType() {
			if !ty.ElementType().Equals(cty.String) {
				sv, err := convert.Convert(v, cty.Set(cty.String))
				if err != nil {
					return nil, false, hcl.Diagnostics{{Severity: hcl.DiagError, Summary: "Invalid for_each value", Detail: "A set given to for_each must hold strings.", Subject: forEach.Range().Ptr()}}
				}
				v = sv
			}
			for it := v.ElementIterator(); it.Next(); {
				_, el := it.Element()
				el, _ = el.Unmark()
				reps = append(reps, rep{key: el, each: &lang.Each{Key: el, Value: el}})
			}
		} else {
			for it := v.ElementIterator(); it.Next(); {
				k, el := it.Element()
				reps = append(reps, rep{key: k, each: &lang.Each{Key: k, Value: el}})
			}
		}
		sort.SliceStable(reps, func(i, j int) bool { return reps[i].key.AsString() < reps[j].key.AsString() })
		for i := range reps {
			reps[i].suffix = fmt.Sprintf("[%q]", reps[i].key.AsString())
		}
	case countExpr != nil:
		v, diags := countExpr.Value(ctx)
		if diags.HasErrors() {
			return nil, false, diags
		}
		if !v.IsWhollyKnown() {
			return nil, false, nil
		}
		v, _ = v.Unmark()
		n, err := convert.Convert(v, cty.Number)
		var count int64
		ok := err == nil && !n.IsNull()
		if ok {
			bf := n.AsBigFloat()
			count, _ = bf.Int64()
			ok = bf.IsInt() && count >= 0 && count <= 10000
		}
		if !ok {
			return nil, false, hcl.Diagnostics{{Severity: hcl.DiagError, Summary: "Invalid count value", Detail: fmt.Sprintf("count must be a whole number from 0 to 10000, not %s.", friendly(v)), Subject: countExpr.Range().Ptr()}}
		}
		for i := int64(0); i < count; i++ {
			idx := cty.NumberVal(new(big.Float).SetInt64(i))
			reps = append(reps, rep{key: idx, count: idx, suffix: fmt.Sprintf("[%d]", i)})
		}
	default:
		reps = []rep{{}}
	}
	return reps, true, nil
}

func hasOutput(outs []contract.Attribute, name string) bool {
	for _, o := range outs {
		if o.Name == name {
			return true
		}
	}
	return false
}

func friendly(v cty.Value) string {
	if v.IsNull() {
		return "null"
	}
	return v.Type().FriendlyName()
}

// configure evaluates one instance: when, sensitive, the module's attributes,
// then the module's Configure. It moves the instance to skipped, to
// deferred when its configuration is not known yet, or to configured; on
// errors it stays where it was.
func (e *evaluator) configure(in *instance) hcl.Diagnostics {
	t := in.task
	if diags := e.refreshFrame(in.frame); diags.HasErrors() {
		return diags
	}
	if len(t.StackRefs) > 0 {
		if diags := e.refreshStacks(in.frame); diags.HasErrors() {
			return diags
		}
	}
	s := e.scopeOf(in.frame).With(in.each, in.count)
	ctx := s.EvalContext()
	if t.When != nil {
		v, diags := t.When.Value(ctx)
		if diags.HasErrors() {
			return diags
		}
		if !v.IsKnown() && !e.validate {
			in.to(instDeferred)
			return nil
		}
		v, _ = v.Unmark()
		b, err := convert.Convert(v, cty.Bool)
		if !v.IsKnown() {
			b, err = cty.True, nil // validate: check the body anyway
		}
		if err != nil || b.IsNull() {
			return hcl.Diagnostics{{Severity: hcl.DiagError, Summary: "Invalid when value", Detail: fmt.Sprintf("when must be true or false, not %s.", friendly(v)), Subject: t.When.Range().Ptr()}}
		}
		if b.False() {
			in.to(instSkipped)
			return nil
		}
	}
	if t.Become != nil || t.BecomeUser != nil {
		b, diags := evalBecome(t.Become, t.BecomeUser, s)
		if diags.HasErrors() {
			return diags
		}
		in.become = b
	}
	if known, diags := e.delegate(in, s); diags.HasErrors() {
		return diags
	} else if !known {
		in.to(instDeferred)
		return nil
	}
	if diags := e.configureControl(in, ctx); diags.HasErrors() {
		return diags
	}
	sensitive := false
	if t.Sensitive != nil {
		v, diags := t.Sensitive.Value(ctx)
		if diags.HasErrors() {
			return diags
		}
		v, _ = v.Unmark()
		b, err := convert.Convert(v, cty.Bool)
		if err != nil || b.IsNull() {
			return hcl.Diagnostics{{Severity: hcl.DiagError, Summary: "Invalid sensitive value", Detail: "sensitive must be true or false.", Subject: t.Sensitive.Range().Ptr()}}
		}
		sensitive = !b.IsKnown() || b.True()
	}
	if tv, ok := t.Module.(contract.TemplateVars); ok {
		// The module expands these itself: they stand for their own text.
		vars := make(map[string]cty.Value, len(ctx.Variables))
		for k, v := range ctx.Variables {
			vars[k] = v
		}
		for _, name := range tv.TemplateVars() {
			vars[name] = cty.StringVal("${" + name + "}")
		}
		ctx.Variables = vars
	}
	val, diags := hcldec.Decode(t.Body, t.Spec, ctx)
	if diags.HasErrors() {
		return diags
	}
	if e.scope.Inventory != cty.NilVal {
		// Only inventory values carry read marks: the walk is not paid
		// where nothing reads other hosts.
		in.reads, val = lang.HostsRead(val)
		in.reads = without(in.reads, e.host)
	}
	// Attributes the module declares sensitive are marked so, and so is the
	// whole task when it says sensitive = true.
	spec := t.Module.Spec()
	if val.Type().IsObjectType() && !val.IsNull() {
		var attrs map[string]cty.Value
		for _, a := range spec.Attributes {
			if !a.Sensitive && !sensitive || !val.Type().HasAttribute(a.Name) {
				continue
			}
			if v := val.GetAttr(a.Name); !v.IsNull() {
				if attrs == nil {
					attrs = val.AsValueMap()
				}
				attrs[a.Name] = lang.Sensitive(v)
			}
		}
		if attrs != nil {
			val = cty.ObjectVal(attrs)
		}
	}
	in.values = val
	in.metaSensitive = sensitive
	in.sensitive = sensitive || lang.IsSensitive(val)
	if !val.IsWhollyKnown() {
		in.to(instDeferred)
		return nil
	}
	in.secrets = lang.SensitiveStrings(val)
	if (e.validate || e.offline) && needsFactsModule(t) {
		return nil // Configure needs the host's facts
	}
	plain, _ := val.UnmarkDeep()
	root, tmplFuncs := e.pb.Dir, e.tmplFuncs
	if in.frame != nil {
		// A stack's task reads local files only in the stack's directory.
		root, tmplFuncs = in.frame.call.Stack.Dir, in.frame.tmplFuncs
	}
	mt, err := t.Module.Configure(contract.Config{Values: plain, Dir: t.Dir, Root: root, AllowLocal: e.pb.AllowLocal, Host: e.host, Functions: tmplFuncs, Facts: e.facts, Name: t.Name})
	if err != nil {
		return hcl.Diagnostics{configureDiag(in, err)}
	}
	in.mtask = mt
	in.to(instConfigured)
	return nil
}

func configureDiag(in *instance, err error) *hcl.Diagnostic {
	t := in.task
	d := &hcl.Diagnostic{
		Severity: hcl.DiagError,
		Summary:  fmt.Sprintf("Invalid %s task", t.Type),
		Detail:   fmt.Sprintf("%s: %v", in.addr, err),
		Subject:  t.DeclRange.Ptr(),
	}
	var ae *contract.AttrError
	if errors.As(err, &ae) {
		d.Summary = fmt.Sprintf("Invalid value for %q", ae.Attr)
		d.Detail = fmt.Sprintf("%s: %s", in.addr, ae.Msg)
		content, _, _ := t.Body.PartialContent(config.ImpliedSchema(t.Module.Spec()))
		if content != nil {
			if a, ok := content.Attributes[ae.Attr]; ok {
				d.Subject = a.Expr.Range().Ptr()
			}
		}
	}
	return d
}

// without returns ss without s.
func without(ss []string, s string) []string {
	out := ss[:0:0]
	for _, x := range ss {
		if x != s {
			out = append(out, x)
		}
	}
	if len(out) == 0 {
		return nil
	}
	return out
}
