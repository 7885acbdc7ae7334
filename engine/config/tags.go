package config

import (
	"fmt"
	"slices"
	"sort"
	"strings"

	"github.com/hashicorp/hcl/v2"
	"github.com/zclconf/go-cty/cty"
	"github.com/zclconf/go-cty/cty/convert"
)

// Special tags, as in Ansible: a task tagged "always" runs unless
// --skip-tags names always (or another of its tags); a task tagged "never"
// runs only when --tags names one of its tags.
const (
	TagAlways = "always"
	TagNever  = "never"
)

// decodeTags decodes a tags attribute: a static list of names. Tags are
// read before any host is known (they decide which tasks are looked at), so
// they may not use variables.
func decodeTags(a *hcl.Attribute) ([]string, hcl.Diagnostics) {
	bad := func(detail string) hcl.Diagnostics {
		return hcl.Diagnostics{attrErr(a, "Invalid tags", detail)}
	}
	v, diags := a.Expr.Value(nil)
	if diags.HasErrors() {
		return nil, bad(`tags must be a list of names written out, such as tags = ["deploy", "web"]: they are read before variables and hosts are known.`)
	}
	lv, err := convert.Convert(v, cty.List(cty.String))
	if err != nil || lv.IsNull() || !lv.IsWhollyKnown() {
		return nil, bad(`tags must be a list of names, such as tags = ["deploy", "web"].`)
	}
	var tags []string
	for _, e := range lv.AsValueSlice() {
		if e.IsNull() {
			return nil, bad("A tag may not be null.")
		}
		tag := e.AsString()
		if tag == "" || strings.ContainsAny(tag, ", \t\n") {
			return nil, bad(fmt.Sprintf("Tag %q is not a name: tags may not be empty or hold commas or spaces (--tags a,b splits on commas).", tag))
		}
		if !slices.Contains(tags, tag) {
			tags = append(tags, tag)
		}
	}
	return tags, nil
}

// mergeTags is own followed by the inherited tags it lacks.
func mergeTags(own, inherited []string) []string {
	out := slices.Clone(own)
	for _, t := range inherited {
		if !slices.Contains(out, t) {
			out = append(out, t)
		}
	}
	return out
}

// inheritTags gives every task of a flattened play the tags of the blocks
// and stack calls it is in (innermost first) and the play's, after its own.
func inheritTags(pl *Play) {
	for _, t := range pl.Tasks {
		for i := len(t.Blocks) - 1; i >= 0; i-- {
			t.Tags = mergeTags(t.Tags, t.Blocks[i].Block.Tags)
		}
		for c := t.Call; c != nil; c = c.Parent {
			t.Tags = mergeTags(t.Tags, c.Tags)
		}
		t.Tags = mergeTags(t.Tags, pl.Tags)
	}
}

// Tags returns every tag the playbook's tasks have, sorted.
func (pb *Playbook) Tags() []string {
	seen := map[string]bool{}
	for _, pl := range pb.Plays {
		for _, t := range pl.Tasks {
			for _, tag := range t.Tags {
				seen[tag] = true
			}
		}
	}
	out := make([]string, 0, len(seen))
	for tag := range seen {
		out = append(out, tag)
	}
	sort.Strings(out)
	return out
}
