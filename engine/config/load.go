package config

import (
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"

	"github.com/agext/levenshtein"
	"github.com/hashicorp/hcl/v2"
	"github.com/hashicorp/hcl/v2/ext/typeexpr"
	"github.com/hashicorp/hcl/v2/hclparse"
	"github.com/hashicorp/hcl/v2/hclsyntax"
	"github.com/zclconf/go-cty/cty"
	"github.com/zclconf/go-cty/cty/convert"

	"github.com/drover-cm/drover/modules/contract"
)

var rootSchema = &hcl.BodySchema{
	Blocks: []hcl.BlockHeaderSchema{
		{Type: "variable", LabelNames: []string{"name"}},
		{Type: "locals"},
		{Type: "play", LabelNames: []string{"name"}},
		{Type: "provision", LabelNames: []string{"type", "name"}},
	},
}

var variableSchema = &hcl.BodySchema{
	Attributes: []hcl.AttributeSchema{
		{Name: "type"}, {Name: "default"}, {Name: "description"}, {Name: "sensitive"},
	},
	Blocks: []hcl.BlockHeaderSchema{{Type: "validation"}},
}

var validationSchema = &hcl.BodySchema{
	Attributes: []hcl.AttributeSchema{
		{Name: "condition", Required: true},
		{Name: "error_message", Required: true},
	},
}

// Meta-arguments of a task: the engine's, peeled off before the module's
// schema decodes the rest.
var taskMetaSchema = &hcl.BodySchema{
	Attributes: []hcl.AttributeSchema{
		{Name: "when"}, {Name: "for_each"}, {Name: "count"}, {Name: "depends_on"},
		{Name: "notify"}, {Name: "sensitive"}, {Name: "become"}, {Name: "become_user"},
		{Name: "run_once"}, {Name: "delegate_to"},
		{Name: "on_failure"}, {Name: "retries"}, {Name: "retry_delay"}, {Name: "until"},
		{Name: "changed_when"}, {Name: "failed_when"},
	},
}

// Meta-arguments of a handler block (around its one task block).
var handlerMetaAttrs = []hcl.AttributeSchema{
	{Name: "when"}, {Name: "sensitive"}, {Name: "become"}, {Name: "become_user"},
	{Name: "on_failure"}, {Name: "retries"}, {Name: "retry_delay"}, {Name: "until"},
	{Name: "changed_when"}, {Name: "failed_when"},
}

// LoadFiles parses and loads the playbook made of the given paths. A path is an
// HCL file or a directory, whose *.hcl files are read in name order. The
// parser is the run's parser: its Files() feed the diagnostic writer.
// modules are the module types tasks may use (modules.Catalog()).
func LoadFiles(p *hclparse.Parser, modules contract.Catalog, paths ...string) (*Playbook, hcl.Diagnostics) {
	return LoadFilesWith(LoadOptions{Parser: p}, modules, paths...)
}

// LoadFilesWith is LoadFiles with the options stacks need (opts.Parser is
// the run's parser, and must be set).
func LoadFilesWith(opts LoadOptions, modules contract.Catalog, paths ...string) (*Playbook, hcl.Diagnostics) {
	p := opts.Parser
	var diags hcl.Diagnostics
	var files []string
	fromDir := map[string]bool{} // found by listing a directory
	for _, path := range paths {
		st, err := os.Stat(path)
		if err != nil {
			diags = append(diags, &hcl.Diagnostic{
				Severity: hcl.DiagError,
				Summary:  "Cannot read playbook",
				Detail:   fmt.Sprintf("%v. Give the path of an .hcl playbook file or of a directory holding them.", err),
			})
			continue
		}
		if !st.IsDir() {
			files = append(files, path)
			continue
		}
		matches := hclFiles(path)
		if len(matches) == 0 {
			diags = append(diags, &hcl.Diagnostic{
				Severity: hcl.DiagError,
				Summary:  "No playbook files",
				Detail:   fmt.Sprintf("The directory %s has no *.hcl files.", path),
			})
		}
		files = append(files, matches...)
		for _, m := range matches {
			fromDir[m] = true
		}
	}
	if diags.HasErrors() {
		return nil, diags
	}
	var hclFiles []*hcl.File
	for _, f := range files {
		hf, ds := p.ParseHCLFile(f)
		diags = append(diags, ds...)
		if hf != nil && fromDir[f] && looksLikeInventory(hf) {
			continue // an inventory kept beside the playbook
		}
		if hf != nil {
			hclFiles = append(hclFiles, hf)
		}
	}
	if diags.HasErrors() {
		return nil, diags
	}
	dir := "."
	if len(files) > 0 {
		dir = filepath.Dir(files[0])
	}
	if abs, err := filepath.Abs(dir); err == nil {
		dir = abs
	}
	pb, ds := LoadWith(opts, modules, dir, hclFiles...)
	return pb, append(diags, ds...)
}

