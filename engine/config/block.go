// Failure handling: block/rescue/always groups, and the task meta-arguments
// that decide what a task's result means (on_failure, retries, retry_delay,
// until, changed_when, failed_when). engine/run executes them.

package config

import (
	"fmt"
	"strings"

	"github.com/hashicorp/hcl/v2"
	"github.com/hashicorp/hcl/v2/hclsyntax"
	"github.com/zclconf/go-cty/cty"

	"github.com/drover-cm/drover/engine/graph"
	"github.com/drover-cm/drover/modules/contract"
)

// Block is a `block "name" { tasks…  rescue { tasks… }  always { tasks… } }`
// in a play, after Ansible's block: when a task of the body fails, the rest
// of the body is skipped and the rescue tasks run (the host is not failed if
// they succeed); the always tasks run in every case.
type Block struct {
	Name string
	// Path are the blocks around this one, outermost first (empty for a
	// block directly in the play).
	Path []BlockPos
	// HasRescue and HasAlways say whether the sections hold any task.
	HasRescue, HasAlways bool
	// When, nil when not set, guards every task of the block, its rescue
	// and always included (as Ansible's block when does): it is and-ed
	// before each task's own when (blockWhen). Tags are given to every
	// task of the block, sections included (inheritTags).
	When      hcl.Expression
	Tags      []string
	DeclRange hcl.Range
}

// Addr is the block's address: block.NAME, behind its enclosing blocks.
func (b *Block) Addr() string { return blockPrefix(b.Path) + "block." + b.Name }

// Section is a part of a block.
type Section uint8

const (
	SectionBody Section = iota
	SectionRescue
	SectionAlways
)

// BlockPos is a block and the section of it something is in.
type BlockPos struct {
	Block   *Block
	Section Section
}

// blockPrefix is what the address of something at path starts with:
// "block.deploy.", "block.deploy.rescue.", "block.a.always.block.b.".
func blockPrefix(path []BlockPos) string {
	if len(path) == 0 {
		return ""
	}
	var b strings.Builder
	for _, p := range path {
		b.WriteString("block." + p.Block.Name + ".")
		switch p.Section {
		case SectionRescue:
			b.WriteString("rescue.")
		case SectionAlways:
			b.WriteString("always.")
		}
	}
	return b.String()
}

// Control reports whether the task has a meta-argument that judges its
// result (failed_when, until) or runs it again (retries): such a task
// runs in a remote batch of its own, so that it can be judged, and run
// again, alone.
func (t *Task) Control() bool {
	return t != nil && (t.FailedWhen != nil || t.Until != nil || t.Retries != nil)
}

// resultMeta are the meta-arguments that are expressions over the task's
// own result (self.stdout, self.stderr, self.exit_code).
var resultMeta = []string{"changed_when", "failed_when", "until"}

// decodeItems decodes the tasks and blocks of a play body or of a block
// section (path says where) into pl.
func decodeItems(modules contract.Catalog, pl *Play, blocks hcl.Blocks, dir string, path []BlockPos) hcl.Diagnostics {
	var diags hcl.Diagnostics
	for _, blk := range blocks {
		if blk.Type == "block" {
			diags = append(diags, decodeBlock(modules, pl, blk, dir, path)...)
			continue
		}
		m, ok := modules.Lookup(blk.Type)
		if !ok {
			continue // reported by itemSchema
		}
		t := &Task{
			Type: blk.Type, Name: blk.Labels[0], Module: m, Dir: dir, Blocks: path,
			DeclRange: blk.DefRange, TypeRange: blk.TypeRange, NameRange: blk.LabelRanges[0],
		}
		diags = append(diags, checkName("task", t.Name, t.NameRange)...)
		diags = append(diags, decodeTaskBody(t, blk.Body, taskMetaSchema)...)
		t.When = withBlockWhen(path, t.When)
		if prev := pl.Task(t.Type, t.Name); prev != nil {
			diags = append(diags, duplicate(t.Type+" task", t.Name, prev.DeclRange, t.NameRange))
			continue
		}
		pl.Tasks = append(pl.Tasks, t)
	}
	return diags
}

// itemSchema is the schema of a body holding tasks: a block per module
// type plus extra. Unknown block types get drover's own message (with the
// nearest module name) and are then accepted, so that hcl does not report
// them a second time.
func itemSchema(modules contract.Catalog, body hcl.Body, extra *hcl.BodySchema) (*hcl.BodySchema, hcl.Diagnostics) {
	schema := &hcl.BodySchema{Attributes: extra.Attributes, Blocks: append([]hcl.BlockHeaderSchema(nil), extra.Blocks...)}
	known := map[string]bool{}
	for _, b := range extra.Blocks {
		known[b.Type] = true
	}
	for _, m := range modules.All() {
		name := m.Spec().Name
		known[name] = true
		schema.Blocks = append(schema.Blocks, hcl.BlockHeaderSchema{Type: name, LabelNames: []string{"name"}})
	}
	var diags hcl.Diagnostics
	if sb, ok := body.(*hclsyntax.Body); ok {
		for _, blk := range sb.Blocks {
			if known[blk.Type] {
				continue
			}
			known[blk.Type] = true
			if d := notInBlock(blk); d != nil {
				diags = append(diags, d)
			} else {
				diags = append(diags, unknownModule(modules, blk.Type, blk.TypeRange))
			}
			schema.Blocks = append(schema.Blocks, hcl.BlockHeaderSchema{Type: blk.Type, LabelNames: []string{"name"}})
		}
	}
	return schema, diags
}

