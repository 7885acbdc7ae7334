package config

// Runbooks are read-only playbooks for troubleshooting: probes read a host,
// checks turn what they read into findings. The guarantee that a runbook
// cannot change a host is structural and starts here: a runbook may hold
// only tasks of modules whose Spec is ReadOnly (today: probe), and no
// meta-argument that would order or trigger anything else.

import (
	"fmt"
	"os"
	"path/filepath"
	"sort"

	"github.com/hashicorp/hcl/v2"
	"github.com/hashicorp/hcl/v2/hcldec"
	"github.com/hashicorp/hcl/v2/hclparse"
	"github.com/hashicorp/hcl/v2/hclsyntax"
	"github.com/zclconf/go-cty/cty"

	"github.com/drover-cm/drover/modules/contract"
)

// RunbookFile is what runbook files declare: variables and locals (in
// Playbook, which has no plays) and runbooks.
type RunbookFile struct {
	*Playbook
	Runbooks []*Runbook
}

// Runbook is a `runbook "name" {}` block.
type Runbook struct {
	Name        string
	Description string
	// Hosts is the inventory pattern; nil means "all" (the command line
	// usually gives the pattern).
	Hosts hcl.Expression
	// Probes holds the probe tasks as a play, so that references
	// (probe.NAME) resolve as task references do.
	Probes    *Play
	Checks    []*Check
	DeclRange hcl.Range
}

// Check is a `check "name" {}` block: it turns probe values into findings.
type Check struct {
	Name        string
	Description string
	ForEach     hcl.Expression // nil: one instance
	When        hcl.Expression
	Crit        hcl.Expression // bool: the finding is critical
	Warn        hcl.Expression // bool: the finding is a warning
	Message     hcl.Expression // string, required
	// Probes are the probes the check reads (probe.NAME), in source order.
	Probes    []string
	DeclRange hcl.Range
}

var runbookRootSchema = &hcl.BodySchema{
	Blocks: []hcl.BlockHeaderSchema{
		{Type: "variable", LabelNames: []string{"name"}},
		{Type: "locals"},
		{Type: "runbook", LabelNames: []string{"name"}},
	},
}

var checkSchema = &hcl.BodySchema{
	Attributes: []hcl.AttributeSchema{
		{Name: "description"}, {Name: "for_each"}, {Name: "when"},
		{Name: "crit"}, {Name: "warn"}, {Name: "message", Required: true},
	},
}

// Meta-arguments a runbook task accepts: when, and become to read as root
// (probes run unprivileged unless they ask).
var runbookTaskMeta = &hcl.BodySchema{
	Attributes: []hcl.AttributeSchema{
		{Name: "when"}, {Name: "become"}, {Name: "become_user"}, {Name: "sensitive"},
		{Name: "for_each"}, {Name: "count"}, {Name: "depends_on"}, {Name: "notify"},
	},
}

// LoadRunbookFiles parses runbook files (paths as LoadFiles takes them).
func LoadRunbookFiles(p *hclparse.Parser, modules contract.Catalog, paths ...string) (*RunbookFile, hcl.Diagnostics) {
	var diags hcl.Diagnostics
	var files []*hcl.File
	dir := ""
	for _, path := range paths {
		names := []string{path}
		if st, err := os.Stat(path); err != nil {
			diags = append(diags, &hcl.Diagnostic{Severity: hcl.DiagError, Summary: "Cannot read runbook",
				Detail: fmt.Sprintf("%v. Give the path of an .hcl runbook file or of a directory holding them.", err)})
			continue
		} else if st.IsDir() {
			names, _ = filepath.Glob(filepath.Join(path, "*.hcl"))
			sort.Strings(names)
		}
		for _, n := range names {
			f, ds := p.ParseHCLFile(n)
			diags = append(diags, ds...)
			if f != nil {
				files = append(files, f)
				if dir == "" {
					dir = filepath.Dir(n)
				}
			}
		}
	}
	if diags.HasErrors() {
		return nil, diags
	}
	if abs, err := filepath.Abs(dir); err == nil {
		dir = abs
	}
	rf, ds := LoadRunbooks(modules, dir, files...)
	return rf, append(diags, ds...)
}

