package config

import (
	"github.com/zclconf/go-cty/cty"

	"github.com/drover-cm/drover/modules/contract"
)

// fakeModule is a module with a fixed spec, for tests of the language alone
// (no module's Configure runs here).
type fakeModule struct{ spec *contract.Spec }

func (m fakeModule) Spec() *contract.Spec                             { return m.spec }
func (m fakeModule) Configure(contract.Config) (contract.Task, error) { return nil, nil }

var fakeModules = []contract.Module{
	fakeModule{&contract.Spec{Name: "directory", Attributes: []contract.Attribute{
		{Name: "path", Type: cty.String, Required: true},
		{Name: "owner", Type: cty.String},
		{Name: "mode", Type: cty.String, Default: cty.StringVal("0755")},
	}}},
	fakeModule{&contract.Spec{Name: "template", Attributes: []contract.Attribute{
		{Name: "source", Type: cty.String, Required: true},
		{Name: "path", Type: cty.String, Required: true},
		{Name: "vars", Type: cty.DynamicPseudoType},
	}}},
	fakeModule{&contract.Spec{Name: "command", Attributes: []contract.Attribute{
		{Name: "run", Type: cty.List(cty.String), Required: true},
		{Name: "creates", Type: cty.String},
	}, Outputs: []contract.Attribute{{Name: "stdout", Type: cty.String}, {Name: "stderr", Type: cty.String}, {Name: "exit_code", Type: cty.Number}}}},
}

// fakeCatalog is the catalog of fakeModules.
func fakeCatalog() contract.Catalog { return contract.NewCatalog(fakeModules...) }
