package config

import (
	"github.com/zclconf/go-cty/cty"

	"github.com/drover-cm/drover/modules"
)

// fakeModule is a module with a fixed spec, for tests of the language alone
// (no module's Configure runs here).
type fakeModule struct{ spec *modules.Spec }

func (m fakeModule) Spec() *modules.Spec                            { return m.spec }
func (m fakeModule) Configure(modules.Config) (modules.Task, error) { return nil, nil }

var fakeModules = []modules.Module{
	fakeModule{&modules.Spec{Name: "directory", Attributes: []modules.Attribute{
		{Name: "path", Type: cty.String, Required: true},
		{Name: "owner", Type: cty.String},
		{Name: "mode", Type: cty.String, Default: cty.StringVal("0755")},
	}}},
	fakeModule{&modules.Spec{Name: "template", Attributes: []modules.Attribute{
		{Name: "source", Type: cty.String, Required: true},
		{Name: "path", Type: cty.String, Required: true},
		{Name: "vars", Type: cty.DynamicPseudoType},
	}}},
	fakeModule{&modules.Spec{Name: "command", Attributes: []modules.Attribute{
		{Name: "run", Type: cty.List(cty.String), Required: true},
		{Name: "creates", Type: cty.String},
	}, Outputs: []modules.Attribute{{Name: "stdout", Type: cty.String}}}},
}

func init() {
	lookupModule = func(name string) (modules.Module, bool) {
		for _, m := range fakeModules {
			if m.Spec().Name == name {
				return m, true
			}
		}
		return nil, false
	}
	allModules = func() []modules.Module { return fakeModules }
}