// LoadRunbooks decodes parsed runbook files. dir is the root for file
// functions. Every error is found here, before any host is reached: a task
// of a module that can change state is refused with its position.
func LoadRunbooks(modules contract.Catalog, dir string, files ...*hcl.File) (*RunbookFile, hcl.Diagnostics) {
	pb := &Playbook{Dir: dir, Variables: map[string]*Variable{}, Locals: map[string]*Local{}, modules: modules}
	rf := &RunbookFile{Playbook: pb}
	var diags hcl.Diagnostics
	for _, f := range files {
		fileDir := dir
		if fn := f.Body.MissingItemRange().Filename; fn != "" {
			if abs, err := filepath.Abs(filepath.Dir(fn)); err == nil {
				fileDir = abs
			}
		}
		content, ds := f.Body.Content(runbookRootSchema)
		diags = append(diags, ds...)
		for _, b := range content.Blocks {
			switch b.Type {
			case "variable", "locals":
				diags = append(diags, pb.addDeclarations(b)...)
			case "runbook":
				rb, ds := decodeRunbook(modules, b, fileDir)
				diags = append(diags, ds...)
				for _, prev := range rf.Runbooks {
					if prev.Name == rb.Name {
						diags = append(diags, duplicate("runbook", rb.Name, prev.DeclRange, b.LabelRanges[0]))
					}
				}
				rf.Runbooks = append(rf.Runbooks, rb)
			}
		}
	}
	if len(rf.Runbooks) == 0 && !diags.HasErrors() {
		diags = append(diags, &hcl.Diagnostic{Severity: hcl.DiagError, Summary: "No runbook",
			Detail: `The files declare no runbook "NAME" { } block. A runbook holds probe and check blocks; see docs/runbooks.md.`})
	}
	diags = append(diags, checkReferences(pb)...)
	for _, rb := range rf.Runbooks {
		diags = append(diags, checkRunbookRefs(pb, rb)...)
	}
	return rf, diags
}

