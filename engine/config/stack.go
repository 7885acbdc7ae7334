// Stacks: a directory of drover HCL (variables, locals, tasks, handlers,
// nested stack calls, outputs) that a play or another stack calls with a
// `stack "NAME" { source = ... }` block, as Terraform calls a module.
//
// A stack is loaded once per run however often it is called; its blocks
// are checked once, against its own variables, locals and tasks. Flattening
// (flatten.go) then copies its tasks into each calling play, one copy per
// call path, so the engine walks one graph per play as it always did.

package config

import (
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"strings"

	"github.com/hashicorp/hcl/v2"
	"github.com/hashicorp/hcl/v2/hclparse"
	"github.com/hashicorp/hcl/v2/hclsyntax"
	"github.com/zclconf/go-cty/cty"
	"github.com/zclconf/go-cty/cty/convert"

	"github.com/drover-cm/drover/engine/localpath"
	"github.com/drover-cm/drover/modules/contract"
)

// Stack is a loaded stack directory.
type Stack struct {
	// Playbook holds the stack's variables and locals; its Dir is the stack
	// directory, the only one file functions and module sources may read
	// (with the operator's --allow-local directories).
	Playbook
	// Unit holds the stack's own tasks, handlers and calls, as a play
	// without hosts (its Name is the stack's source).
	Unit *Play
	// Outputs are the stack's output blocks, by name.
	Outputs     map[string]*Output
	OutputOrder []string
	// Source is the source the stack was first called with; Root is the
	// tree local sources of its nested calls must stay in (the playbook
	// directory, or the fetched repository).
	Source string
	Root   string
	// Commit is the commit of a git source, "" for a local one.
	Commit string
}

// Output is an `output "NAME" {}` block of a stack.
type Output struct {
	Name        string
	Description string
	Value       hcl.Expression
	Sensitive   bool
	DeclRange   hcl.Range
}

// StackCall is a `stack "NAME" {}` block in a play or a stack. The calls
// of a play (Play.Calls, Play.AllCalls) are flattened: one per call path,
// with Parent, Tasks, Handlers and Calls set. Those in Stack.Unit are the
// stack's templates, copied per path.
type StackCall struct {
	Name        string
	Source      string
	SourceRange hcl.Range
	// Inputs are the attributes other than the meta-arguments, in source
	// order: one per variable of the stack.
	Inputs    []*hcl.Attribute
	Count     hcl.Expression
	ForEach   hcl.Expression
	DependsOn []Ref
	// Tags are given to every task of the call (see Task.Tags).
	Tags []string
	// Refs and StackRefs are what the inputs refer to in the caller: its
	// tasks, and the outputs of its other calls. Every task of the call
	// runs after them.
	Refs      []Ref
	StackRefs []StackRef
	// Stack is what the source loads; nil when it could not be loaded.
	Stack *Stack
	// Dir is the directory of the file declaring the call: a local source
	// is relative to it.
	Dir       string
	DeclRange hcl.Range
	NameRange hcl.Range

	// Set when flattened.
	Parent   *StackCall
	Calls    []*StackCall
	Tasks    []*Task
	Handlers []*Task
	// pos is where the call sits among its container's tasks: flattening
	// puts its tasks there, so file order reads through stacks.
	pos int
}

// StackRef is a reference to a call's output: stack.NAME.OUTPUT.
type StackRef struct {
	Name   string
	Output string // "" when the whole call's value is used
	Range  hcl.Range
}

// Addr is the call's address: stack.app, or stack.web.stack.db when nested.
func (c *StackCall) Addr() string {
	if c.Parent != nil {
		return c.Parent.Addr() + ".stack." + c.Name
	}
	return "stack." + c.Name
}

// Input returns the input attribute for the named variable, or nil.
func (c *StackCall) Input(name string) *hcl.Attribute {
	for _, a := range c.Inputs {
		if a.Name == name {
			return a
		}
	}
	return nil
}

// Task returns the call's own task with the type and name (not a nested
// call's), or nil.
func (c *StackCall) Task(typ, name string) *Task {
	for _, t := range c.Tasks {
		if t.Type == typ && t.Name == name {
			return t
		}
	}
	return nil
}

