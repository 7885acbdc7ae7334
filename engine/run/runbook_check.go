package run

// A runbook's check blocks: evaluated on the controller over what the
// probes read, into ranked findings.

import (
	"fmt"

	"github.com/hashicorp/hcl/v2"
	"github.com/zclconf/go-cty/cty"
	"github.com/zclconf/go-cty/cty/convert"

	"github.com/drover-cm/drover/engine/config"
	"github.com/drover-cm/drover/engine/lang"
	"github.com/drover-cm/drover/engine/report"
	"github.com/drover-cm/drover/modules/contract"
)

// check evaluates one check block into findings.
func (rr *runbookRun) check(scope *lang.Scope, c *config.Check, status map[string]string) []report.Finding {
	for _, p := range c.Probes {
		if status[p] != contract.ProbeOK {
			return nil // the probe's own status says why; nothing to judge
		}
	}
	type inst struct {
		key  string
		each *lang.Each
	}
	insts := []inst{{}}
	errFinding := func(key string, diags hcl.Diagnostics) []report.Finding {
		return []report.Finding{{Check: c.Name, Key: key, Severity: report.SevError, Message: "the check could not be evaluated: " + diagSummary(diags)}}
	}
	if c.ForEach != nil {
		v, diags := c.ForEach.Value(scope.EvalContext())
		if diags.HasErrors() {
			return errFinding("", diags)
		}
		v, _ = v.UnmarkDeep()
		insts = nil
		if v.IsNull() || !v.IsKnown() {
			return nil
		}
		if !v.CanIterateElements() {
			return errFinding("", hcl.Diagnostics{{Severity: hcl.DiagError, Summary: "Invalid for_each", Detail: "for_each must be a list, set, map or object, not " + v.Type().FriendlyName() + "."}})
		}
		for it := v.ElementIterator(); it.Next(); {
			k, ev := it.Element()
			key := ""
			switch {
			case k.Type() == cty.String:
				key = k.AsString()
			case ev.Type() == cty.String && !ev.IsNull():
				key = ev.AsString() // a list of strings: the element is the key
				k = ev
			case k.Type() == cty.Number:
				key = k.AsBigFloat().Text('f', -1)
			}
			insts = append(insts, inst{key: key, each: &lang.Each{Key: k, Value: ev}})
		}
	}
	var out []report.Finding
	for _, in := range insts {
		s := scope
		if in.each != nil {
			s = scope.With(in.each, cty.NilVal)
		}
		ctx := s.EvalContext()
		if c.When != nil {
			ok, diags := evalBool(c.When, ctx)
			if diags.HasErrors() {
				out = append(out, errFinding(in.key, diags)...)
				continue
			}
			if !ok {
				continue
			}
		}
		sev := report.SevOK
		for _, cond := range []struct {
			e   hcl.Expression
			sev report.Severity
		}{{c.Crit, report.SevCrit}, {c.Warn, report.SevWarn}} {
			if cond.e == nil || sev != report.SevOK {
				continue
			}
			ok, diags := evalBool(cond.e, ctx)
			if diags.HasErrors() {
				out = append(out, errFinding(in.key, diags)...)
				sev = report.SevError
				break
			}
			if ok {
				sev = cond.sev
			}
		}
		if sev == report.SevOK || sev == report.SevError {
			continue
		}
		msg, diags := c.Message.Value(ctx)
		text := ""
		if diags.HasErrors() {
			text = fmt.Sprintf("%s (the message could not be evaluated: %s)", c.Name, diagSummary(diags))
		} else if msg, _ = msg.UnmarkDeep(); !msg.IsNull() && msg.IsKnown() {
			if sv, err := convert.Convert(msg, cty.String); err == nil {
				text = sv.AsString()
			}
		}
		out = append(out, report.Finding{Check: c.Name, Key: in.key, Severity: sev, Message: text, Probes: c.Probes})
	}
	return out
}

// evalBool is a condition: null and unknown are false.
func evalBool(e hcl.Expression, ctx *hcl.EvalContext) (bool, hcl.Diagnostics) {
	v, diags := e.Value(ctx)
	if diags.HasErrors() {
		return false, diags
	}
	v, _ = v.UnmarkDeep()
	if v.IsNull() || !v.IsKnown() {
		return false, nil
	}
	b, err := convert.Convert(v, cty.Bool)
	if err != nil {
		return false, hcl.Diagnostics{{Severity: hcl.DiagError, Summary: "Invalid condition", Detail: fmt.Sprintf("A condition must be true or false, not %s.", friendly(v)), Subject: e.Range().Ptr()}}
	}
	return b.True(), nil
}