// Load decodes parsed playbook files. dir is the playbook root (see
// Playbook.Dir). The result is nil only when nothing could be decoded; with
// errors it holds what could be, for tools that want partial results.
func Load(modules contract.Catalog, dir string, files ...*hcl.File) (*Playbook, hcl.Diagnostics) {
	return LoadWith(LoadOptions{}, modules, dir, files...)
}

// LoadWith is Load with the options stacks need.
func LoadWith(opts LoadOptions, modules contract.Catalog, dir string, files ...*hcl.File) (*Playbook, hcl.Diagnostics) {
	pb := &Playbook{
		Dir:        dir,
		AllowLocal: opts.AllowLocal,
		Variables:  map[string]*Variable{},
		Locals:     map[string]*Local{},
		modules:    modules,
	}
	var diags hcl.Diagnostics
	for _, f := range files {
		fileDir := dir
		if fn := f.Body.MissingItemRange().Filename; fn != "" {
			if abs, err := filepath.Abs(filepath.Dir(fn)); err == nil {
				fileDir = abs
			}
		}
		if rng, ok := inventoryBlock(f); ok {
			diags = append(diags, &hcl.Diagnostic{
				Severity: hcl.DiagError,
				Summary:  "Inventory file given as a playbook",
				Detail:   "This file declares hosts or groups: it is an inventory. Pass it with -i, and the playbook (variable, locals and play blocks) as the argument.",
				Subject:  rng.Ptr(),
			})
			continue
		}
		if d := runbookInPlaybook(f); d != nil {
			diags = append(diags, d)
			continue
		}
		content, ds := f.Body.Content(rootSchema)
		diags = append(diags, ds...)
		for _, b := range content.Blocks {
			switch b.Type {
			case "variable", "locals":
				diags = append(diags, pb.addDeclarations(b)...)
			case "play":
				pl, ds := decodePlay(modules, b, fileDir)
				diags = append(diags, ds...)
				if pl == nil {
					continue
				}
				for _, prev := range pb.Plays {
					if prev.Name == pl.Name {
						diags = append(diags, duplicate("play", pl.Name, prev.DeclRange, b.LabelRanges[0]))
					}
				}
				pb.Plays = append(pb.Plays, pl)
			case "provision":
				diags = append(diags, pb.addProvision(b)...)
			}
		}
	}
	diags = append(diags, loadStacks(pb, opts)...)
	diags = append(diags, checkReferences(pb)...)
	for _, pl := range pb.Plays {
		flatten(pl)
		if _, ds := PlayGraph(pl); ds.HasErrors() {
			diags = append(diags, ds...)
		}
	}
	return pb, diags
}

func sortedAttrs(attrs hcl.Attributes) []*hcl.Attribute {
	out := make([]*hcl.Attribute, 0, len(attrs))
	for _, a := range attrs {
		out = append(out, a)
	}
	slices.SortFunc(out, func(a, b *hcl.Attribute) int {
		if a.Range.Filename != b.Range.Filename {
			return strings.Compare(a.Range.Filename, b.Range.Filename)
		}
		return a.Range.Start.Byte - b.Range.Start.Byte
	})
	return out
}

func duplicate(what, name string, prev, cur hcl.Range) *hcl.Diagnostic {
	return &hcl.Diagnostic{
		Severity: hcl.DiagError,
		Summary:  fmt.Sprintf("Duplicate %s %q", what, name),
		Detail:   fmt.Sprintf("A %s named %q was already declared at %s. Names must be unique.", what, name, prev),
		Subject:  cur.Ptr(),
	}
}