// Call returns the nested call named name, or nil.
func (c *StackCall) Call(name string) *StackCall {
	for _, x := range c.Calls {
		if x.Name == name {
			return x
		}
	}
	return nil
}

// AllTasks are the call's tasks and those of its nested calls.
func (c *StackCall) AllTasks() []*Task {
	out := append([]*Task(nil), c.Tasks...)
	for _, n := range c.Calls {
		out = append(out, n.AllTasks()...)
	}
	return out
}

// StackSources fetches the stacks named by remote sources (git::...). A
// local source needs none.
type StackSources interface {
	// Fetch returns the directory of the stack that source names and the
	// root of the tree it came from (the checkout), and the commit.
	Fetch(source string) (dir, root, commit string, err error)
}

// LoadOptions are what Load needs besides the files.
type LoadOptions struct {
	// Parser parses stack files; its Files() feed the diagnostic writer.
	// Nil: a parser of its own (diagnostics then show no snippets).
	Parser *hclparse.Parser
	// Sources fetches remote stack sources; nil refuses them.
	Sources StackSources
	// AllowLocal are the directories the operator allowed beside the
	// playbook's (--allow-local), for stacks as for the playbook.
	AllowLocal []string
}

// Reserved in a stack call: a stack cannot declare variables by these names.
var callMeta = map[string]bool{"source": true, "count": true, "for_each": true, "depends_on": true, "tags": true}

func decodeCall(b *hcl.Block, dir string, pos int) (*StackCall, hcl.Diagnostics) {
	c := &StackCall{Name: b.Labels[0], Dir: dir, DeclRange: b.DefRange, NameRange: b.LabelRanges[0], pos: pos}
	diags := checkName("stack", c.Name, c.NameRange)
	attrs, ds := b.Body.JustAttributes()
	diags = append(diags, ds...)
	for _, a := range sortedAttrs(attrs) {
		switch a.Name {
		case "source":
			diags = append(diags, staticString(a, &c.Source)...)
			c.SourceRange = a.Expr.Range()
		case "count":
			c.Count = a.Expr
		case "for_each":
			c.ForEach = a.Expr
		case "depends_on":
			refs, ds := refList(a, false)
			diags = append(diags, ds...)
			c.DependsOn = refs
		case "tags":
			tags, ds := decodeTags(a)
			diags = append(diags, ds...)
			c.Tags = tags
		default:
			c.Inputs = append(c.Inputs, a)
		}
	}
	if attrs["source"] == nil && !ds.HasErrors() {
		diags = append(diags, &hcl.Diagnostic{
			Severity: hcl.DiagError,
			Summary:  "Missing stack source",
			Detail:   fmt.Sprintf("Stack call %q needs a source: a directory such as source = \"./stacks/webapp\", or a git repository such as source = \"git::https://example.org/stacks.git//webapp?ref=v1.2\".", c.Name),
			Subject:  c.DeclRange.Ptr(),
		})
	}
	if c.Count != nil && c.ForEach != nil {
		diags = append(diags, &hcl.Diagnostic{Severity: hcl.DiagError, Summary: "Both for_each and count", Detail: "A stack call may use for_each or count, not both.", Subject: c.Count.Range().Ptr()})
	}
	return c, diags
}

func decodeOutput(b *hcl.Block) (*Output, hcl.Diagnostics) {
	o := &Output{Name: b.Labels[0], DeclRange: b.DefRange}
	diags := checkName("output", o.Name, b.LabelRanges[0])
	content, ds := b.Body.Content(&hcl.BodySchema{Attributes: []hcl.AttributeSchema{
		{Name: "value", Required: true}, {Name: "description"}, {Name: "sensitive"},
	}})
	diags = append(diags, ds...)
	if a, ok := content.Attributes["value"]; ok {
		o.Value = a.Expr
	}
	if a, ok := content.Attributes["description"]; ok {
		diags = append(diags, staticString(a, &o.Description)...)
	}
	if a, ok := content.Attributes["sensitive"]; ok {
		v, ds := a.Expr.Value(nil)
		diags = append(diags, ds...)
		if bv, err := convert.Convert(v, cty.Bool); !ds.HasErrors() && (err != nil || bv.IsNull()) {
			diags = append(diags, attrErr(a, "Invalid sensitive value", "sensitive must be true or false."))
		} else if err == nil && !bv.IsNull() {
			o.Sensitive = bv.True()
		}
	}
	return o, diags
}

