package inventory

import (
	"fmt"
	"path/filepath"
	"time"

	"github.com/hashicorp/hcl/v2"
	"github.com/hashicorp/hcl/v2/gohcl"
	"github.com/hashicorp/hcl/v2/hclparse"
	"github.com/zclconf/go-cty/cty"
	"github.com/zclconf/go-cty/cty/convert"
)

var hclFileSchema = &hcl.BodySchema{
	Blocks: []hcl.BlockHeaderSchema{
		{Type: "defaults"},
		{Type: "host", LabelNames: []string{"name"}},
		{Type: "group", LabelNames: []string{"name"}},
		{Type: "source", LabelNames: []string{"provider"}},
	},
}

// blockSchema is the schema of a block that takes the connection settings
// of scope in (fields.go), vars, and extra.
func blockSchema(in scope, extra ...string) *hcl.BodySchema {
	sc := &hcl.BodySchema{}
	for _, n := range extra {
		sc.Attributes = append(sc.Attributes, hcl.AttributeSchema{Name: n})
	}
	for _, f := range hclFields(in) {
		sc.Attributes = append(sc.Attributes, hcl.AttributeSchema{Name: f.name})
	}
	sc.Attributes = append(sc.Attributes, hcl.AttributeSchema{Name: "vars"})
	return sc
}

var (
	defaultsSchema = blockSchema(inAll)
	hostSchema     = blockSchema(inHost, "groups")
	groupSchema    = blockSchema(inAll, "hosts", "children", "priority")
)

// loadHCL reads one drover HCL inventory file into m.
func loadHCL(p *hclparse.Parser, m *model, path string) hcl.Diagnostics {
	f, diags := p.ParseHCLFile(path)
	if diags.HasErrors() {
		return diags
	}
	content, d := f.Body.Content(hclFileSchema)
	diags = append(diags, d...)
	dir := filepath.Dir(path)
	for _, b := range content.Blocks {
		switch b.Type {
		case "defaults":
			if m.defRange != nil {
				diags = append(diags, &hcl.Diagnostic{
					Severity: hcl.DiagError,
					Summary:  "Duplicate defaults block",
					Detail:   fmt.Sprintf("A defaults block is already defined at %s. Merge the two: one defaults block applies to every host of every inventory file.", posString(*m.defRange)),
					Subject:  b.DefRange.Ptr(),
				})
				continue
			}
			c, d := b.Body.Content(defaultsSchema)
			diags = append(diags, d...)
			s := &settings{}
			diags = append(diags, decodeSettings(c.Attributes, inAll, s, dir)...)
			m.defaults = s
			m.defRange = b.DefRange.Ptr()
		case "host":
			diags = append(diags, decodeHostBlock(m, b, dir)...)
		case "group":
			diags = append(diags, decodeGroupBlock(m, b, dir)...)
		case "source":
			diags = append(diags, decodeSourceBlock(m, b)...)
		}
	}
	return diags
}

func decodeHostBlock(m *model, b *hcl.Block, dir string) hcl.Diagnostics {
	name := b.Labels[0]
	nameRng := b.LabelRanges[0]
	var diags hcl.Diagnostics
	if name == "" {
		return hcl.Diagnostics{{Severity: hcl.DiagError, Summary: "Empty host name", Detail: "A host needs a name.", Subject: &nameRng}}
	}
	c, d := b.Body.Content(hostSchema)
	diags = append(diags, d...)
	if old, ok := m.hosts[name]; ok && old.fromHCL {
		return append(diags, &hcl.Diagnostic{
			Severity: hcl.DiagError,
			Summary:  "Duplicate host",
			Detail:   fmt.Sprintf("Host %q is already defined at %s. Each host is defined once; remove or rename one of them.", name, posString(old.rng)),
			Subject:  &nameRng,
			Context:  b.DefRange.Ptr(),
		})
	}
	h := m.host(name, srcString(b.DefRange), b.DefRange)
	h.fromHCL = true
	h.rng = b.DefRange
	h.src = srcString(b.DefRange)
	var s settings
	diags = append(diags, decodeSettings(c.Attributes, inHost, &s, dir)...)
	h.set.merge(&s)
	if a, ok := c.Attributes["groups"]; ok {
		names, d := decodeNameList(a)
		diags = append(diags, d...)
		for _, n := range names {
			if n.name == GroupAll {
				continue
			}
			m.addMember(m.group(n.name, srcString(n.rng), n.rng), name)
		}
	}
	return diags
}

func decodeGroupBlock(m *model, b *hcl.Block, dir string) hcl.Diagnostics {
	name := b.Labels[0]
	nameRng := b.LabelRanges[0]
	var diags hcl.Diagnostics
	if name == "" {
		return hcl.Diagnostics{{Severity: hcl.DiagError, Summary: "Empty group name", Detail: "A group needs a name.", Subject: &nameRng}}
	}
	c, d := b.Body.Content(groupSchema)
	diags = append(diags, d...)
	if old, ok := m.groups[name]; ok && old.fromHCL {
		return append(diags, &hcl.Diagnostic{
			Severity: hcl.DiagError,
			Summary:  "Duplicate group",
			Detail:   fmt.Sprintf("Group %q is already defined at %s. Each group is defined once; merge the two blocks.", name, posString(old.rng)),
			Subject:  &nameRng,
			Context:  b.DefRange.Ptr(),
		})
	}
	g := m.group(name, srcString(b.DefRange), b.DefRange)
	g.fromHCL = true
	g.rng = b.DefRange
	g.src = srcString(b.DefRange)
	var s settings
	diags = append(diags, decodeSettings(c.Attributes, inAll, &s, dir)...)
	g.set.merge(&s)
	if a, ok := c.Attributes["priority"]; ok {
		diags = append(diags, decodeExpr(a.Expr, nil, &g.priority)...)
	}
	if a, ok := c.Attributes["hosts"]; ok {
		names, d := decodeNameList(a)
		diags = append(diags, d...)
		for _, n := range names {
			if g.hostRefs == nil {
				g.hostRefs = map[string]hcl.Range{}
			}
			if _, seen := g.hostRefs[n.name]; !seen {
				g.hostRefs[n.name] = n.rng
			}
			m.addMember(g, n.name)
		}
	}
	if a, ok := c.Attributes["children"]; ok {
		names, d := decodeNameList(a)
		diags = append(diags, d...)
		for _, n := range names {
			if g.childRefs == nil {
				g.childRefs = map[string]hcl.Range{}
			}
			if _, seen := g.childRefs[n.name]; !seen {
				g.childRefs[n.name] = n.rng
			}
			m.addChild(g, n.name)
		}
	}
	return diags
}

