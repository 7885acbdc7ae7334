package config

import (
	"github.com/hashicorp/hcl/v2"
)

// Provision is a `provision "<type>" "<name>" {}` block: cloud instances to
// create (or find) before the plays run. Its attributes depend on the type
// and are decoded by engine/provision, which knows the providers.
type Provision struct {
	Type string // "digitalocean_droplet", "linode_instance", "aws_instance"
	Name string
	// Count is nil when not set (one instance).
	Count hcl.Expression
	// Body holds the type's attributes, count removed.
	Body      hcl.Body
	DeclRange hcl.Range
	TypeRange hcl.Range
	NameRange hcl.Range
}

// Addr is "type.name".
func (p *Provision) Addr() string { return p.Type + "." + p.Name }

var provisionMetaSchema = &hcl.BodySchema{Attributes: []hcl.AttributeSchema{{Name: "count"}, {Name: "for_each"}}}

func decodeProvision(b *hcl.Block) (*Provision, hcl.Diagnostics) {
	p := &Provision{Type: b.Labels[0], Name: b.Labels[1], DeclRange: b.DefRange, TypeRange: b.LabelRanges[0], NameRange: b.LabelRanges[1]}
	diags := checkName("provision", p.Name, b.LabelRanges[1])
	content, rest, ds := b.Body.PartialContent(provisionMetaSchema)
	diags = append(diags, ds...)
	if a, ok := content.Attributes["count"]; ok {
		p.Count = a.Expr
	}
	if a, ok := content.Attributes["for_each"]; ok {
		// Instances are found again by name: numbered names from count
		// are what keeps a re-apply stable.
		diags = append(diags, &hcl.Diagnostic{
			Severity: hcl.DiagError,
			Summary:  "for_each is not supported in provision blocks",
			Detail:   "A provision block makes numbered instances: use count, and count.index in name (for example name = \"web-${count.index}\"). To vary other attributes per instance, index a list with count.index.",
			Subject:  a.NameRange.Ptr(),
		})
	}
	p.Body = rest
	return p, diags
}

// addProvision adds a decoded provision block, refusing duplicates.
func (pb *Playbook) addProvision(b *hcl.Block) hcl.Diagnostics {
	p, diags := decodeProvision(b)
	for _, prev := range pb.Provisions {
		if prev.Type == p.Type && prev.Name == p.Name {
			return append(diags, duplicate("provision", p.Addr(), prev.DeclRange, b.LabelRanges[1]))
		}
	}
	pb.Provisions = append(pb.Provisions, p)
	return diags
}