// stackLoader loads the stacks of one playbook: each directory once, with
// the chain of stacks being loaded to catch a stack calling itself.
type stackLoader struct {
	modules contract.Catalog
	opts    LoadOptions
	allow   []string
	loaded  map[string]*Stack
	loading []string // directories, outermost first
}

// resolve loads the stack of every call in unit (a play or a stack's unit),
// recursively. root is the tree local sources must stay in.
func (l *stackLoader) resolve(unit *Play, root string) hcl.Diagnostics {
	var diags hcl.Diagnostics
	for _, c := range unit.Calls {
		st, ds := l.load(c, root)
		diags = append(diags, ds...)
		c.Stack = st
	}
	return diags
}

func (l *stackLoader) load(c *StackCall, root string) (*Stack, hcl.Diagnostics) {
	if c.Source == "" {
		return nil, nil // reported by decodeCall
	}
	bad := func(summary, detail string) (*Stack, hcl.Diagnostics) {
		return nil, hcl.Diagnostics{{Severity: hcl.DiagError, Summary: summary, Detail: detail, Subject: c.SourceRange.Ptr()}}
	}
	var dir, commit string
	treeRoot := root
	switch {
	case IsLocalSource(c.Source):
		p, err := localpath.Rule{Root: root, Allow: l.allow}.Resolve(c.Dir, c.Source)
		if err != nil {
			// Its files would be read and pushed to hosts like the
			// playbook's own: the local path rule applies.
			return bad("Stack source outside the playbook", fmt.Sprintf("The stack directory %q leads outside %s: a playbook calls only the stacks it carries, or git:: sources. Move the stack inside, or allow its directory with --allow-local DIR if you trust it.", c.Source, root))
		}
		dir = p
	case strings.HasPrefix(c.Source, "git::"):
		if l.opts.Sources == nil {
			return bad("Cannot fetch stack", fmt.Sprintf("Source %q is a git repository, and this command fetches no stacks. Run drover plan, apply or validate, which fetch it.", c.Source))
		}
		d, r, cm, err := l.opts.Sources.Fetch(c.Source)
		if err != nil {
			return bad("Cannot fetch stack", fmt.Sprintf("%v.", err))
		}
		dir, treeRoot, commit = d, r, cm
	default:
		return bad("Invalid stack source", fmt.Sprintf("%q is neither a local directory (starting with ./ or ../) nor a git repository (git::https://host/repo.git//dir?ref=v1).", c.Source))
	}
	for i, d := range l.loading {
		if d == dir {
			chain := append(append([]string(nil), l.loading[i:]...), dir)
			for j := range chain {
				chain[j] = l.rel(chain[j])
			}
			return bad("Stacks call each other in a cycle", fmt.Sprintf("Cycle: %s. A stack cannot call itself, directly or through others.", strings.Join(chain, " → ")))
		}
	}
	if st, ok := l.loaded[dir]; ok {
		return st, nil
	}
	st, diags := l.loadDir(dir, treeRoot, c)
	if st == nil {
		return nil, diags
	}
	st.Commit = commit
	l.loaded[dir] = st
	l.loading = append(l.loading, dir)
	diags = append(diags, l.resolve(st.Unit, treeRoot)...)
	l.loading = l.loading[:len(l.loading)-1]
	if !diags.HasErrors() {
		diags = append(diags, checkReferences(&st.Playbook)...)
		diags = append(diags, checkOutputs(st)...)
	}
	return st, diags
}

func (l *stackLoader) rel(dir string) string {
	if len(l.loading) > 0 {
		if r, err := filepath.Rel(filepath.Dir(l.loading[0]), dir); err == nil {
			return r
		}
	}
	return dir
}

// IsLocalSource reports whether a stack source is a local directory.
func IsLocalSource(s string) bool {
	return strings.HasPrefix(s, "./") || strings.HasPrefix(s, "../") || s == "." || s == ".."
}

