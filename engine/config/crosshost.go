// Checks of the cross-host meta-arguments run_once and delegate_to that
// need no inventory. Names of hosts are checked in engine/run, before any
// host is contacted.

package config

import (
	"fmt"

	"github.com/hashicorp/hcl/v2"
)

// checkRunOnce checks that delegate_to is not given to a module that
// needs facts, and run_once: it may use variables and locals only (it
// decides which hosts run the task, so it cannot differ per host), and
// with for_each or count the instances must be the same on every host,
// or "the task's first instance on the batch's first host" names nothing
// the other hosts have.
func checkRunOnce(pb *Playbook, t *Task) hcl.Diagnostics {
	var diags hcl.Diagnostics
	if t.DelegateTo != nil && t.Module != nil && t.Module.Spec().NeedsFacts {
		diags = append(diags, &hcl.Diagnostic{Severity: hcl.DiagError, Summary: "Module cannot be delegated",
			Detail:  fmt.Sprintf("A %s task configures itself from the facts of the host it runs on, which delegate_to would take from the wrong host. Put the task in a play for the delegated host, or use command or shell.", t.Type),
			Subject: t.DelegateTo.Range().Ptr()})
	}
	if t.RunOnce == nil {
		return diags
	}
	diags = append(diags, checkExpr(pb, t.RunOnce.Variables(), where{desc: "run_once", locals: true})...)
	for _, tr := range t.RunOnce.Variables() {
		if tr.RootName() == "local" && len(tr) > 1 && pb.localPerHost(traverseName(tr[1]), map[string]bool{}) {
			diags = append(diags, &hcl.Diagnostic{Severity: hcl.DiagError, Summary: "Invalid run_once value",
				Detail:  fmt.Sprintf("run_once must be the same on every host, and local.%s depends on the host. Use true, false, a variable or a local that does not use host.*.", traverseName(tr[1])),
				Subject: tr.SourceRange().Ptr()})
		}
	}
	for _, e := range []hcl.Expression{t.ForEach, t.Count} {
		if e == nil || !pb.PerHost(e) {
			continue
		}
		meta := "for_each"
		if e == t.Count {
			meta = "count"
		}
		diags = append(diags, &hcl.Diagnostic{
			Severity: hcl.DiagError,
			Summary:  "Ambiguous run_once",
			Detail: fmt.Sprintf("%s's %s depends on the host (host.*, another task, or a local using them), so each host may have other instances, and which of them runs once for the batch is ambiguous. Make %s depend only on variables, locals and inventory.groups, or drop run_once.",
				t.Addr(), meta, meta),
			Subject: t.RunOnce.Range().Ptr(),
		})
	}
	return diags
}

// PerHost reports whether an expression's value may differ between the
// hosts of a play: it uses host.*, another task's values, or a local that
// does.
func (pb *Playbook) PerHost(e hcl.Expression) bool {
	for _, tr := range e.Variables() {
		switch root := tr.RootName(); {
		case root == "host":
			return true
		case root == "local" && len(tr) > 1:
			if pb.localPerHost(traverseName(tr[1]), map[string]bool{}) {
				return true
			}
		default:
			if _, ok := pb.modules.Lookup(root); ok {
				return true
			}
		}
	}
	return false
}

func (pb *Playbook) localPerHost(name string, seen map[string]bool) bool {
	l := pb.Locals[name]
	if l == nil || seen[name] {
		return false
	}
	seen[name] = true
	for _, tr := range l.Expr.Variables() {
		switch {
		case tr.RootName() == "host":
			return true
		case tr.RootName() == "local" && len(tr) > 1 && pb.localPerHost(traverseName(tr[1]), seen):
			return true
		}
	}
	return false
}
