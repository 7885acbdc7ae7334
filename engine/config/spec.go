package config

import (
	"github.com/hashicorp/hcl/v2"
	"github.com/hashicorp/hcl/v2/hcldec"

	"github.com/drover-cm/drover/modules/contract"
)

// Spec returns the hcldec spec that decodes a task body of the module: one
// attribute per Spec attribute, with its type, whether it is required and its
// default. The decoded value is an object with every attribute.
func Spec(ms *contract.Spec) hcldec.Spec {
	obj := hcldec.ObjectSpec{}
	for _, a := range ms.Attributes {
		if a.Block && a.Type.IsMapType() {
			obj[a.Name] = &hcldec.BlockAttrsSpec{TypeName: a.Name, ElementType: a.Type.ElementType(), Required: a.Required}
			continue
		}
		var s hcldec.Spec = &hcldec.AttrSpec{Name: a.Name, Type: a.Type, Required: a.Required}
		if a.Default != nilVal && !a.Required {
			s = &hcldec.DefaultSpec{Primary: s, Default: &hcldec.LiteralSpec{Value: a.Default}}
		}
		obj[a.Name] = s
	}
	return obj
}

// ImpliedSchema is the body schema of a module's task block, for checking
// attribute names and presence without evaluating anything.
func ImpliedSchema(ms *contract.Spec) *hcl.BodySchema {
	return hcldec.ImpliedSchema(Spec(ms))
}
