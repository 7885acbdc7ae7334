// Package provision creates, finds and destroys the cloud instances that a
// playbook's provision blocks describe, statelessly: every instance carries
// the ownership tag of its block (cloud.OwnerTag), and listing by that tag is
// how a plan finds what exists. The hosts it returns join inventory groups so
// that later plays configure them.
//
// It prints nothing: Plan, Apply and Destroy return values the caller shows.
package provision

import (
	"fmt"
	"path/filepath"
	"regexp"
	"sort"
	"strings"

	"github.com/hashicorp/hcl/v2"
	"github.com/hashicorp/hcl/v2/hcldec"
	"github.com/zclconf/go-cty/cty"
	"github.com/zclconf/go-cty/cty/gocty"

	"github.com/drover-cm/drover/cloud"
	"github.com/drover-cm/drover/engine/config"
	"github.com/drover-cm/drover/engine/lang"
)

// Resource is one provision block, evaluated.
type Resource struct {
	Block    *config.Provision
	Provider string // "digitalocean", "linode", "ec2"
	Stack    string
	// Owner is the ownership tag every instance of the block carries.
	Owner string
	// Specs are the instances wanted, one per count index.
	Specs  []cloud.Spec
	Groups []string
	// Endpoint is the API base URL ("" for the provider's default).
	Endpoint string
	// Region is the EC2 client's region ("" for the SDK's).
	Region  string
	SSHUser string
	SSHPort int
}

// Addr is the block's address, "digitalocean_droplet.web".
func (r *Resource) Addr() string { return r.Block.Addr() }

// kind describes one provision type.
type kind struct {
	provider string
	// attrs maps the block's attribute names onto Spec fields.
	size, image string
	keys        string // the ssh keys attribute
	extra       []string
}

var kinds = map[string]kind{
	"digitalocean_droplet": {provider: "digitalocean", size: "size", image: "image", keys: "ssh_keys"},
	"linode_instance":      {provider: "linode", size: "type", image: "image", keys: "authorized_keys", extra: []string{"root_pass"}},
	"aws_instance":         {provider: "ec2", size: "instance_type", image: "ami", keys: "", extra: []string{"subnet_id", "security_group_ids", "key_name"}},
}

// Types lists the provision types.
func Types() []string {
	return []string{"aws_instance", "digitalocean_droplet", "linode_instance"}
}

func (k kind) spec() hcldec.ObjectSpec {
	s := hcldec.ObjectSpec{
		"name":      &hcldec.AttrSpec{Name: "name", Type: cty.String, Required: true},
		"region":    &hcldec.AttrSpec{Name: "region", Type: cty.String, Required: k.provider != "ec2"},
		"tags":      &hcldec.AttrSpec{Name: "tags", Type: cty.List(cty.String)},
		"groups":    &hcldec.AttrSpec{Name: "groups", Type: cty.List(cty.String)},
		"user_data": &hcldec.AttrSpec{Name: "user_data", Type: cty.String},
		"stack":     &hcldec.AttrSpec{Name: "stack", Type: cty.String},
		"endpoint":  &hcldec.AttrSpec{Name: "endpoint", Type: cty.String},
		"ssh_user":  &hcldec.AttrSpec{Name: "ssh_user", Type: cty.String},
		"ssh_port":  &hcldec.AttrSpec{Name: "ssh_port", Type: cty.Number},
		k.size:      &hcldec.AttrSpec{Name: k.size, Type: cty.String, Required: true},
		k.image:     &hcldec.AttrSpec{Name: k.image, Type: cty.String, Required: true},
	}
	if k.keys != "" {
		s[k.keys] = &hcldec.AttrSpec{Name: k.keys, Type: cty.List(cty.String)}
	}
	for _, e := range k.extra {
		t := cty.String
		if e == "security_group_ids" {
			t = cty.List(cty.String)
		}
		// Linode requires a root password when deploying an image.
		s[e] = &hcldec.AttrSpec{Name: e, Type: t, Required: e == "root_pass"}
	}
	return s
}

var stackRE = regexp.MustCompile(`[^a-zA-Z0-9_-]+`)

