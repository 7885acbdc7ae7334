package main

import (
	"bytes"
	"fmt"
	"os"

	"github.com/hashicorp/hcl/v2"
	"github.com/hashicorp/hcl/v2/hclparse"
	"github.com/spf13/cobra"
	"github.com/zclconf/go-cty/cty"

	"github.com/drover-cm/drover/engine/config"
	"github.com/drover-cm/drover/engine/lang"
	"github.com/drover-cm/drover/engine/provision"
	"github.com/drover-cm/drover/engine/report"
	"github.com/drover-cm/drover/engine/run"
	"github.com/drover-cm/drover/modules"
)

// playbookFlags are shared by validate, plan, apply and graph.
type playbookFlags struct {
	vars          []string
	varFiles      []string
	compactErrors bool
	allowLocal    []string
	// hosts applies a stack directly, without a playbook, on these hosts.
	hosts string
}

func (f *playbookFlags) register(cmd *cobra.Command) {
	fl := cmd.Flags()
	fl.StringArrayVar(&f.vars, "var", nil, "set a variable: --var NAME=VALUE (repeatable; highest precedence)")
	fl.StringArrayVar(&f.varFiles, "var-file", nil, "read variables from an HCL file of NAME = VALUE lines, in clear or encrypted with age or Ansible Vault (repeatable)")
	fl.BoolVar(&f.compactErrors, "compact-errors", false, "print each error on one line as file:line:col: error: message (for editors and CI)")
	fl.StringVar(&f.hosts, "hosts", "", "apply the stack given as the argument (a directory or git:: source) to the hosts this inventory pattern selects, without a playbook")
	fl.StringArrayVar(&f.allowLocal, "allow-local", nil, "let the playbook read local files (file(), a copy's source, a deploy key...) in this directory too, not only in its own (repeatable)")
}

// loaded is a parsed playbook with its inputs.
type loaded struct {
	ui     *ui
	parser *hclparse.Parser
	pb     *config.Playbook
	inputs run.Inputs
	flags  *playbookFlags
	// paths are the playbook arguments; cmd the command (for a plan file).
	paths []string
	cmd   *cobra.Command
}

// loadPlaybook parses the playbook and the variable inputs, printing
// diagnostics; errors end the command with exit status 1.
func loadPlaybook(cmd *cobra.Command, f *playbookFlags, paths []string) (*loaded, error) {
	l := &loaded{ui: newUI(cmd), parser: hclparse.NewParser(), flags: f, paths: paths, cmd: cmd}
	// Only the operator widens where local files may be read.
	sl, err := stackLoading(l.parser, paths, f.allowLocal, false)
	if err != nil {
		return nil, err
	}
	var pb *config.Playbook
	var diags hcl.Diagnostics
	src, direct, err := directStack(paths, f)
	if err != nil {
		return nil, err
	}
	if direct {
		sl.lock = nil // a stack applied directly is pinned by its ref alone
		pb, diags, err = loadStackPlaybook(cmd, sl, src, f)
		if err != nil {
			return nil, err
		}
	} else {
		pb, diags = config.LoadFilesWith(sl.opts, modules.Catalog(), paths...)
	}
	if !diags.HasErrors() && sl.lock != nil {
		if err := sl.lock.Save(); err != nil {
			return nil, err
		}
	}
	if !diags.HasErrors() {
		var ds hcl.Diagnostics
		l.inputs, ds = run.ParseInputsWithKeys(l.parser, pb, os.Environ(), f.varFiles, f.vars, secretKeys(l.ui))
		diags = append(diags, ds...)
		maskInputSecrets(l.ui, l.inputs)
	}
	l.pb = pb
	if pb != nil {
		// Sensitive values are masked from the start, in diagnostics too.
		for name, v := range pb.Variables {
			if !v.Sensitive {
				continue
			}
			if v.Default != cty.NilVal {
				for _, s := range lang.SensitiveStrings(lang.Sensitive(v.Default)) {
					l.ui.masker.Add(s)
				}
			}
			if iv, ok := l.inputs[name]; ok {
				for _, s := range lang.SensitiveStrings(lang.Sensitive(iv.Value)) {
					l.ui.masker.Add(s)
				}
			}
		}
	}
	if err := l.report(diags); err != nil {
		return nil, err
	}
	return l, nil
}

