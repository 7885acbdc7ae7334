package provision

import (
	"fmt"
	"regexp"
	"strings"

	"github.com/hashicorp/hcl/v2"
	"github.com/zclconf/go-cty/cty"

	"github.com/drover-cm/drover/cloud"
	"github.com/drover-cm/drover/engine/config"
)

// The providers' rules for names and tags (from their API references), so
// that validate catches what the API would refuse at apply time.
var (
	doNameRE     = regexp.MustCompile(`^[a-zA-Z0-9]?[a-zA-Z0-9.-]*[a-zA-Z0-9]$`)
	doTagRE      = regexp.MustCompile(`^[a-zA-Z0-9_:-]+$`)
	linodeNameRE = regexp.MustCompile(`^[a-zA-Z][a-zA-Z0-9_.-]{1,62}[a-zA-Z0-9]$`)
)

// check applies the provider's rules to the known values of one instance
// of block b (v is its decoded body).
func check(k kind, b *config.Provision, v cty.Value, attrs hcl.Attributes) hcl.Diagnostics {
	var diags hcl.Diagnostics
	bad := func(attr, summary, detail string) {
		diags = append(diags, errAt(attrRange(attrs, attr, b.DeclRange), summary, detail))
	}
	str := func(n string) (string, bool) {
		a := v.GetAttr(n)
		if a.IsNull() || !a.IsKnown() {
			return "", false
		}
		return a.AsString(), true
	}
	if name, ok := str("name"); ok {
		switch k.provider {
		case "digitalocean":
			if len(name) > 255 || !doNameRE.MatchString(name) {
				bad("name", "Invalid droplet name", fmt.Sprintf("%q is not a valid droplet name: use letters, digits, '.' and '-' (a host name), starting and ending with a letter or digit, at most 255 characters.", name))
			}
		case "linode":
			if !linodeNameRE.MatchString(name) || strings.Contains(name, "--") || strings.Contains(name, "__") || strings.Contains(name, "..") {
				bad("name", "Invalid Linode label", fmt.Sprintf("%q is not a valid Linode label: 3 to 64 letters, digits, '-', '_' and '.', starting with a letter, ending with a letter or digit, without '--', '__' or '..'.", name))
			}
		case "ec2":
			if name == "" || len(name) > 256 {
				bad("name", "Invalid instance name", "The name (the instance's Name tag) must be 1 to 256 characters.")
			}
		}
	}
	for _, attr := range []string{"region", k.size, k.image} {
		if s, ok := str(attr); ok && strings.TrimSpace(s) == "" {
			bad(attr, "Empty "+attr, fmt.Sprintf("%s must not be empty.", attr))
		}
	}
	if k.provider == "linode" {
		if pw, ok := str("root_pass"); ok && (len(pw) < 7 || len(pw) > 128) {
			bad("root_pass", "Invalid root_pass", "Linode requires a root password of 7 to 128 characters (and refuses weak ones at apply time).")
		}
	}
	if t := v.GetAttr("tags"); !t.IsNull() && t.IsKnown() {
		for _, e := range t.AsValueSlice() {
			if !e.IsKnown() || e.IsNull() {
				continue
			}
			if msg := tagProblem(k.provider, e.AsString()); msg != "" {
				bad("tags", "Invalid tag", msg)
			}
		}
	}
	return diags
}

// tagProblem says what is wrong with a user's tag on provider, or "".
func tagProblem(provider, tag string) string {
	if cloud.IsOwnerTag(tag) {
		return fmt.Sprintf("%q: tags starting with \"drover:\" are ownership tags, which drover sets itself (drover:<stack>:<name>); a tag of yours in that form could make drover claim or destroy another block's instances.", tag)
	}
	switch provider {
	case "digitalocean":
		if len(tag) > 255 || !doTagRE.MatchString(tag) {
			return fmt.Sprintf("%q: DigitalOcean tags hold only letters, digits, ':', '-' and '_' (at most 255).", tag)
		}
	case "linode":
		if len(tag) < 3 || len(tag) > 50 {
			return fmt.Sprintf("%q: Linode tags are 3 to 50 characters.", tag)
		}
	case "ec2":
		key, val, _ := strings.Cut(tag, "=")
		switch {
		case key == "" || len(key) > 128:
			return fmt.Sprintf("%q: an EC2 tag key (before '=') is 1 to 128 characters.", tag)
		case len(val) > 256:
			return fmt.Sprintf("%q: an EC2 tag value (after '=') is at most 256 characters.", tag)
		case strings.HasPrefix(strings.ToLower(key), "aws:"):
			return fmt.Sprintf("%q: EC2 reserves tag keys starting with \"aws:\".", tag)
		case key == "Name":
			return fmt.Sprintf("%q: drover sets the Name tag from name; set name instead.", tag)
		}
	}
	return ""
}