// stackSchema is what a stack file may hold besides tasks and handlers.
var stackBlocks = []hcl.BlockHeaderSchema{
	{Type: "variable", LabelNames: []string{"name"}},
	{Type: "locals"},
	{Type: "output", LabelNames: []string{"name"}},
	{Type: "play", LabelNames: []string{"name"}},
	{Type: "provision", LabelNames: []string{"type", "name"}},
}

// loadDir parses the *.hcl files of a stack directory.
func (l *stackLoader) loadDir(dir, root string, c *StackCall) (*Stack, hcl.Diagnostics) {
	matches := hclFiles(dir)
	if st, err := os.Stat(dir); err != nil || !st.IsDir() || len(matches) == 0 {
		why := "has no *.hcl files"
		if err != nil {
			why = "does not exist"
		} else if !st.IsDir() {
			why = "is not a directory"
		}
		return nil, hcl.Diagnostics{{Severity: hcl.DiagError, Summary: "Stack source not found",
			Detail:  fmt.Sprintf("The stack directory %s %s. A stack is a directory of .hcl files with variable, output and task blocks.", dir, why),
			Subject: c.SourceRange.Ptr()}}
	}
	p := l.opts.Parser
	if p == nil {
		p = hclparse.NewParser()
	}
	st := &Stack{
		Playbook: Playbook{Dir: dir, AllowLocal: l.allow, Variables: map[string]*Variable{}, Locals: map[string]*Local{}, modules: l.modules},
		Unit:     &Play{Name: c.Source, DeclRange: c.DeclRange, stack: true},
		Outputs:  map[string]*Output{},
		Source:   c.Source,
		Root:     root,
	}
	st.Plays = []*Play{st.Unit}
	var diags hcl.Diagnostics
	for _, fn := range matches {
		src, err := os.ReadFile(fn)
		if err != nil {
			diags = append(diags, &hcl.Diagnostic{Severity: hcl.DiagError, Summary: "Cannot read stack file", Detail: fmt.Sprintf("%v.", err), Subject: c.SourceRange.Ptr()})
			continue
		}
		f, ds := p.ParseHCL(src, displayName(fn))
		diags = append(diags, ds...)
		if f == nil || ds.HasErrors() {
			continue
		}
		content, ds := decodeUnit(l.modules, f.Body, dir, st.Unit, nil, stackBlocks)
		diags = append(diags, ds...)
		for _, b := range content.Blocks {
			switch b.Type {
			case "variable", "locals":
				diags = append(diags, st.addDeclarations(b)...)
				if b.Type == "variable" && callMeta[b.Labels[0]] {
					diags = append(diags, &hcl.Diagnostic{Severity: hcl.DiagError, Summary: "Reserved variable name",
						Detail:  fmt.Sprintf("A stack cannot declare a variable named %q: in a stack call that name is a meta-argument.", b.Labels[0]),
						Subject: b.LabelRanges[0].Ptr()})
				}
			case "output":
				o, ds := decodeOutput(b)
				diags = append(diags, ds...)
				if prev := st.Outputs[o.Name]; prev != nil {
					diags = append(diags, duplicate("output", o.Name, prev.DeclRange, b.LabelRanges[0]))
					continue
				}
				st.Outputs[o.Name] = o
				st.OutputOrder = append(st.OutputOrder, o.Name)
			case "play", "provision":
				diags = append(diags, &hcl.Diagnostic{Severity: hcl.DiagError, Summary: "A " + b.Type + " block in a stack",
					Detail:  "A stack holds variable, locals, output, stack, handler and task blocks; which hosts it runs on is the calling play's hosts.",
					Subject: b.DefRange.Ptr()})
			}
		}
	}
	return st, diags
}

// LoadStack loads one stack directory (or remote source) on its own, for
// drover stack doc and for applying a stack without a playbook.
func LoadStack(modules contract.Catalog, opts LoadOptions, source string, allow []string) (*Stack, hcl.Diagnostics) {
	l := &stackLoader{modules: modules, opts: opts, allow: allow, loaded: map[string]*Stack{}}
	c := &StackCall{Name: StackName(source), Source: source}
	root := ""
	if !strings.HasPrefix(source, "git::") {
		// The operator named this directory: it is the stack's own root.
		abs, err := filepath.Abs(source)
		if err != nil {
			return nil, hcl.Diagnostics{{Severity: hcl.DiagError, Summary: "Invalid stack source", Detail: fmt.Sprintf("%v.", err)}}
		}
		root, c.Source, c.Dir = abs, ".", abs
	}
	st, diags := l.load(c, root)
	if st != nil {
		st.Source = source
	}
	return st, diags
}

