package main

import (
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"

	"github.com/hashicorp/hcl/v2"
	"github.com/hashicorp/hcl/v2/hcldec"
	"github.com/spf13/cobra"
	"github.com/zclconf/go-cty/cty"
	"github.com/zclconf/go-cty/cty/convert"

	"github.com/drover-cm/drover/engine/config"
	"github.com/drover-cm/drover/engine/lang"
	"github.com/drover-cm/drover/modules"
	"github.com/drover-cm/drover/modules/contract"
	"github.com/drover-cm/drover/modules/initgen"
)

var initscriptFlags struct {
	playbookFlags
	init string
	out  string
}

var initscriptCmd = &cobra.Command{
	Use:   "initscript [--init systemd|sysv|openrc|all] PLAYBOOK [TASK]",
	Short: "Print the unit or init scripts init_service tasks generate, without connecting",
	Long: `Print what the init_service tasks of a playbook would write on a host with
the given init system: the systemd unit, the SysV init scripts or the OpenRC
script and its instance links, each after a "==> PATH" header. TASK selects one
init_service task by its label. No inventory or connection is used: variables
take their --var, --var-file or default values, and a value that only a host
can tell (host.*, another task's result) is an error.

With --out DIR the files are written under DIR (DIR/etc/systemd/system/...)
instead, to review them or commit them.`,
	Example: `  drover initscript site.hcl
  drover initscript --init sysv site.hcl redis
  drover initscript --init all --out generated/ site.hcl`,
	Args: cobra.RangeArgs(1, 2),
	RunE: func(cmd *cobra.Command, args []string) error {
		f := &initscriptFlags
		systems := []string{f.init}
		if f.init == "all" {
			systems = initgen.Systems
		} else if !contains(initgen.Systems, f.init) {
			return usageErrorf("--init must be one of %s or all, not %q", strings.Join(initgen.Systems, ", "), f.init)
		}
		l, err := loadPlaybook(cmd, &f.playbookFlags, args[:1])
		if err != nil {
			return err
		}
		defs, diags := initDefinitions(l, args[1:])
		if err := l.report(diags); err != nil {
			return err
		}
		if len(defs) == 0 {
			if len(args) > 1 {
				return &exitCodeError{code: exitError, err: fmt.Errorf("the playbook has no init_service task %q", args[1])}
			}
			return &exitCodeError{code: exitError, err: fmt.Errorf("the playbook has no init_service task")}
		}
		for _, d := range defs {
			for _, sys := range systems {
				files, err := initgen.Generate(d, sys)
				if err != nil {
					return &exitCodeError{code: exitError, err: fmt.Errorf("init_service %q: %w", d.Name, err)}
				}
				if f.out != "" {
					if err := writeInitFiles(f.out, files); err != nil {
						return &exitCodeError{code: exitError, err: err}
					}
					for _, file := range files {
						fmt.Fprintf(l.ui.stdout, "wrote %s\n", filepath.Join(f.out, file.Path))
					}
					continue
				}
				printInitFiles(l.ui.stdout, files)
			}
		}
		return nil
	},
}

func contains(ss []string, s string) bool {
	for _, x := range ss {
		if x == s {
			return true
		}
	}
	return false
}

// printInitFiles writes each file after a "==> PATH" header.
func printInitFiles(w io.Writer, files []initgen.File) {
	for _, f := range files {
		if f.Link != "" {
			fmt.Fprintf(w, "==> %s -> %s (symlink)\n\n", f.Path, f.Link)
			continue
		}
		fmt.Fprintf(w, "==> %s (mode %04o)\n", f.Path, f.Mode.Perm())
		w.Write(f.Content)
		fmt.Fprintln(w)
	}
}

func writeInitFiles(dir string, files []initgen.File) error {
	for _, f := range files {
		p := filepath.Join(dir, filepath.FromSlash(f.Path))
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			return fmt.Errorf("writing %s: %w", p, err)
		}
		if f.Link != "" {
			_ = os.Remove(p)
			if err := os.Symlink(f.Link, p); err != nil {
				return fmt.Errorf("writing %s: %w", p, err)
			}
			continue
		}
		if err := os.WriteFile(p, f.Content, f.Mode.Perm()); err != nil {
			return fmt.Errorf("writing %s: %w", p, err)
		}
	}
	return nil
}

