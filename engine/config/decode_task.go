// Decoding of task and handler blocks: meta-arguments (when, depends_on,
// notify, ...) are peeled off; the rest is the module's body.

package config

import (
	"fmt"

	"github.com/hashicorp/hcl/v2"
	"github.com/hashicorp/hcl/v2/hclsyntax"

	"github.com/drover-cm/drover/modules/contract"
)

func decodeHandler(modules contract.Catalog, b *hcl.Block, dir string) (*Task, hcl.Diagnostics) {
	name := b.Labels[0]
	diags := checkName("handler", name, b.LabelRanges[0])
	schema := &hcl.BodySchema{Attributes: handlerMetaAttrs}
	known := map[string]bool{}
	for _, m := range modules.All() {
		known[m.Spec().Name] = true
		schema.Blocks = append(schema.Blocks, hcl.BlockHeaderSchema{Type: m.Spec().Name})
	}
	if sb, ok := b.Body.(*hclsyntax.Body); ok {
		for _, blk := range sb.Blocks {
			if !known[blk.Type] {
				known[blk.Type] = true
				diags = append(diags, unknownModule(modules, blk.Type, blk.TypeRange))
				schema.Blocks = append(schema.Blocks, hcl.BlockHeaderSchema{Type: blk.Type})
			}
		}
	}
	content, ds := b.Body.Content(schema)
	diags = append(diags, ds...)
	var inner []*hcl.Block
	for _, blk := range content.Blocks {
		if _, ok := modules.Lookup(blk.Type); ok {
			inner = append(inner, blk)
		}
	}
	if len(inner) != 1 {
		if !diags.HasErrors() {
			diags = append(diags, &hcl.Diagnostic{
				Severity: hcl.DiagError,
				Summary:  "A handler holds exactly one task",
				Detail:   fmt.Sprintf("Handler %q has %d task blocks. Write one, for example:\n  handler %q {\n    shell { run = \"systemctl reload nginx\" }\n  }", name, len(inner), name),
				Subject:  b.DefRange.Ptr(),
			})
		}
		return nil, diags
	}
	blk := inner[0]
	m, _ := modules.Lookup(blk.Type)
	t := &Task{
		Type: blk.Type, Name: name, Module: m, Dir: dir, Handler: true,
		DeclRange: b.DefRange, TypeRange: blk.TypeRange, NameRange: b.LabelRanges[0],
	}
	// The handler's meta-arguments sit on the handler block; the inner block
	// holds only module attributes.
	for _, a := range sortedAttrs(content.Attributes) {
		if a.Name == "on_failure" {
			diags = append(diags, decodeControl(t, a)...)
		} else {
			setMeta(t, a)
		}
	}
	diags = append(diags, checkResultMeta(t, content.Attributes)...)
	diags = append(diags, decodeTaskBody(t, blk.Body, &hcl.BodySchema{})...)
	return t, diags
}

func setMeta(t *Task, a *hcl.Attribute) {
	switch a.Name {
	case "when":
		t.When = a.Expr
	case "for_each":
		t.ForEach = a.Expr
	case "count":
		t.Count = a.Expr
	case "sensitive":
		t.Sensitive = a.Expr
	case "become":
		t.Become = a.Expr
	case "become_user":
		t.BecomeUser = a.Expr
	case "run_once":
		t.RunOnce = a.Expr
	case "delegate_to":
		t.DelegateTo = a.Expr
	case "retries":
		t.Retries = a.Expr
	case "retry_delay":
		t.RetryDelay = a.Expr
	case "until":
		t.Until = a.Expr
	case "changed_when":
		t.ChangedWhen = a.Expr
	case "failed_when":
		t.FailedWhen = a.Expr
	}
}

// decodeTaskBody peels the meta-arguments off body and checks the rest
// against the module's schema (unknown and missing attributes). Values are
// decoded later, per host.
func decodeTaskBody(t *Task, body hcl.Body, meta *hcl.BodySchema) hcl.Diagnostics {
	content, remain, diags := body.PartialContent(meta)
	for _, a := range sortedAttrs(content.Attributes) {
		switch a.Name {
		case "depends_on":
			refs, ds := refList(a, false)
			diags = append(diags, ds...)
			t.DependsOn = refs
		case "notify":
			refs, ds := refList(a, true)
			diags = append(diags, ds...)
			t.Notify = refs
		case "on_failure":
			diags = append(diags, decodeControl(t, a)...)
		default:
			setMeta(t, a)
		}
	}
	diags = append(diags, checkResultMeta(t, content.Attributes)...)
	if t.ForEach != nil && t.Count != nil {
		diags = append(diags, &hcl.Diagnostic{
			Severity: hcl.DiagError,
			Summary:  "Both for_each and count",
			Detail:   "A task may use for_each or count, not both.",
			Subject:  t.Count.Range().Ptr(),
		})
	}
	t.Spec = Spec(t.Module.Spec())
	t.Body = remain
	_, ds := remain.Content(ImpliedSchema(t.Module.Spec()))
	diags = append(diags, ds...)
	return diags
}

// refList decodes a static list of task (or, for notify, handler) references.
func refList(a *hcl.Attribute, handlers bool) ([]Ref, hcl.Diagnostics) {
	exprs, diags := hcl.ExprList(a.Expr)
	if diags.HasErrors() {
		return nil, diags
	}
	want := "a task such as directory.app, or a stack call such as stack.app"
	if handlers {
		want = "a handler such as handler.reload_nginx"
	}
	var refs []Ref
	for _, e := range exprs {
		tr, ds := hcl.AbsTraversalForExpr(e)
		ok := !ds.HasErrors() && len(tr) == 2
		var r Ref
		if ok {
			r = Ref{Type: tr.RootName(), Name: traverseName(tr[1]), Range: tr.SourceRange()}
			ok = r.Name != "" && (r.Type == "handler") == handlers
		}
		if !ok {
			diags = append(diags, &hcl.Diagnostic{
				Severity: hcl.DiagError,
				Summary:  "Invalid " + a.Name + " entry",
				Detail:   fmt.Sprintf("Each entry of %s must name %s, without quotes.", a.Name, want),
				Subject:  e.Range().Ptr(),
			})
			continue
		}
		refs = append(refs, r)
	}
	return refs, diags
}

func traverseName(s hcl.Traverser) string {
	switch s := s.(type) {
	case hcl.TraverseAttr:
		return s.Name
	case hcl.TraverseRoot:
		return s.Name
	}
	return ""
}

// looksLikeInventory reports whether a file has drover inventory blocks
// (host, group, defaults) and no playbook block.