// DefaultStack is the stack of a playbook whose blocks set none: the name of
// its directory.
func DefaultStack(pb *config.Playbook) string {
	s := stackRE.ReplaceAllString(filepath.Base(pb.Dir), "-")
	if s == "" || s == "-" || s == "." {
		return "default"
	}
	return s
}

// Evaluate evaluates the playbook's provision blocks with the run's global
// variables and locals (see run.Globals).
func Evaluate(pb *config.Playbook, vars, locals map[string]cty.Value) ([]*Resource, hcl.Diagnostics) {
	var out []*Resource
	var diags hcl.Diagnostics
	funcs := lang.Functions(pb.Dir, pb.AllowLocal...)
	for _, b := range pb.Provisions {
		r, ds := evaluate(pb, b, &lang.Scope{Vars: vars, Locals: locals, Functions: funcs}, false)
		diags = append(diags, ds...)
		if r != nil {
			out = append(out, r)
		}
	}
	return out, diags
}

// Validate checks the playbook's provision blocks without credentials or
// network: the type, attributes (unknown, missing, of the wrong type), count,
// and every value known before a run against the provider's rules (names,
// tags, the ownership tag, Linode's root password). vars and locals may hold
// unknown values (variables without a value): what depends on them is
// checked at plan time.
func Validate(pb *config.Playbook, vars, locals map[string]cty.Value) hcl.Diagnostics {
	var diags hcl.Diagnostics
	funcs := lang.Functions(pb.Dir, pb.AllowLocal...)
	seen := map[string]bool{}
	for _, b := range pb.Provisions {
		_, ds := evaluate(pb, b, &lang.Scope{Vars: vars, Locals: locals, Functions: funcs}, true)
		for _, d := range ds {
			k := d.Summary + "\x00" + d.Detail
			if d.Subject != nil {
				k += "\x00" + d.Subject.String()
			}
			if !seen[k] { // the same error in every instance once
				seen[k] = true
				diags = append(diags, d)
			}
		}
	}
	return diags
}

func errAt(rng hcl.Range, summary, detail string) *hcl.Diagnostic {
	return &hcl.Diagnostic{Severity: hcl.DiagError, Summary: summary, Detail: detail, Subject: rng.Ptr()}
}

