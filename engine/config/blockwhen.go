package config

import (
	"fmt"

	"github.com/hashicorp/hcl/v2"
	"github.com/zclconf/go-cty/cty"
	"github.com/zclconf/go-cty/cty/convert"
)

// blockWhen is the when of a task inside blocks that have one: the blocks'
// conditions, outermost first, then the task's own, and-ed. It stands in
// Task.When, so that whatever evaluates or scans a task's when (the
// evaluator, the facts and inventory scans) sees the blocks' conditions
// without knowing about blocks.
type blockWhen struct {
	blocks []*Block // with When set, outermost first
	own    hcl.Expression
}

// withBlockWhen is the when of a task at path whose own when is own.
func withBlockWhen(path []BlockPos, own hcl.Expression) hcl.Expression {
	var bs []*Block
	for _, p := range path {
		if p.Block.When != nil {
			bs = append(bs, p.Block)
		}
	}
	if len(bs) == 0 {
		return own
	}
	return &blockWhen{blocks: bs, own: own}
}

// WhenParts are the expressions a task's when is made of: the when of each
// block around it that has one, outermost first, then its own; for a
// static walk of the syntax (a blockWhen is not native syntax itself).
func WhenParts(e hcl.Expression) []hcl.Expression {
	if w, ok := e.(*blockWhen); ok {
		return w.parts()
	}
	if e == nil {
		return nil
	}
	return []hcl.Expression{e}
}

// ownWhen is the when written on the task itself, nil when none.
func ownWhen(e hcl.Expression) hcl.Expression {
	if w, ok := e.(*blockWhen); ok {
		return w.own
	}
	return e
}

func (w *blockWhen) parts() []hcl.Expression {
	out := make([]hcl.Expression, 0, len(w.blocks)+1)
	for _, b := range w.blocks {
		out = append(out, b.When)
	}
	if w.own != nil {
		out = append(out, w.own)
	}
	return out
}

// Value is false as soon as a condition is, outermost first, so that an
// inner condition may rely on an outer one (a block's when = var.x != null,
// a task's when = var.x.enabled); unknown as soon as one is unknown (the
// task waits); true when all are. A condition that is not a bool is an
// error at that condition.
func (w *blockWhen) Value(ctx *hcl.EvalContext) (cty.Value, hcl.Diagnostics) {
	for i, e := range w.parts() {
		v, diags := e.Value(ctx)
		if diags.HasErrors() {
			return cty.UnknownVal(cty.Bool), diags
		}
		v, marks := v.Unmark()
		if !v.IsKnown() {
			return cty.UnknownVal(cty.Bool).WithMarks(marks), nil
		}
		b, err := convert.Convert(v, cty.Bool)
		if err != nil || b.IsNull() {
			what := "when"
			if i < len(w.blocks) {
				what = fmt.Sprintf("the when of %s", w.blocks[i].Addr())
			}
			return cty.UnknownVal(cty.Bool), hcl.Diagnostics{{Severity: hcl.DiagError, Summary: "Invalid when value",
				Detail: fmt.Sprintf("%s must be true or false, not %s.", what, friendlyType(v)), Subject: e.Range().Ptr()}}
		}
		if b.False() {
			return cty.False.WithMarks(marks), nil
		}
	}
	return cty.True, nil
}

func (w *blockWhen) Variables() []hcl.Traversal {
	var out []hcl.Traversal
	for _, e := range w.parts() {
		out = append(out, e.Variables()...)
	}
	return out
}

// Range is the task's own when, or the innermost block's.
func (w *blockWhen) Range() hcl.Range {
	if w.own != nil {
		return w.own.Range()
	}
	return w.blocks[len(w.blocks)-1].When.Range()
}

func (w *blockWhen) StartRange() hcl.Range {
	if w.own != nil {
		return w.own.StartRange()
	}
	return w.blocks[len(w.blocks)-1].When.StartRange()
}

func friendlyType(v cty.Value) string {
	if v.IsNull() {
		return "null"
	}
	return v.Type().FriendlyName()
}
