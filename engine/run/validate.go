package run

import (
	"fmt"
	"os"

	"github.com/hashicorp/hcl/v2"
	"github.com/hashicorp/hcl/v2/hclsyntax"
	"github.com/zclconf/go-cty/cty"

	"github.com/drover-cm/drover/engine/config"
	"github.com/drover-cm/drover/engine/lang"
	"github.com/drover-cm/drover/engine/localpath"
	"github.com/drover-cm/drover/modules/contract"
)

// Validate checks a playbook without an inventory or any connection: every
// expression is evaluated with unknown stand-ins for what only a host can
// tell (host.*, other tasks' values, variables without a value), so type
// errors, bad function calls and invalid literal attributes are reported.
// Tasks whose configuration is fully known are passed to their module's
// Configure, which checks values (an invalid mode, a relative path).
func Validate(pb *config.Playbook, in Inputs) hcl.Diagnostics {
	funcs, tmplFuncs := lang.Functions(pb.Dir, pb.AllowLocal...), lang.TemplateFunctions(pb.Dir, pb.AllowLocal...)
	fns := newStackFuncs(pb.AllowLocal)
	vars, diags := hostVars(pb, in, "", nil, true)
	if diags.HasErrors() {
		return diags
	}
	scope := &lang.Scope{Vars: vars, Host: lang.UnknownHost(), Inventory: lang.UnknownInventory(), Functions: funcs}
	locals, ds := evalLocals(pb, scope)
	diags = append(diags, ds...)
	for _, pl := range pb.Plays {
		if pl.Hosts != nil {
			s := &lang.Scope{Vars: vars, Locals: locals, Functions: funcs}
			v, ds := pl.Hosts.Value(s.EvalContext())
			diags = append(diags, ds...)
			if !ds.HasErrors() {
				if _, err := patternString(v); err != nil {
					diags = append(diags, &hcl.Diagnostic{Severity: hcl.DiagError, Summary: "Invalid hosts value", Detail: err.Error(), Subject: pl.Hosts.Range().Ptr()})
				}
			}
		}
		diags = append(diags, validateRolling(pl, &lang.Scope{Vars: vars, Locals: locals, Functions: funcs})...)
		e := newEvaluator(pb, pl, funcs, tmplFuncs, vars, locals, lang.UnknownHost(), lang.UnknownInventory(), "")
		e.validate = true
		e.stackFns = fns
		if ds := e.buildFrames(); ds.HasErrors() {
			diags = append(diags, ds...)
			continue
		}
		g, ds := config.PlayGraph(pl)
		if ds.HasErrors() {
			continue // reported by config.Load
		}
		order, _ := g.TopoOrder()
		for _, t := range order {
			diags = append(diags, e.validateTask(t)...)
		}
		for _, h := range pl.Handlers {
			diags = append(diags, e.validateTask(h)...)
		}
	}
	return dedupe(diags)
}

func (e *evaluator) validateTask(t *config.Task) hcl.Diagnostics {
	known, diags := e.expandTask(t)
	if diags.HasErrors() || !known {
		// Check the body once with unknown each/count values.
		in := &instance{task: t, addr: t.Addr()}
		if t.Call != nil {
			if fs := e.frames[t.Call]; len(fs) > 0 {
				in.frame = fs[0]
			}
		}
		if t.ForEach != nil {
			in.each = &lang.Each{Key: cty.UnknownVal(cty.String), Value: cty.DynamicVal}
		}
		if t.Count != nil {
			in.count = cty.UnknownVal(cty.Number)
		}
		_, ds := e.runOnce(t, in.frame)
		diags = append(diags, ds...)
		diags = append(diags, e.configure(in)...)
		return append(diags, e.validateTemplate(in)...)
	}
	for _, in := range e.insts[t] {
		_, ds := e.runOnce(t, in.frame)
		diags = append(diags, ds...)
		diags = append(diags, e.configure(in)...)
		diags = append(diags, e.validateTemplate(in)...)
	}
	return diags
}

// validateTemplate checks a template task that Configure could not render
// because a value is known only on a host (it renders, and so checks, the
// others): the source file exists and parses, and every variable it uses
// is in vars. A vars value known only on a host counts as given.
func (e *evaluator) validateTemplate(in *instance) hcl.Diagnostics {
	t := in.task
	if t.Module.Spec().Name != "template" || in.state != instDeferred || in.values == cty.NilVal || !in.values.Type().IsObjectType() {
		return nil
	}
	vals, _ := in.values.UnmarkDeep()
	source := vals.GetAttr("source")
	if !source.IsKnown() || source.IsNull() {
		return nil
	}
	diag := func(attr, detail string) hcl.Diagnostics {
		err := &contract.AttrError{Attr: attr, Msg: detail}
		return hcl.Diagnostics{configureDiag(in, err)}
	}
	root := e.pb.Dir
	if in.frame != nil {
		root = in.frame.call.Stack.Dir
	}
	file, err := localpath.Rule{Root: root, Allow: e.pb.AllowLocal}.Resolve(t.Dir, source.AsString())
	if err != nil {
		return diag("source", err.Error())
	}
	src, err := os.ReadFile(file)
	if err != nil {
		return diag("source", fmt.Sprintf("cannot read the template: %v", err))
	}
	expr, ds := hclsyntax.ParseTemplate(src, file, hcl.InitialPos)
	if ds.HasErrors() {
		return diag("source", "template error: "+ds.Error())
	}
	given := map[string]bool{}
	vars := vals.GetAttr("vars")
	switch {
	case !vars.IsKnown() && !vars.Type().IsObjectType():
		return nil // which names it has is known only on a host
	case vars.Type().IsObjectType():
		for name := range vars.Type().AttributeTypes() {
			given[name] = true
		}
	case vars.IsKnown() && !vars.IsNull() && vars.CanIterateElements():
		for it := vars.ElementIterator(); it.Next(); {
			k, _ := it.Element()
			given[k.AsString()] = true
		}
	}
	var diags hcl.Diagnostics
	seen := map[string]bool{}
	for _, tr := range expr.Variables() {
		name := tr.RootName()
		if given[name] || seen[name] {
			continue
		}
		seen[name] = true
		r := tr.SourceRange()
		diags = append(diags, diag("vars", fmt.Sprintf("the template %s uses variable %q (line %d, column %d), which vars does not give; add it to vars", source.AsString(), name, r.Start.Line, r.Start.Column))...)
	}
	return diags
}

// dedupe drops repeated diagnostics (the same error in every instance).
func dedupe(diags hcl.Diagnostics) hcl.Diagnostics {
	seen := map[string]bool{}
	var out hcl.Diagnostics
	for _, d := range diags {
		k := d.Summary + "\x00" + d.Detail
		if d.Subject != nil {
			k += "\x00" + d.Subject.String()
		}
		if seen[k] {
			continue
		}
		seen[k] = true
		out = append(out, d)
	}
	return out
}