// evaluate evaluates a block into a Resource. For validate, values may be
// unknown: count then stands for one instance with an unknown count.index,
// and checks skip what is unknown.
func evaluate(pb *config.Playbook, b *config.Provision, scope *lang.Scope, validate bool) (*Resource, hcl.Diagnostics) {
	k, ok := kinds[b.Type]
	if !ok {
		return nil, hcl.Diagnostics{errAt(b.TypeRange, "Unknown provision type",
			fmt.Sprintf("%q is not a provision type; use one of %s.", b.Type, strings.Join(Types(), ", ")))}
	}
	count, countKnown := 1, true
	if b.Count != nil {
		v, ds := b.Count.Value(scope.EvalContext())
		if ds.HasErrors() {
			return nil, ds
		}
		v, _ = v.UnmarkDeep()
		if !v.IsWhollyKnown() && validate {
			countKnown = false
		} else if err := gocty.FromCtyValue(v, &count); err != nil || count < 0 {
			return nil, hcl.Diagnostics{errAt(b.Count.Range(), "Invalid count", "count must be a whole number, 0 or more.")}
		}
	}
	r := &Resource{Block: b, Provider: k.provider, SSHPort: 22}
	spec := k.spec()
	attrs, _ := b.Body.JustAttributes() // ranges for the checks; Decode reports body errors
	var diags hcl.Diagnostics
	for i := 0; i < max(count, 1); i++ {
		s := *scope
		s.Count = cty.NumberIntVal(int64(i))
		if !countKnown {
			s.Count = cty.UnknownVal(cty.Number)
		}
		v, ds := hcldec.Decode(b.Body, spec, s.EvalContext())
		sortDiags(ds) // hcldec's spec is a map: its order varies
		diags = append(diags, ds...)
		if ds.HasErrors() {
			return nil, diags
		}
		v, _ = v.UnmarkDeep()
		str := func(n string) string {
			a := v.GetAttr(n)
			if a.IsNull() || !a.IsKnown() {
				return ""
			}
			return a.AsString()
		}
		list := func(n string) []string {
			a, ok := v.Type().AttributeTypes()[n]
			if !ok || a == cty.NilType || v.GetAttr(n).IsNull() || !v.GetAttr(n).IsKnown() {
				return nil
			}
			var out []string
			for _, e := range v.GetAttr(n).AsValueSlice() {
				if e.IsKnown() && !e.IsNull() {
					out = append(out, e.AsString())
				}
			}
			return out
		}
		if count > 0 || !countKnown {
			if ds := check(k, b, v, attrs); ds.HasErrors() {
				return nil, append(diags, ds...)
			}
		}
		if i == 0 {
			r.Stack = str("stack")
			if r.Stack == "" {
				r.Stack = DefaultStack(pb)
			}
			owner, err := cloud.OwnerTag(r.Stack, b.Name)
			if err != nil {
				subj := b.NameRange
				if _, serr := cloud.OwnerTag(r.Stack, "x"); serr != nil {
					subj = attrRange(attrs, "stack", b.NameRange)
				}
				return nil, append(diags, errAt(subj, "Invalid stack or name", err.Error()))
			}
			r.Owner = owner
			r.Groups = list("groups")
			r.Endpoint = str("endpoint")
			r.SSHUser = str("ssh_user")
			if p := v.GetAttr("ssh_port"); !p.IsNull() && p.IsKnown() {
				if err := gocty.FromCtyValue(p, &r.SSHPort); err != nil || r.SSHPort < 1 || r.SSHPort > 65535 {
					return nil, append(diags, errAt(attrRange(attrs, "ssh_port", b.DeclRange), "Invalid ssh_port", "ssh_port must be a port number, 1 to 65535."))
				}
			}
			if k.provider == "ec2" {
				r.Region = str("region")
			}
		}
		if count == 0 {
			break
		}
		cs := cloud.Spec{
			Name: str("name"), Region: str("region"), Size: str(k.size), Image: str(k.image),
			Tags: append([]string{r.Owner}, list("tags")...), UserData: str("user_data"),
		}
		if k.keys != "" {
			cs.SSHKeys = list(k.keys)
		}
		switch k.provider {
		case "linode":
			cs.RootPassword = str("root_pass")
		case "ec2":
			cs.Region = ""
			cs.SubnetID, cs.KeyName = str("subnet_id"), str("key_name")
			cs.SecurityGroupIDs = list("security_group_ids")
		}
		for _, prev := range r.Specs {
			if prev.Name == cs.Name && cs.Name != "" {
				return nil, append(diags, errAt(attrRange(attrs, "name", b.DeclRange), "Duplicate instance name",
					fmt.Sprintf("Two instances of %s are named %q: use count.index in name.", b.Addr(), cs.Name)))
			}
		}
		r.Specs = append(r.Specs, cs)
	}
	if !countKnown {
		if a, ok := attrs["name"]; ok && !usesCount(a.Expr) {
			diags = append(diags, &hcl.Diagnostic{Severity: hcl.DiagWarning, Summary: "Name without count.index",
				Detail:  fmt.Sprintf("count of %s is not known before the run, and name does not use count.index: with a count over 1 the instances would have the same name, which apply refuses.", b.Addr()),
				Subject: a.Expr.Range().Ptr()})
		}
	}
	return r, diags
}

// sortDiags orders diagnostics by position, then text.
func sortDiags(ds hcl.Diagnostics) {
	pos := func(d *hcl.Diagnostic) (int, int) {
		if d.Subject == nil {
			return 0, 0
		}
		return d.Subject.Start.Line, d.Subject.Start.Column
	}
	sort.SliceStable(ds, func(i, j int) bool {
		li, ci := pos(ds[i])
		lj, cj := pos(ds[j])
		if li != lj || ci != cj {
			return li < lj || li == lj && ci < cj
		}
		return ds[i].Summary+ds[i].Detail < ds[j].Summary+ds[j].Detail
	})
}

func usesCount(e hcl.Expression) bool {
	for _, t := range e.Variables() {
		if t.RootName() == "count" {
			return true
		}
	}
	return false
}

func attrRange(attrs hcl.Attributes, name string, fallback hcl.Range) hcl.Range {
	if a, ok := attrs[name]; ok {
		return a.Expr.Range()
	}
	return fallback
}