func decodeRunbook(modules contract.Catalog, b *hcl.Block, dir string) (*Runbook, hcl.Diagnostics) {
	rb := &Runbook{Name: b.Labels[0], DeclRange: b.DefRange}
	rb.Probes = &Play{Name: rb.Name, DeclRange: b.DefRange}
	diags := checkName("runbook", rb.Name, b.LabelRanges[0])
	schema := &hcl.BodySchema{
		Attributes: []hcl.AttributeSchema{{Name: "hosts"}, {Name: "description"}},
		Blocks:     []hcl.BlockHeaderSchema{{Type: "check", LabelNames: []string{"name"}}},
	}
	// Every module type is accepted by the schema so that a mutating one gets
	// drover's own diagnostic, not "unsupported block".
	known := map[string]bool{"check": true}
	for _, m := range modules.All() {
		known[m.Spec().Name] = true
		schema.Blocks = append(schema.Blocks, hcl.BlockHeaderSchema{Type: m.Spec().Name, LabelNames: []string{"name"}})
	}
	if sb, ok := b.Body.(*hclsyntax.Body); ok {
		for _, blk := range sb.Blocks {
			if known[blk.Type] {
				continue
			}
			known[blk.Type] = true
			if blk.Type == "handler" {
				diags = append(diags, &hcl.Diagnostic{Severity: hcl.DiagError, Summary: "Handlers are not allowed in a runbook",
					Detail: "A runbook only reads: nothing in it can change a host, so there is nothing to notify.", Subject: blk.TypeRange.Ptr()})
			} else {
				diags = append(diags, unknownModule(modules, blk.Type, blk.TypeRange))
			}
			schema.Blocks = append(schema.Blocks, hcl.BlockHeaderSchema{Type: blk.Type, LabelNames: []string{"name"}})
		}
	}
	content, ds := b.Body.Content(schema)
	diags = append(diags, ds...)
	rb.Hosts = attrExpr(content, "hosts")
	if a, ok := content.Attributes["description"]; ok {
		diags = append(diags, staticString(a, &rb.Description)...)
	}
	for _, blk := range content.Blocks {
		if blk.Type == "check" {
			c, ds := decodeCheck(blk)
			diags = append(diags, ds...)
			for _, prev := range rb.Checks {
				if prev.Name == c.Name {
					diags = append(diags, duplicate("check", c.Name, prev.DeclRange, blk.LabelRanges[0]))
				}
			}
			rb.Checks = append(rb.Checks, c)
			continue
		}
		m, ok := modules.Lookup(blk.Type)
		if !ok {
			continue // reported above
		}
		if !m.Spec().ReadOnly {
			diags = append(diags, &hcl.Diagnostic{
				Severity: hcl.DiagError,
				Summary:  "A runbook cannot change a host",
				Detail: fmt.Sprintf("Module %q can change state, so it is not allowed in runbook %q. Runbooks may hold only read-only modules (%s) and check blocks; drover enforces this before connecting to any host. Use a play in a playbook to make changes.",
					blk.Type, rb.Name, readOnlyModuleNames(modules)),
				Subject: blk.TypeRange.Ptr(),
				Context: blk.DefRange.Ptr(),
			})
			continue
		}
		t := &Task{Type: blk.Type, Name: blk.Labels[0], Module: m, Dir: dir,
			DeclRange: blk.DefRange, TypeRange: blk.TypeRange, NameRange: blk.LabelRanges[0]}
		diags = append(diags, checkName("probe", t.Name, t.NameRange)...)
		diags = append(diags, decodeTaskBody(t, blk.Body, runbookTaskMeta)...)
		for _, e := range []hcl.Expression{t.ForEach, t.Count} {
			if e != nil {
				diags = append(diags, &hcl.Diagnostic{Severity: hcl.DiagError, Summary: "for_each and count are not supported on probes",
					Detail: "Write one probe per command, or one command that covers every case (a loop in the shell).", Subject: e.Range().Ptr()})
			}
		}
		if len(t.DependsOn) > 0 || len(t.Notify) > 0 {
			diags = append(diags, &hcl.Diagnostic{Severity: hcl.DiagError, Summary: "depends_on and notify are not allowed in a runbook",
				Detail: "All probes of a host run in one round trip and nothing is notified: a runbook only reads.", Subject: t.DeclRange.Ptr()})
		}
		diags = append(diags, mutatingWarnings(t)...)
		if prev := rb.Probes.Task(t.Type, t.Name); prev != nil {
			diags = append(diags, duplicate(t.Type, t.Name, prev.DeclRange, t.NameRange))
			continue
		}
		rb.Probes.Tasks = append(rb.Probes.Tasks, t)
	}
	return rb, diags
}

func readOnlyModuleNames(modules contract.Catalog) string {
	s := ""
	for _, m := range modules.All() {
		if m.Spec().ReadOnly {
			if s != "" {
				s += ", "
			}
			s += m.Spec().Name
		}
	}
	return s
}

// mutatingWarnings warns about probe commands that obviously write: a
// heuristic (drover cannot prove shell code only reads), so a warning, not
// an error. The module says which of its attributes hold commands.
func mutatingWarnings(t *Task) hcl.Diagnostics {
	hinter, ok := t.Module.(contract.CommandHinter)
	if !ok {
		return nil
	}
	attrs, _ := t.Body.JustAttributes()
	var diags hcl.Diagnostics
	for _, at := range t.Module.Spec().Attributes {
		a, ok := attrs[at.Name]
		if !ok {
			continue
		}
		v, ds := a.Expr.Value(nil)
		if ds.HasErrors() || !v.IsWhollyKnown() || v.IsNull() {
			continue
		}
		var cmds []string
		if v.Type() == cty.String {
			cmds = []string{v.AsString()}
		} else if v.CanIterateElements() {
			for it := v.ElementIterator(); it.Next(); {
				_, e := it.Element()
				if !e.IsNull() && e.Type() == cty.String {
					cmds = append(cmds, e.AsString())
				}
			}
		}
		for _, c := range cmds {
			if hint := hinter.MutatingHint(at.Name, c); hint != "" {
				diags = append(diags, &hcl.Diagnostic{
					Severity: hcl.DiagWarning,
					Summary:  "This probe looks like it changes the host",
					Detail:   fmt.Sprintf("In %s, %s. A probe's command is your shell code: drover runs it without privilege escalation unless become = true, but cannot prove that it only reads. Make sure it does.", t.Addr(), hint),
					Subject:  a.Expr.Range().Ptr(),
				})
			}
		}
	}
	return diags
}