// report prints diagnostics (masked) and turns errors into exit status 1.
func (l *loaded) report(diags hcl.Diagnostics) error {
	if len(diags) == 0 {
		return nil
	}
	// A diagnostic may quote a host (an evaluation that read its output):
	// summaries and details are cleaned before the writer colours them. The
	// source snippets come from the playbook's files, where a sensitive
	// default may be written: the rendered text is masked again for those.
	clean := make(hcl.Diagnostics, len(diags))
	for i, d := range diags {
		c := *d
		c.Summary, c.Detail = report.Clean(l.ui.masker, d.Summary), report.Clean(l.ui.masker, d.Detail)
		clean[i] = &c
	}
	var b bytes.Buffer
	if l.flags.compactErrors {
		_ = config.WriteCompact(&b, clean)
	} else {
		_ = config.WriteDiagnostics(&b, l.parser.Files(), clean, termWidth(l.ui.stderr), l.ui.colorErr)
	}
	fmt.Fprint(l.ui.stderr, l.ui.masker.String(b.String()))
	if !diags.HasErrors() {
		return nil
	}
	n := 0
	for _, d := range diags {
		if d.Severity == hcl.DiagError {
			n++
		}
	}
	what := fmt.Sprintf("%d errors; fix them", n)
	if n == 1 {
		what = "1 error; fix it"
	}
	return &exitCodeError{code: exitError, err: fmt.Errorf("the playbook has %s and try again", what)}
}

var validateFlags playbookFlags

var validateCmd = &cobra.Command{
	Use:   "validate PLAYBOOK...",
	Short: "Check a playbook without contacting any host",
	Long: `Parse and check a playbook: syntax, module types and attributes, references
to variables, locals and tasks, dependency cycles, attribute types, and every
value that is known without a host, and templates (the file exists, parses, and
its variables are given). No inventory or connection is needed.
Provision blocks are checked against their provider's rules (attributes,
names, tags, count) without credentials or any API call.

A PLAYBOOK is an .hcl file or a directory of them. Variables without a value
are treated as unknown; give --var or --var-file to check their validations.`,
	Example: `  drover validate site.hcl
  drover validate --compact-errors playbooks/`,
	Args: cobra.MinimumNArgs(1),
	RunE: func(cmd *cobra.Command, args []string) error {
		l, err := loadPlaybook(cmd, &validateFlags, args)
		if err != nil {
			return err
		}
		diags := run.Validate(l.pb, l.inputs)
		if len(l.pb.Provisions) > 0 {
			// Provision blocks are evaluated once per run, with the
			// variables that do not depend on a host (unknown when unset).
			vars, locals, ds := run.Globals(l.pb, l.inputs)
			if !ds.HasErrors() {
				ds = provision.Validate(l.pb, vars, locals)
			}
			diags = appendNew(diags, ds)
		}
		if err := l.report(diags); err != nil {
			return err
		}
		if !global.jsonOut {
			fmt.Fprintf(l.ui.stdout, "The playbook is valid: %d %s, %d %s.\n", len(l.pb.Plays), plural(len(l.pb.Plays), "play", "plays"), countTasks(l.pb), plural(countTasks(l.pb), "task", "tasks"))
		}
		return nil
	},
}

// appendNew appends the diagnostics of more that diags does not hold yet
// (the variables' errors are reported by both validations).
func appendNew(diags, more hcl.Diagnostics) hcl.Diagnostics {
	key := func(d *hcl.Diagnostic) string {
		k := d.Summary + "\x00" + d.Detail
		if d.Subject != nil {
			k += "\x00" + d.Subject.String()
		}
		return k
	}
	seen := map[string]bool{}
	for _, d := range diags {
		seen[key(d)] = true
	}
	for _, d := range more {
		if !seen[key(d)] {
			seen[key(d)] = true
			diags = append(diags, d)
		}
	}
	return diags
}

func countTasks(pb *config.Playbook) int {
	n := 0
	for _, p := range pb.Plays {
		n += len(p.Tasks) + len(p.Handlers)
	}
	return n
}

func plural(n int, one, many string) string {
	if n == 1 {
		return one
	}
	return many
}

func init() {
	validateFlags.register(validateCmd)
	rootCmd.AddCommand(validateCmd)
}
