package run

import (
	"bytes"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"filippo.io/age"
	"github.com/hashicorp/hcl/v2/hclparse"
	"github.com/zclconf/go-cty/cty"

	"github.com/drover-cm/drover/engine/config"
	"github.com/drover-cm/drover/engine/lang"
	"github.com/drover-cm/drover/engine/secrets"
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

// TestVarWrongType: a --var of the wrong type is an error naming the
// variable, its type and the value (never a sensitive one).
func TestVarWrongType(t *testing.T) {
	dir := t.TempDir()
	os.WriteFile(filepath.Join(dir, "site.hcl"), []byte(`
variable "port" { type = number }
variable "on" { type = bool }
variable "ids" { type = list(number) }
variable "key" {
  type      = number
  sensitive = true
}
`), 0o644)
	pb, diags := config.LoadFiles(hclparse.NewParser(), modules.Catalog(), filepath.Join(dir, "site.hcl"))
	if diags.HasErrors() {
		t.Fatal(diags)
	}
	tests := []struct{ flag, want, not string }{
		{"port=abc", `variable "port" is of type number, and "abc" is not a number value`, "Variables not allowed"},
		{"port=1+", `"1+" is not a number value`, "source code"},
		{"on=maybe", `variable "on" is of type bool, and "maybe" is not a bool value. Give a value of that type, for example --var on=true`, ""},
		{`ids=["a"]`, `variable "ids" is of type list(number)`, ""},
		{"key=s3cret", `variable "key" is of type number, and the value given is not`, "s3cret"},
	}
	for _, tc := range tests {
		_, diags := ParseInputs(hclparse.NewParser(), pb, nil, nil, []string{tc.flag})
		msg := diags.Error()
		if !diags.HasErrors() || !strings.Contains(msg, tc.want) || tc.not != "" && strings.Contains(msg, tc.not) {
			t.Errorf("--var %s: %s\nwant it to say %q", tc.flag, msg, tc.want)
		}
	}
	if in, diags := ParseInputs(hclparse.NewParser(), pb, nil, nil, []string{"port=8080", "ids=[1, 2]"}); diags.HasErrors() || !in["port"].Value.RawEquals(cty.NumberIntVal(8080)) {
		t.Errorf("good values: %v %v", in, diags)
	}
}

// TestEncryptedVarFile: an encrypted -var-file's values are sensitive; any
// problem with it is an error naming the file, with none of its values and
// no line of its clear text in the diagnostics.
func TestEncryptedVarFile(t *testing.T) {
	dir := t.TempDir()
	os.WriteFile(filepath.Join(dir, "site.hcl"), []byte(`
variable "token" { type = string }
variable "port" {
  type    = number
  default = 1
}
`), 0o644)
	p := hclparse.NewParser()
	pb, diags := config.LoadFiles(p, modules.Catalog(), filepath.Join(dir, "site.hcl"))
	if diags.HasErrors() {
		t.Fatal(diags)
	}
	id, _ := age.GenerateX25519Identity()
	stranger, _ := age.GenerateX25519Identity()
	write := func(name, clear string) string {
		enc, err := secrets.EncryptAge([]byte(clear), id.Recipient())
		if err != nil {
			t.Fatal(err)
		}
		path := filepath.Join(dir, name)
		os.WriteFile(path, enc, 0o600)
		return path
	}
	good := write("good.hcl.age", "token = \"tok-Secret-1\"\nport = 9\n")
	truncated := filepath.Join(dir, "truncated.hcl.age")
	b, _ := os.ReadFile(good)
	os.WriteFile(truncated, b[:len(b)-40], 0o600)
	vault, _ := filepath.Abs("../secrets/testdata/vault11.yml")
	for _, c := range []struct {
		name string
		file string
		keys *secrets.Keys
		err  string
	}{
		{"opens", good, &secrets.Keys{IdentityEnv: id.String()}, ""},
		{"opens a vault", filepath.Join(filepath.Dir(vault), "vault-vars.hcl"), &secrets.Keys{VaultPasswordFile: filepath.Join(filepath.Dir(vault), "vault.pass")}, ""},
		{"no key", good, nil, "good.hcl.age is encrypted with age to public keys: no identity given: pass your age identity"},
		{"wrong identity", good, &secrets.Keys{IdentityEnv: stranger.String()}, "good.hcl.age: not encrypted to your identity"},
		{"truncated", truncated, &secrets.Keys{IdentityEnv: id.String()}, "truncated.hcl.age"},
		{"undeclared variable", write("undeclared.hcl.age", "token = \"tok-Secret-1\"\nnosuch = \"tok-Secret-1\"\n"), &secrets.Keys{IdentityEnv: id.String()}, "undeclared variable"},
		{"syntax error", write("bad.hcl.age", "token = \"tok-Secret-1\"\nport = = \"tok-Secret-1\"\n"), &secrets.Keys{IdentityEnv: id.String()}, "bad.hcl.age"},
		{"vault with a wrong password", vault, &secrets.Keys{VaultPasswordFile: filepath.Join(dir, "site.hcl")}, "vault11.yml: wrong vault password"},
	} {
		t.Run(c.name, func(t *testing.T) {
			in, diags := ParseInputsWithKeys(p, pb, nil, []string{c.file}, nil, c.keys)
			if c.err == "" {
				if diags.HasErrors() || len(in) != 2 || !lang.IsSensitive(in["token"].Value) || !lang.IsSensitive(in["port"].Value) {
					t.Fatalf("inputs %v, %v", in, diags)
				}
				return
			}
			var text bytes.Buffer
			config.WriteDiagnostics(&text, p.Files(), diags, 0, false)
			if !diags.HasErrors() || len(in) != 0 || !strings.Contains(text.String(), c.err) {
				t.Fatalf("inputs %v, diagnostics:\n%s\nwant an error with %q and no value", in, text.String(), c.err)
			}
			if strings.Contains(text.String(), "tok-Secret-1") {
				t.Fatalf("the diagnostics show the clear text:\n%s", text.String())
			}
		})
	}
}