func decodeCheck(b *hcl.Block) (*Check, hcl.Diagnostics) {
	c := &Check{Name: b.Labels[0], DeclRange: b.DefRange}
	diags := checkName("check", c.Name, b.LabelRanges[0])
	content, ds := b.Body.Content(checkSchema)
	diags = append(diags, ds...)
	if a, ok := content.Attributes["description"]; ok {
		diags = append(diags, staticString(a, &c.Description)...)
	}
	c.ForEach = attrExpr(content, "for_each")
	c.When = attrExpr(content, "when")
	c.Crit = attrExpr(content, "crit")
	c.Warn = attrExpr(content, "warn")
	c.Message = attrExpr(content, "message")
	if c.Crit == nil && c.Warn == nil && !ds.HasErrors() {
		diags = append(diags, &hcl.Diagnostic{Severity: hcl.DiagError, Summary: "A check needs crit or warn",
			Detail: "Say when the check finds a problem: crit = CONDITION, warn = CONDITION, or both (crit wins).", Subject: b.DefRange.Ptr()})
	}
	return c, diags
}

// Exprs returns the check's expressions, for_each first.
func (c *Check) Exprs() []hcl.Expression {
	var out []hcl.Expression
	for _, e := range []hcl.Expression{c.ForEach, c.When, c.Crit, c.Warn, c.Message} {
		if e != nil {
			out = append(out, e)
		}
	}
	return out
}

func checkRunbookRefs(pb *Playbook, rb *Runbook) hcl.Diagnostics {
	var diags hcl.Diagnostics
	if rb.Hosts != nil {
		diags = append(diags, checkExpr(pb, rb.Hosts.Variables(), where{desc: "the hosts of a runbook", locals: true})...)
	}
	for _, t := range rb.Probes.Tasks {
		w := where{desc: "a probe (probes of a host run together, so one cannot read another)", host: true, locals: true, runbook: true}
		diags = append(diags, checkExpr(pb, hcldec.Variables(t.Body, t.Spec), w)...)
		for _, e := range []hcl.Expression{t.When, t.Sensitive, t.Become, t.BecomeUser} {
			if e != nil {
				diags = append(diags, checkExpr(pb, e.Variables(), w)...)
			}
		}
	}
	for _, c := range rb.Checks {
		var refs []Ref
		w := where{desc: "a check", host: true, locals: true, runbook: true, tasks: rb.Probes, each: c.ForEach != nil, collect: &refs}
		for _, e := range c.Exprs() {
			ww := w
			if e == c.ForEach {
				ww.each = false
			}
			diags = append(diags, checkExpr(pb, e.Variables(), ww)...)
		}
		for _, r := range refs {
			c.Probes = append(c.Probes, r.Name)
		}
	}
	return diags
}

// runbookInPlaybook is the error for a runbook file given where a playbook is
// expected (drover validate, plan, apply): say which command runs it.
func runbookInPlaybook(f *hcl.File) *hcl.Diagnostic {
	body, ok := f.Body.(*hclsyntax.Body)
	if !ok {
		return nil
	}
	for _, b := range body.Blocks {
		if b.Type == "runbook" {
			return &hcl.Diagnostic{
				Severity: hcl.DiagError,
				Summary:  "Runbook given as a playbook",
				Detail:   "This file declares a runbook: run it with drover run -i INVENTORY FILE [PATTERN], or check it with drover run --validate FILE.",
				Subject:  b.TypeRange.Ptr(),
			}
		}
	}
	return nil
}