func decodeVariable(b *hcl.Block) (*Variable, hcl.Diagnostics) {
	v := &Variable{Name: b.Labels[0], Type: cty.DynamicPseudoType, DeclRange: b.DefRange}
	diags := checkName("variable", b.Labels[0], b.LabelRanges[0])
	content, ds := b.Body.Content(variableSchema)
	diags = append(diags, ds...)
	if a, ok := content.Attributes["description"]; ok {
		diags = append(diags, staticString(a, &v.Description)...)
	}
	if a, ok := content.Attributes["sensitive"]; ok {
		val, ds := a.Expr.Value(nil)
		diags = append(diags, ds...)
		if !ds.HasErrors() {
			if b, err := convert.Convert(val, cty.Bool); err != nil || b.IsNull() {
				diags = append(diags, attrErr(a, "Invalid sensitive value", "sensitive must be true or false."))
			} else {
				v.Sensitive = b.True()
			}
		}
	}
	if a, ok := content.Attributes["type"]; ok {
		ty, defaults, ds := typeexpr.TypeConstraintWithDefaults(a.Expr)
		diags = append(diags, ds...)
		if !ds.HasErrors() {
			v.Type, v.TypeDefaults = ty, defaults
		}
	}
	if a, ok := content.Attributes["default"]; ok {
		val, ds := a.Expr.Value(nil)
		diags = append(diags, ds...)
		if !ds.HasErrors() {
			cv, err := v.Convert(val)
			if err != nil {
				diags = append(diags, &hcl.Diagnostic{
					Severity: hcl.DiagError,
					Summary:  "Invalid default value for variable",
					Detail:   fmt.Sprintf("This default value is not compatible with the variable's type constraint %s: %s.", typeexpr.TypeString(v.Type), err),
					Subject:  a.Expr.Range().Ptr(),
				})
			} else {
				v.Default = cv
			}
		}
	}
	for _, vb := range content.Blocks {
		vc, ds := vb.Body.Content(validationSchema)
		diags = append(diags, ds...)
		if ds.HasErrors() {
			continue
		}
		val := &Validation{Condition: vc.Attributes["condition"].Expr, ErrorMessage: vc.Attributes["error_message"].Expr, DeclRange: vb.DefRange}
		for _, tr := range val.Condition.Variables() {
			if tr.RootName() != "var" || len(tr) < 2 || traverseName(tr[1]) != v.Name {
				diags = append(diags, &hcl.Diagnostic{
					Severity: hcl.DiagError,
					Summary:  "Invalid reference in variable validation",
					Detail:   fmt.Sprintf("The condition of a validation may refer only to the variable it validates, var.%s.", v.Name),
					Subject:  tr.SourceRange().Ptr(),
				})
			}
		}
		v.Validations = append(v.Validations, val)
	}
	return v, diags
}

func staticString(a *hcl.Attribute, out *string) hcl.Diagnostics {
	val, diags := a.Expr.Value(nil)
	if diags.HasErrors() {
		return diags
	}
	s, err := convert.Convert(val, cty.String)
	if err != nil || s.IsNull() {
		return hcl.Diagnostics{attrErr(a, "Invalid "+a.Name, a.Name+" must be a string.")}
	}
	*out = s.AsString()
	return nil
}

func attrErr(a *hcl.Attribute, summary, detail string) *hcl.Diagnostic {
	return &hcl.Diagnostic{Severity: hcl.DiagError, Summary: summary, Detail: detail, Subject: a.Expr.Range().Ptr()}
}

func checkName(what, name string, rng hcl.Range) hcl.Diagnostics {
	if hclsyntax.ValidIdentifier(name) {
		return nil
	}
	return hcl.Diagnostics{{
		Severity: hcl.DiagError,
		Summary:  fmt.Sprintf("Invalid %s name", what),
		Detail:   fmt.Sprintf("%q is not a valid name: a name starts with a letter or underscore and holds only letters, digits, underscores and dashes.", name),
		Subject:  rng.Ptr(),
	}}
}

func decodePlay(modules contract.Catalog, b *hcl.Block, dir string) (*Play, hcl.Diagnostics) {
	pl := &Play{Name: b.Labels[0], DeclRange: b.DefRange}
	diags := checkName("play", pl.Name, b.LabelRanges[0])
	attrs := []hcl.AttributeSchema{{Name: "hosts", Required: true}, {Name: "become"}, {Name: "become_user"}, {Name: "serial"}, {Name: "max_fail"}}
	content, ds := decodeUnit(modules, b.Body, dir, pl, attrs, nil)
	diags = append(diags, ds...)
	pl.Hosts = attrExpr(content, "hosts")
	pl.Become = attrExpr(content, "become")
	pl.BecomeUser = attrExpr(content, "become_user")
	pl.Serial = attrExpr(content, "serial")
	pl.MaxFail = attrExpr(content, "max_fail")
	return pl, diags
}