// StackName is the name a stack applied directly is called by: the last
// element of its directory ("webapp"), made a valid name.
func StackName(source string) string {
	s := source
	if i := strings.IndexByte(s, '?'); i >= 0 {
		s = s[:i]
	}
	s = strings.TrimRight(s, "/")
	name := filepath.Base(s)
	name = strings.TrimSuffix(name, ".git")
	var b strings.Builder
	for i, r := range name {
		ok := r == '_' || r == '-' || r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9' && i > 0
		if !ok {
			r = '_'
		}
		b.WriteRune(r)
	}
	if !hclsyntax.ValidIdentifier(b.String()) {
		return "stack"
	}
	return b.String()
}

// IsStackDir reports whether path is a directory of stack files rather
// than a playbook: its files have no play block, and some output, stack or
// task block.
func IsStackDir(path string) bool {
	st, err := os.Stat(path)
	if err != nil || !st.IsDir() {
		return false
	}
	matches := hclFiles(path)
	stack := false
	for _, fn := range matches {
		src, err := os.ReadFile(fn)
		if err != nil {
			return false
		}
		f, diags := hclsyntax.ParseConfig(src, fn, hcl.InitialPos)
		if diags.HasErrors() {
			return false
		}
		for _, b := range f.Body.(*hclsyntax.Body).Blocks {
			switch b.Type {
			case "play", "provision", "runbook", "host", "group":
				return false
			case "variable", "locals":
			default:
				stack = true
			}
		}
	}
	return stack
}

// StackPlaybook is the playbook that applies stack st directly: one play
// named name over the hosts pattern, calling st with every variable of
// the stack as an input; the playbook's variables are the stack's, so
// --var and --var-file set them.
func StackPlaybook(st *Stack, name, hosts string) *Playbook {
	pb := &Playbook{Dir: st.Dir, AllowLocal: st.AllowLocal, Variables: st.Variables, VariableOrder: st.VariableOrder, Locals: map[string]*Local{}, modules: st.modules}
	c := &StackCall{Name: name, Source: st.Source, Stack: st, Dir: st.Dir, DeclRange: st.Unit.DeclRange, NameRange: st.Unit.DeclRange, SourceRange: st.Unit.DeclRange}
	for _, n := range st.VariableOrder {
		v := st.Variables[n]
		expr := &hclsyntax.ScopeTraversalExpr{Traversal: hcl.Traversal{hcl.TraverseRoot{Name: "var", SrcRange: v.DeclRange}, hcl.TraverseAttr{Name: n, SrcRange: v.DeclRange}}, SrcRange: v.DeclRange}
		c.Inputs = append(c.Inputs, &hcl.Attribute{Name: n, Expr: expr, Range: v.DeclRange, NameRange: v.DeclRange})
	}
	pl := &Play{Name: name, Hosts: &hclsyntax.LiteralValueExpr{Val: cty.StringVal(hosts), SrcRange: st.Unit.DeclRange}, Calls: []*StackCall{c}, DeclRange: st.Unit.DeclRange}
	flatten(pl)
	pb.Plays = []*Play{pl}
	return pb
}

// LockFile is the name of the lock file of git stack sources, beside the
// playbook (engine/stacksrc writes it): not a playbook file.
const LockFile = "drover.lock.hcl"

// hclFiles are the *.hcl files of a directory in name order, the lock file
// left out.
func hclFiles(dir string) []string {
	matches, _ := filepath.Glob(filepath.Join(dir, "*.hcl"))
	sort.Strings(matches)
	out := matches[:0]
	for _, m := range matches {
		if filepath.Base(m) != LockFile {
			out = append(out, m)
		}
	}
	return out
}

// displayName is how diagnostics name a stack file: relative to the
// working directory when inside it, as the playbook's own files are.
func displayName(fn string) string {
	wd, err := os.Getwd()
	if err != nil {
		return fn
	}
	if r, err := filepath.Rel(wd, fn); err == nil && !strings.HasPrefix(r, "..") {
		return r
	}
	return fn
}
