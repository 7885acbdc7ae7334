package run

import (
	"os"
	"path/filepath"
	"testing"

	"github.com/hashicorp/hcl/v2/hclparse"
	"github.com/zclconf/go-cty/cty"

	"github.com/drover-cm/drover/engine/config"
	"github.com/drover-cm/drover/engine/lang"
	"github.com/drover-cm/drover/modules"
)

// TestVariablePrecedence: default < inventory < DROVER_VAR_ < -var-file <
// -var, one row per source that is present.
func TestVariablePrecedence(t *testing.T) {
	dir := t.TempDir()
	os.WriteFile(filepath.Join(dir, "site.hcl"), []byte(`
variable "port" {
  type    = number
  default = 1
}
variable "name" { type = string }
variable "tags" {
  type    = list(string)
  default = []
}
variable "pw" {
  type      = string
  default   = "d"
  sensitive = true
}
`), 0o644)
	os.WriteFile(filepath.Join(dir, "vars.hcl"), []byte("port = 4\n"), 0o644)
	p := hclparse.NewParser()
	pb, diags := config.LoadFiles(p, modules.Catalog(), filepath.Join(dir, "site.hcl"))
	if diags.HasErrors() {
		t.Fatal(diags)
	}
	inv := map[string]cty.Value{"port": cty.NumberIntVal(2), "name": cty.StringVal("inv"), "unrelated": cty.True}
	cases := []struct {
		name        string
		inv         map[string]cty.Value
		env, files  []string
		flags       []string
		port, vname string
	}{
		{name: "default", port: "1", vname: "", inv: map[string]cty.Value{"name": cty.StringVal("n")}},
		{name: "inventory", inv: inv, port: "2", vname: "inv"},
		{name: "env", inv: inv, env: []string{"DROVER_VAR_port=3", "PATH=/bin"}, port: "3", vname: "inv"},
		{name: "var-file", inv: inv, env: []string{"DROVER_VAR_port=3"}, files: []string{filepath.Join(dir, "vars.hcl")}, port: "4", vname: "inv"},
		{name: "-var", inv: inv, env: []string{"DROVER_VAR_port=3"}, files: []string{filepath.Join(dir, "vars.hcl")}, flags: []string{"port=5", "name=flag"}, port: "5", vname: "flag"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			in, diags := ParseInputs(p, pb, c.env, c.files, c.flags)
			if diags.HasErrors() {
				t.Fatal(diags)
			}
			vars, diags := hostVars(pb, in, "h", c.inv, false)
			if diags.HasErrors() {
				t.Fatal(diags)
			}
			if got := vars["port"].AsBigFloat().String(); got != c.port {
				t.Errorf("port = %s, want %s", got, c.port)
			}
			if c.vname != "" && vars["name"].AsString() != c.vname {
				t.Errorf("name = %s, want %s", vars["name"].AsString(), c.vname)
			}
			if !lang.IsSensitive(vars["pw"]) {
				t.Errorf("pw is not marked sensitive")
			}
		})
	}
	// Typed values from flags are parsed as HCL; strings are taken as is.
	in, diags := ParseInputs(p, pb, nil, nil, []string{`tags=["a", "b"]`, `name=[not a list]`})
	if diags.HasErrors() {
		t.Fatal(diags)
	}
	vars, _ := hostVars(pb, in, "h", nil, false)
	if vars["tags"].LengthInt() != 2 || vars["name"].AsString() != "[not a list]" {
		t.Errorf("tags = %#v, name = %#v", vars["tags"], vars["name"])
	}
	// A required variable without a value is an error naming the ways to set it.
	_, diags = hostVars(pb, Inputs{}, "h", nil, false)
	if !diags.HasErrors() || diags[0].Summary != "No value for required variable" {
		t.Errorf("missing required: %v", diags)
	}
}
