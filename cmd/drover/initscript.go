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
// stand-ins for host.* and other tasks.
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
	funcs := lang.Functions(pb.Dir, pb.AllowLocal...)
	scope := &lang.Scope{Vars: vars, Host: lang.UnknownHost(), Functions: funcs, Tasks: map[string]map[string]cty.Value{}}
	// Locals in as many rounds as there are, so each sees the others.
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
	scope.Locals = locals
	m, _ := modules.Lookup("init_service")
	var defs []initgen.Definition
	var diags hcl.Diagnostics
	for _, pl := range pb.Plays {
		for _, t := range pl.Tasks {
			if scope.Tasks[t.Type] == nil {
				scope.Tasks[t.Type] = map[string]cty.Value{}
			}
			scope.Tasks[t.Type][t.Name] = cty.DynamicVal
		}
		// What other tasks see of a task (user.app.name) is its decoded
		// attributes, with outputs unknown: decode them in rounds so that
		// references between tasks resolve (for_each/count tasks stay
		// unknown).
		for range pl.Tasks {
			for _, t := range pl.Tasks {
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
		for _, t := range append(append([]*config.Task(nil), pl.Tasks...), pl.Handlers...) {
			// A stack's tasks evaluate in their call's scope, which
			// only a run builds (drover plan shows them).
			if t.Call != nil || t.Type != "init_service" || len(only) > 0 && t.Name != only[0] {
				continue
			}
			val, ds := hcldec.Decode(t.Body, t.Spec, withTemplateVars(scope.EvalContext(), m))
			diags = append(diags, ds...)
			if ds.HasErrors() {
				continue
			}
			val, _ = val.UnmarkDeep()
			if !val.IsWhollyKnown() {
				diags = append(diags, &hcl.Diagnostic{Severity: hcl.DiagError, Summary: "Value known only on a host",
					Detail:  fmt.Sprintf("%s: an attribute depends on host.* or another task's result, so drover initscript cannot generate it without a host; use drover plan instead.", t.Addr()),
					Subject: t.DeclRange.Ptr()})
				continue
			}
			if c := val.GetAttr("command"); c.IsNull() {
				continue // a handler acting on instances defined elsewhere
			}
			d, err := modules.InitDefinition(val, t.Name)
			if err != nil {
				diags = append(diags, &hcl.Diagnostic{Severity: hcl.DiagError, Summary: "Invalid init_service task", Detail: fmt.Sprintf("%s: %v", t.Addr(), err), Subject: t.DeclRange.Ptr()})
				continue
			}
			if seen(defs, d.Name) {
				continue // a handler repeating the task's definition
			}
			defs = append(defs, d)
		}
	}
	return defs, diags
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