// notInBlock is the error for a stack call or a handler written inside a
// block (the only bodies whose schema lacks them), nil for other types.
func notInBlock(blk *hclsyntax.Block) *hcl.Diagnostic {
	var summary, detail string
	switch blk.Type {
	case "stack":
		summary = "Stack call inside a block"
		detail = fmt.Sprintf("Stacks can't be called inside a block: call stack %q at the play's level, outside the block, or write its tasks in the block. (A block groups tasks of its play or stack; it cannot rescue a call's tasks.)", label(blk))
	case "handler":
		summary = "Handler inside a block"
		detail = "Handlers run at the end of the play, not in a block's order: declare the handler at the play's level; tasks in the block notify it as usual."
	default:
		return nil
	}
	return &hcl.Diagnostic{Severity: hcl.DiagError, Summary: summary,
		Detail: detail, Subject: blk.DefRange().Ptr()}
}

func label(blk *hclsyntax.Block) string {
	if len(blk.Labels) > 0 {
		return blk.Labels[0]
	}
	return ""
}

var (
	blockSchema = &hcl.BodySchema{
		Attributes: []hcl.AttributeSchema{{Name: "when"}, {Name: "tags"}},
		Blocks:     []hcl.BlockHeaderSchema{{Type: "block", LabelNames: []string{"name"}}, {Type: "rescue"}, {Type: "always"}},
	}
	sectionSchema = &hcl.BodySchema{Blocks: []hcl.BlockHeaderSchema{{Type: "block", LabelNames: []string{"name"}}}}
)

func decodeBlock(modules contract.Catalog, pl *Play, b *hcl.Block, dir string, path []BlockPos) hcl.Diagnostics {
	blk := &Block{Name: b.Labels[0], Path: path, DeclRange: b.DefRange}
	diags := checkName("block", blk.Name, b.LabelRanges[0])
	for _, prev := range pl.Blocks {
		if prev.Name == blk.Name {
			return append(diags, duplicate("block", blk.Name, prev.DeclRange, b.LabelRanges[0]))
		}
	}
	pl.Blocks = append(pl.Blocks, blk)
	schema, ds := itemSchema(modules, b.Body, blockSchema)
	diags = append(diags, ds...)
	content, ds := b.Body.Content(schema)
	diags = append(diags, ds...)
	if a, ok := content.Attributes["when"]; ok {
		blk.When = a.Expr
	}
	if a, ok := content.Attributes["tags"]; ok {
		tags, ds := decodeTags(a)
		diags = append(diags, ds...)
		blk.Tags = tags
	}
	inner := func(sec Section) []BlockPos {
		return append(append([]BlockPos(nil), path...), BlockPos{blk, sec})
	}
	n := len(pl.Tasks)
	var body hcl.Blocks
	var sections []*hcl.Block
	seen := map[string]*hcl.Block{}
	for _, c := range content.Blocks {
		if c.Type != "rescue" && c.Type != "always" {
			body = append(body, c)
			continue
		}
		if prev := seen[c.Type]; prev != nil {
			diags = append(diags, &hcl.Diagnostic{Severity: hcl.DiagError, Summary: "Duplicate " + c.Type,
				Detail:  fmt.Sprintf("Block %q already has a %s section at %s; put all its tasks in one.", blk.Name, c.Type, prev.DefRange),
				Subject: c.DefRange.Ptr()})
			continue
		}
		seen[c.Type] = c
		sections = append(sections, c)
	}
	diags = append(diags, decodeItems(modules, pl, body, dir, inner(SectionBody))...)
	if len(pl.Tasks) == n {
		diags = append(diags, &hcl.Diagnostic{Severity: hcl.DiagError, Summary: "Empty block",
			Detail:  fmt.Sprintf("Block %q has no task outside rescue and always: write the tasks it guards directly in it.", blk.Name),
			Subject: b.DefRange.Ptr()})
	}
	// rescue before always, whichever was written first: that is the order
	// they run in.
	for _, sec := range []Section{SectionRescue, SectionAlways} {
		name := [...]string{"", "rescue", "always"}[sec]
		c := seen[name]
		if c == nil {
			continue
		}
		schema, ds := itemSchema(modules, c.Body, sectionSchema)
		diags = append(diags, ds...)
		content, ds := c.Body.Content(schema)
		diags = append(diags, ds...)
		before := len(pl.Tasks)
		diags = append(diags, decodeItems(modules, pl, content.Blocks, dir, inner(sec))...)
		has := len(pl.Tasks) > before
		if sec == SectionRescue {
			blk.HasRescue = has
		} else {
			blk.HasAlways = has
		}
	}
	return diags
}

