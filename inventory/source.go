package inventory

import (
	"fmt"

	"github.com/hashicorp/hcl/v2"
	"github.com/hashicorp/hcl/v2/gohcl"
)

// Source is a `source "<provider>" {}` block of an HCL inventory: hosts
// listed from a cloud API when the inventory is used (dynamic inventory).
//
//	source "digitalocean" {
//	  tag    = "role:web"   # only instances with this tag (EC2: key=value or key)
//	  groups = ["web"]      # the hosts join these groups (and one named after the provider)
//	}
//
// The inventory package does not talk to clouds: the command lists each
// source's instances and adds them with AddHost.
type Source struct {
	Provider string   // "digitalocean", "linode", "ec2"
	Tag      string   `hcl:"tag,optional"`
	Groups   []string `hcl:"groups,optional"`
	// Endpoint is the API base URL ("" for the provider's own).
	Endpoint string `hcl:"endpoint,optional"`
	// Region is the EC2 region ("" for the AWS configuration's).
	Region string `hcl:"region,optional"`
	// User and Port log in to the hosts (default: the inventory's defaults).
	User      string `hcl:"user,optional"`
	Port      int    `hcl:"port,optional"`
	DeclRange hcl.Range
}

// SourceProviders are the providers a source block may name.
var SourceProviders = []string{"digitalocean", "linode", "ec2"}

// Sources returns the inventory's source blocks, in file order.
func (inv *Inventory) Sources() []Source {
	inv.mu.Lock()
	defer inv.mu.Unlock()
	return append([]Source(nil), inv.model.sources...)
}

func decodeSourceBlock(m *model, b *hcl.Block) hcl.Diagnostics {
	s := Source{Provider: b.Labels[0], DeclRange: b.DefRange}
	known := false
	for _, p := range SourceProviders {
		known = known || p == s.Provider
	}
	if !known {
		return hcl.Diagnostics{{
			Severity: hcl.DiagError,
			Summary:  "Unknown source provider",
			Detail:   fmt.Sprintf("%q is not a cloud drover can list; use digitalocean, linode or ec2.", s.Provider),
			Subject:  b.LabelRanges[0].Ptr(),
		}}
	}
	diags := gohcl.DecodeBody(b.Body, nil, &s)
	if !diags.HasErrors() {
		m.sources = append(m.sources, s)
	}
	return diags
}