// initDefinitions evaluates the playbook's init_service tasks (and handlers)
// without a host: variables from inputs or defaults, locals, and unknown
// stand-ins for host.* and other tasks' outputs. A stack's tasks evaluate in
// their call's scope: its variables from the call's inputs (or the stack's
// defaults), its locals, its own tasks; once per instance of a call with
// for_each or count.
func initDefinitions(l *loaded, only []string) ([]initgen.Definition, hcl.Diagnostics) {
	pb := l.pb
	vars := map[string]cty.Value{}
	for name, v := range pb.Variables {
		switch iv, ok := l.inputs[name]; {
		case ok:
			vars[name] = iv.Value
		case v.Default != cty.NilVal:
			vars[name] = v.Default
		default:
			vars[name] = cty.DynamicVal
		}
	}
	m, _ := modules.Lookup("init_service")
	g := &initGen{only: only, module: m}
	for _, pl := range pb.Plays {
		scope := &lang.Scope{Vars: vars, Host: lang.UnknownHost(), Functions: lang.Functions(pb.Dir, pb.AllowLocal...)}
		scope.Locals = evalLocalsOffline(pb, scope)
		scope.Stacks = unknownCalls(pl.Calls)
		var own []*config.Task
		for _, t := range pl.Tasks {
			if t.Call == nil {
				own = append(own, t)
			}
		}
		decodeTasksOffline(scope, own)
		var ownHandlers []*config.Task
		for _, h := range pl.Handlers {
			if h.Call == nil {
				ownHandlers = append(ownHandlers, h)
			}
		}
		g.collect(scope, append(own, ownHandlers...))
		for _, c := range pl.Calls {
			g.call(pb, c, scope)
		}
	}
	return g.defs, g.diags
}

// initGen gathers the definitions of init_service tasks.
type initGen struct {
	only   []string
	module contract.Module
	defs   []initgen.Definition
	diags  hcl.Diagnostics
}

// call evaluates the instances of stack call c (flattened: its Tasks,
// Handlers and Calls are its own copies) in the caller's scope, then their
// tasks and nested calls.
func (g *initGen) call(pb *config.Playbook, c *config.StackCall, caller *lang.Scope) {
	st := c.Stack
	if st == nil {
		return // a load error, reported
	}
	for _, inst := range callInstances(c, caller) {
		ctx := caller.With(inst.each, inst.count).EvalContext()
		vars := map[string]cty.Value{}
		for name, v := range st.Variables {
			vars[name] = cty.DynamicVal
			if a := c.Input(name); a != nil {
				if val, ds := a.Expr.Value(ctx); !ds.HasErrors() {
					if cv, err := v.Convert(val); err == nil {
						vars[name] = cv
					}
				}
			} else if v.Default != cty.NilVal {
				vars[name] = v.Default
			}
		}
		scope := &lang.Scope{Vars: vars, Host: caller.Host, Functions: lang.Functions(st.Dir, pb.AllowLocal...)}
		scope.Locals = evalLocalsOffline(&st.Playbook, scope)
		scope.Stacks = unknownCalls(c.Calls)
		decodeTasksOffline(scope, c.Tasks)
		g.collect(scope, append(append([]*config.Task(nil), c.Tasks...), c.Handlers...))
		for _, n := range c.Calls {
			g.call(pb, n, scope)
		}
	}
}

type callInstance struct {
	each  *lang.Each
	count cty.Value
}

// callInstances are the instances of a call: one without for_each and
// count, one per element or index when the caller's values tell them, else
// one whose each/count is unknown (its tasks then depend on a host).
func callInstances(c *config.StackCall, caller *lang.Scope) []callInstance {
	switch {
	case c.ForEach != nil:
		v, ds := c.ForEach.Value(caller.EvalContext())
		v, _ = v.UnmarkDeep()
		if ds.HasErrors() || !v.IsWhollyKnown() || v.IsNull() || !(v.CanIterateElements()) {
			return []callInstance{{each: &lang.Each{Key: cty.UnknownVal(cty.String), Value: cty.DynamicVal}}}
		}
		var out []callInstance
		for it := v.ElementIterator(); it.Next(); {
			k, e := it.Element()
			if v.Type().IsSetType() {
				k = e
			}
			out = append(out, callInstance{each: &lang.Each{Key: k, Value: e}})
		}
		return out
	case c.Count != nil:
		v, ds := c.Count.Value(caller.EvalContext())
		v, _ = v.UnmarkDeep()
		n, err := convert.Convert(v, cty.Number)
		if ds.HasErrors() || err != nil || !n.IsKnown() || n.IsNull() {
			return []callInstance{{count: cty.UnknownVal(cty.Number)}}
		}
		k, _ := n.AsBigFloat().Int64()
		var out []callInstance
		for i := int64(0); i < k && i < 10000; i++ {
			out = append(out, callInstance{count: cty.NumberIntVal(i)})
		}
		return out
	}
	return []callInstance{{}}
}

// unknownCalls stands in for the outputs of calls (stack.NAME.OUTPUT),
// which only a run knows.
func unknownCalls(calls []*config.StackCall) map[string]cty.Value {
	if len(calls) == 0 {
		return nil
	}
	out := map[string]cty.Value{}
	for _, c := range calls {
		out[c.Name] = cty.DynamicVal
	}
	return out
}