// decodeControl decodes on_failure, which is static: whether a failure
// stops the host is known before any host is.
func decodeControl(t *Task, a *hcl.Attribute) hcl.Diagnostics {
	v, diags := a.Expr.Value(nil)
	if diags.HasErrors() || v.IsNull() || !v.Type().Equals(cty.String) {
		return hcl.Diagnostics{attrErr(a, "Invalid on_failure value", `on_failure must be the string "continue" (report the failure as ignored and go on) or "stop" (the default: the host stops).`)}
	}
	switch s := v.AsString(); s {
	case "continue":
		t.OnFailure = s
	case "stop":
	default:
		d := attrErr(a, "Invalid on_failure value", fmt.Sprintf(`on_failure is %q; it must be "continue" or "stop".`, s))
		if sg := Suggest(s, []string{"continue", "stop"}); sg != "" {
			d.Detail += fmt.Sprintf(" Did you mean %q?", sg)
		}
		return hcl.Diagnostics{d}
	}
	return nil
}

// checkResultMeta reports changed_when, failed_when and until on a module
// whose result is not a program's output: such a module decides itself
// whether it changed or failed.
func checkResultMeta(t *Task, attrs hcl.Attributes) hcl.Diagnostics {
	if HasResult(t.Module.Spec()) {
		return nil
	}
	var diags hcl.Diagnostics
	for _, n := range resultMeta {
		if a, ok := attrs[n]; ok {
			diags = append(diags, &hcl.Diagnostic{
				Severity: hcl.DiagError,
				Summary:  "Unsupported " + n,
				Detail:   fmt.Sprintf("%s judges a program's result (self.stdout, self.stderr, self.exit_code); the %s module has none: it decides itself whether it changed or failed. Only command and shell take %s.", n, t.Type, n),
				Subject:  a.NameRange.Ptr(),
			})
		}
	}
	return diags
}

// HasResult reports whether a module's tasks have a program's result
// (stdout, stderr, exit_code) that changed_when, failed_when and until can
// judge.
func HasResult(s *contract.Spec) bool {
	n := 0
	for _, o := range s.Outputs {
		switch o.Name {
		case "stdout", "stderr", "exit_code":
			n++
		}
	}
	return n == 3
}

// SelfAttributes are the attributes of self in changed_when, failed_when
// and until.
var SelfAttributes = []string{"stdout", "stderr", "exit_code"}

// addBlockEdges orders each block's sections: its body before its rescue,
// both before its always, so that the tasks that recover and clean up run
// after what they recover from.
func addBlockEdges(g *graph.Graph[*Task], pl *Play) {
	// From the tasks, not pl.Blocks: a stack's blocks come with its tasks.
	var blocks []*Block
	seen := map[*Block]bool{}
	for _, t := range pl.Tasks {
		for _, p := range t.Blocks {
			if !seen[p.Block] {
				seen[p.Block] = true
				blocks = append(blocks, p.Block)
			}
		}
	}
	for _, b := range blocks {
		var secs [3][]*Task
		for _, t := range pl.Tasks {
			if sec, ok := t.SectionOf(b); ok {
				secs[sec] = append(secs[sec], t)
			}
		}
		for _, pair := range [][2]Section{{SectionBody, SectionRescue}, {SectionBody, SectionAlways}, {SectionRescue, SectionAlways}} {
			for _, from := range secs[pair[0]] {
				for _, to := range secs[pair[1]] {
					g.AddEdge(from, to, "block "+b.Name)
				}
			}
		}
	}
}

// SectionOf reports which section of b the task is in, at any depth.
func (t *Task) SectionOf(b *Block) (Section, bool) {
	for _, p := range t.Blocks {
		if p.Block == b {
			return p.Section, true
		}
	}
	return 0, false
}

// copyBlocks gives copies of a stack's tasks (one call's) blocks of their
// own, so that how a block stands on a host is kept per call.
func copyBlocks(ts []*Task) {
	copies := map[*Block]*Block{}
	var copyPath func(path []BlockPos) []BlockPos
	copyPath = func(path []BlockPos) []BlockPos {
		if len(path) == 0 {
			return path
		}
		out := make([]BlockPos, len(path))
		for i, p := range path {
			c := copies[p.Block]
			if c == nil {
				cp := *p.Block
				cp.Path = copyPath(p.Block.Path)
				c = &cp
				copies[p.Block] = c
			}
			out[i] = BlockPos{c, p.Section}
		}
		return out
	}
	for _, t := range ts {
		t.Blocks = copyPath(t.Blocks)
	}
}