// decodeSettings decodes the connection attributes of a block of scope in
// and its vars. Relative paths are relative to the file's directory.
func decodeSettings(attrs hcl.Attributes, in scope, s *settings, dir string) hcl.Diagnostics {
	var diags hcl.Diagnostics
	for _, f := range hclFields(in) {
		if a, ok := attrs[f.name]; ok {
			diags = append(diags, f.decodeHCL(a, s, dir)...)
		}
	}
	if a, ok := attrs["vars"]; ok {
		v, d := a.Expr.Value(nil)
		diags = append(diags, d...)
		if !d.HasErrors() && !v.IsNull() {
			if !v.Type().IsObjectType() && !v.Type().IsMapType() {
				diags = append(diags, attrErr(a, "Invalid vars", "vars must be an object, such as { env = \"prod\" }."))
			} else {
				for it := v.ElementIterator(); it.Next(); {
					k, ev := it.Element()
					s.setVar(k.AsString(), ev)
				}
			}
		}
	}
	return diags
}

type namedRef struct {
	name string
	rng  hcl.Range
}

// decodeNameList decodes a list of names, keeping each element's range.
func decodeNameList(a *hcl.Attribute) ([]namedRef, hcl.Diagnostics) {
	exprs, diags := hcl.ExprList(a.Expr)
	if diags.HasErrors() {
		var names []string
		if d := decodeExpr(a.Expr, nil, &names); d.HasErrors() {
			return nil, d
		}
		out := make([]namedRef, len(names))
		for i, n := range names {
			out[i] = namedRef{n, a.Expr.Range()}
		}
		return out, nil
	}
	var out []namedRef
	for _, e := range exprs {
		var n string
		if d := decodeExpr(e, nil, &n); d.HasErrors() {
			diags = append(diags, d...)
			continue
		}
		out = append(out, namedRef{n, e.Range()})
	}
	return out, diags
}

func stringOrList(v cty.Value) ([]string, error) {
	if v.IsNull() {
		return nil, fmt.Errorf("null")
	}
	if s, err := convert.Convert(v, cty.String); err == nil && v.Type().IsPrimitiveType() {
		return []string{s.AsString()}, nil
	}
	l, err := convert.Convert(v, cty.List(cty.String))
	if err != nil || l.IsNull() {
		return nil, fmt.Errorf("not a list of strings")
	}
	var out []string
	for it := l.ElementIterator(); it.Next(); {
		_, e := it.Element()
		if e.IsNull() {
			return nil, fmt.Errorf("null element")
		}
		out = append(out, e.AsString())
	}
	return out, nil
}

// durationValue accepts a Go duration string ("10s", "1m30s") or a number of
// seconds, for the attribute name.
func durationValue(name string, v cty.Value) (time.Duration, error) {
	if v.IsNull() {
		return 0, fmt.Errorf("%s must not be null", name)
	}
	if v.Type() == cty.Number {
		f, _ := v.AsBigFloat().Float64()
		if f < 0 {
			return 0, fmt.Errorf("%s must not be negative", name)
		}
		return time.Duration(f * float64(time.Second)), nil
	}
	if v.Type() != cty.String {
		return 0, fmt.Errorf("%s must be a duration such as \"10s\" or a number of seconds", name)
	}
	d, err := time.ParseDuration(v.AsString())
	if err != nil || d < 0 {
		return 0, fmt.Errorf("%s %q is not a duration such as \"10s\" or \"1m30s\"", name, v.AsString())
	}
	return d, nil
}

func attrErr(a *hcl.Attribute, summary, detail string) *hcl.Diagnostic {
	return &hcl.Diagnostic{Severity: hcl.DiagError, Summary: summary, Detail: detail, Subject: a.Expr.Range().Ptr(), Context: a.Range.Ptr()}
}

// posString is "file:line,col" for messages that point at another place.
func posString(r hcl.Range) string {
	return fmt.Sprintf("%s:%d,%d", r.Filename, r.Start.Line, r.Start.Column)
}

// srcString is "file:line", the form Host.Source and Group.Source use.
func srcString(r hcl.Range) string {
	return fmt.Sprintf("%s:%d", r.Filename, r.Start.Line)
}

func hasPrefixAny(s string, prefixes ...string) bool {
	for _, p := range prefixes {
		if len(s) >= len(p) && s[:len(p)] == p {
			return true
		}
	}
	return false
}

// decodeExpr decodes a static expression into target, reporting an
// evaluation error (such as a variable reference) once rather than also as
// an unsuitable value.
func decodeExpr(expr hcl.Expression, _ *hcl.EvalContext, target any) hcl.Diagnostics {
	if _, diags := expr.Value(nil); diags.HasErrors() {
		return diags
	}
	return gohcl.DecodeExpression(expr, nil, target)
}