// evalLocalsOffline evaluates the locals of pb (a playbook or a stack) in
// as many rounds as there are, so each sees the others; those that need a
// host stay unknown.
func evalLocalsOffline(pb *config.Playbook, scope *lang.Scope) map[string]cty.Value {
	locals := map[string]cty.Value{}
	for _, n := range pb.LocalOrder {
		locals[n] = cty.DynamicVal
	}
	for range pb.LocalOrder {
		for _, n := range pb.LocalOrder {
			s := *scope
			s.Locals = locals
			if v, ds := pb.Locals[n].Expr.Value(s.EvalContext()); !ds.HasErrors() {
				locals[n] = v
			}
		}
	}
	return locals
}

// decodeTasksOffline sets what other tasks see of each task (user.app.name):
// its decoded attributes, with outputs unknown, decoded in rounds so that
// references between tasks resolve (for_each/count tasks stay unknown).
func decodeTasksOffline(scope *lang.Scope, tasks []*config.Task) {
	scope.Tasks = map[string]map[string]cty.Value{}
	for _, t := range tasks {
		if scope.Tasks[t.Type] == nil {
			scope.Tasks[t.Type] = map[string]cty.Value{}
		}
		scope.Tasks[t.Type][t.Name] = cty.DynamicVal
	}
	for range tasks {
		for _, t := range tasks {
			if t.ForEach != nil || t.Count != nil {
				continue
			}
			v, ds := hcldec.Decode(t.Body, t.Spec, withTemplateVars(scope.EvalContext(), t.Module))
			if ds.HasErrors() || v.IsMarked() || !v.Type().IsObjectType() {
				continue
			}
			attrs := v.AsValueMap()
			if attrs == nil {
				attrs = map[string]cty.Value{}
			}
			for _, o := range t.Module.Spec().Outputs {
				attrs[o.Name] = cty.UnknownVal(o.Type)
			}
			scope.Tasks[t.Type][t.Name] = cty.ObjectVal(attrs)
		}
	}
}

// collect adds the definitions of the init_service tasks and handlers among
// tasks, evaluated in scope.
func (g *initGen) collect(scope *lang.Scope, tasks []*config.Task) {
	for _, t := range tasks {
		if t.Type != "init_service" || len(g.only) > 0 && t.Name != g.only[0] {
			continue
		}
		val, ds := hcldec.Decode(t.Body, t.Spec, withTemplateVars(scope.EvalContext(), g.module))
		g.diags = append(g.diags, ds...)
		if ds.HasErrors() {
			continue
		}
		val, _ = val.UnmarkDeep()
		if !val.IsWhollyKnown() {
			g.diags = append(g.diags, &hcl.Diagnostic{Severity: hcl.DiagError, Summary: "Value known only on a host",
				Detail:  fmt.Sprintf("%s: an attribute depends on host.* or another task's result, so drover initscript cannot generate it without a host; use drover plan instead.", t.Addr()),
				Subject: t.DeclRange.Ptr()})
			continue
		}
		if c := val.GetAttr("command"); c.IsNull() {
			continue // a handler acting on instances defined elsewhere
		}
		d, err := modules.InitDefinition(val, t.Name)
		if err != nil {
			g.diags = append(g.diags, &hcl.Diagnostic{Severity: hcl.DiagError, Summary: "Invalid init_service task", Detail: fmt.Sprintf("%s: %v", t.Addr(), err), Subject: t.DeclRange.Ptr()})
			continue
		}
		if seen(g.defs, d.Name) {
			continue // a handler repeating the task's definition, or another play's
		}
		g.defs = append(g.defs, d)
	}
}

// withTemplateVars adds a module's template variables to ctx, as the engine
// does (contract.TemplateVars).
func withTemplateVars(ctx *hcl.EvalContext, m contract.Module) *hcl.EvalContext {
	if tv, ok := m.(contract.TemplateVars); ok {
		for _, n := range tv.TemplateVars() {
			ctx.Variables[n] = cty.StringVal("${" + n + "}")
		}
	}
	return ctx
}

func seen(defs []initgen.Definition, name string) bool {
	for _, d := range defs {
		if d.Name == name {
			return true
		}
	}
	return false
}

func init() {
	initscriptFlags.register(initscriptCmd)
	initscriptCmd.Flags().StringVar(&initscriptFlags.init, "init", "systemd", "the init system to generate for: systemd, sysv, openrc or all")
	initscriptCmd.Flags().StringVar(&initscriptFlags.out, "out", "", "write the files under this directory instead of printing them")
	rootCmd.AddCommand(initscriptCmd)
}