// decodeUnit decodes the tasks, handlers and stack calls of a body (a
// play's, or a stack file's) into pl. attrs and blocks are what else the
// body may hold: their content is returned for the caller.
func decodeUnit(modules contract.Catalog, body hcl.Body, dir string, pl *Play, attrs []hcl.AttributeSchema, blocks []hcl.BlockHeaderSchema) (*hcl.BodyContent, hcl.Diagnostics) {
	schema, diags := itemSchema(modules, body, &hcl.BodySchema{
		Attributes: attrs,
		Blocks: append([]hcl.BlockHeaderSchema{
			{Type: "handler", LabelNames: []string{"name"}},
			{Type: "stack", LabelNames: []string{"name"}},
			{Type: "block", LabelNames: []string{"name"}},
		}, blocks...),
	})
	content, ds := body.Content(schema)
	diags = append(diags, ds...)
	var rest []*hcl.Block
	for _, blk := range content.Blocks {
		switch blk.Type {
		case "handler":
			h, ds := decodeHandler(modules, blk, dir)
			diags = append(diags, ds...)
			if h == nil {
				continue
			}
			if prev := pl.Handler(h.Name); prev != nil {
				diags = append(diags, duplicate("handler", h.Name, prev.DeclRange, blk.LabelRanges[0]))
				continue
			}
			pl.Handlers = append(pl.Handlers, h)
			continue
		case "stack":
			c, ds := decodeCall(blk, dir, len(pl.Tasks))
			diags = append(diags, ds...)
			for _, prev := range pl.Calls {
				if prev.Name == c.Name {
					diags = append(diags, duplicate("stack call", c.Name, prev.DeclRange, c.NameRange))
				}
			}
			pl.Calls = append(pl.Calls, c)
			continue
		}
		if _, ok := modules.Lookup(blk.Type); !ok && blk.Type != "block" {
			if isOwn(blocks, blk.Type) {
				rest = append(rest, blk) // the caller's
			}
			continue // an unknown module is reported above
		}
		// A task, or a block of them (block.go), in file order.
		diags = append(diags, decodeItems(modules, pl, hcl.Blocks{blk}, dir, nil)...)
	}
	content.Blocks = rest
	return content, diags
}

func isOwn(blocks []hcl.BlockHeaderSchema, typ string) bool {
	for _, b := range blocks {
		if b.Type == typ {
			return true
		}
	}
	return false
}

func attrExpr(c *hcl.BodyContent, name string) hcl.Expression {
	if a, ok := c.Attributes[name]; ok {
		return a.Expr
	}
	return nil
}

func unknownModule(modules contract.Catalog, typ string, rng hcl.Range) *hcl.Diagnostic {
	var names []string
	for _, m := range modules.All() {
		names = append(names, m.Spec().Name)
	}
	detail := fmt.Sprintf("There is no module %q.", typ)
	if s := Suggest(typ, append(names, "handler")); s != "" {
		detail += fmt.Sprintf(" Did you mean %q?", s)
	}
	detail += ` Run "drover modules" to list every module.`
	return &hcl.Diagnostic{
		Severity: hcl.DiagError,
		Summary:  "Unknown module type",
		Detail:   detail,
		Subject:  rng.Ptr(),
	}
}

// Suggest returns the name in names nearest to given, or "" when none is
// close enough to be a likely typo.
func Suggest(given string, names []string) string {
	best, bestDist := "", 3
	for _, n := range names {
		if d := levenshtein.Distance(given, n, nil); d < bestDist {
			best, bestDist = n, d
		}
	}
	return best
}

func looksLikeInventory(f *hcl.File) bool {
	_, ok := inventoryBlock(f)
	return ok
}

// inventoryBlock returns the range of the first inventory block of a file
// that has no playbook block.
func inventoryBlock(f *hcl.File) (hcl.Range, bool) {
	body, ok := f.Body.(*hclsyntax.Body)
	if !ok {
		return hcl.Range{}, false
	}
	var first *hclsyntax.Block
	for _, b := range body.Blocks {
		switch b.Type {
		case "host", "group", "defaults":
			if first == nil {
				first = b
			}
		case "variable", "locals", "play":
			return hcl.Range{}, false
		}
	}
	if first == nil {
		return hcl.Range{}, false
	}
	return first.TypeRange, true
}

// addDeclarations adds a variable block or a locals block to pb: the parts
// that playbooks and runbooks share. A name declared twice is an error that
// points at both places.
func (pb *Playbook) addDeclarations(b *hcl.Block) hcl.Diagnostics {
	var diags hcl.Diagnostics
	switch b.Type {
	case "variable":
		v, ds := decodeVariable(b)
		diags = append(diags, ds...)
		if v == nil {
			return diags
		}
		if prev, dup := pb.Variables[v.Name]; dup {
			return append(diags, duplicate("variable", v.Name, prev.DeclRange, b.LabelRanges[0]))
		}
		pb.Variables[v.Name] = v
		pb.VariableOrder = append(pb.VariableOrder, v.Name)
	case "locals":
		attrs, ds := b.Body.JustAttributes()
		diags = append(diags, ds...)
		for _, a := range sortedAttrs(attrs) {
			if prev, dup := pb.Locals[a.Name]; dup {
				diags = append(diags, duplicate("local value", a.Name, prev.DeclRange, a.NameRange))
				continue
			}
			pb.Locals[a.Name] = &Local{Name: a.Name, Expr: a.Expr, DeclRange: a.Range}
			pb.LocalOrder = append(pb.LocalOrder, a.Name)
		}
	}
	return diags
}
