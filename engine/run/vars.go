package run

import (
	"fmt"
	"maps"
	"os"
	"sort"
	"strings"

	"github.com/hashicorp/hcl/v2"
	"github.com/hashicorp/hcl/v2/ext/typeexpr"
	"github.com/hashicorp/hcl/v2/hclparse"
	"github.com/hashicorp/hcl/v2/hclsyntax"
	"github.com/zclconf/go-cty/cty"
	"github.com/zclconf/go-cty/cty/convert"

	"github.com/drover-cm/drover/engine/config"
	"github.com/drover-cm/drover/engine/lang"
	"github.com/drover-cm/drover/engine/secrets"
)

// EnvPrefix starts the names of environment variables that set playbook
// variables: DROVER_VAR_app_port=8080 sets var.app_port.
const EnvPrefix = "DROVER_VAR_"

// InputValue is a variable value given outside the playbook.
type InputValue struct {
	Value cty.Value
	// Source says where it came from: "-var", "DROVER_VAR_port", "prod.hcl:3".
	Source string
	Range  hcl.Range // set for -var-file values
}

// Inputs are the values given outside the playbook, by variable name, with
// the highest-precedence source already chosen.
type Inputs map[string]InputValue

// ParseInputs collects variable values from the environment (DROVER_VAR_*),
// then -var-file files, then -var flags ("name=value"); a later source
// overrides an earlier one. A -var value or environment value is taken as a
// raw string when the variable's type is string (or not declared), and parsed
// as an HCL expression otherwise ([1, 2], {a = 1}, true).
func ParseInputs(p *hclparse.Parser, pb *config.Playbook, env []string, varFiles []string, flags []string) (Inputs, hcl.Diagnostics) {
	return ParseInputsWithKeys(p, pb, env, varFiles, flags, nil)
}

// ParseInputsWithKeys is ParseInputs with the keys that open encrypted
// -var-file files (age, Ansible Vault; see engine/secrets). Every value from
// an encrypted file is sensitive. Its clear text is parsed apart from p, so
// that no diagnostic can print a line of it; a file that does not open or
// parse contributes no value at all. keys may be nil: an encrypted file is
// then an error saying how to pass a key.
func ParseInputsWithKeys(p *hclparse.Parser, pb *config.Playbook, env []string, varFiles []string, flags []string, keys *secrets.Keys) (Inputs, hcl.Diagnostics) {
	in := Inputs{}
	var diags hcl.Diagnostics
	for _, kv := range env {
		name, raw, ok := strings.Cut(kv, "=")
		if !ok || !strings.HasPrefix(name, EnvPrefix) {
			continue
		}
		name = strings.TrimPrefix(name, EnvPrefix)
		v := pb.Variables[name]
		if v == nil {
			continue // the environment is shared with other playbooks
		}
		val, ds := parseRaw(v, raw, EnvPrefix+name)
		diags = append(diags, ds...)
		if !ds.HasErrors() {
			in[name] = InputValue{Value: val, Source: EnvPrefix + name}
		}
	}
	for _, path := range varFiles {
		fileIn, ds := varFileInputs(p, pb, path, keys)
		diags = append(diags, ds...)
		maps.Copy(in, fileIn)
	}
	for _, kv := range flags {
		name, raw, ok := strings.Cut(kv, "=")
		if !ok || name == "" {
			diags = append(diags, &hcl.Diagnostic{Severity: hcl.DiagError, Summary: "Invalid -var option", Detail: fmt.Sprintf("%q is not NAME=VALUE. Write for example -var app_port=8080.", kv)})
			continue
		}
		v := pb.Variables[name]
		if v == nil {
			diags = append(diags, undeclaredInput(pb, name, nil))
			continue
		}
		val, ds := parseRaw(v, raw, "-var "+name)
		diags = append(diags, ds...)
		if !ds.HasErrors() {
			in[name] = InputValue{Value: val, Source: "-var " + name}
		}
	}
	return in, diags
}

// varFileInputs reads one -var-file. An encrypted one gives all of its
// values or, on any error, none.
func varFileInputs(p *hclparse.Parser, pb *config.Playbook, path string, keys *secrets.Keys) (Inputs, hcl.Diagnostics) {
	src, err := os.ReadFile(path)
	if err != nil {
		return nil, hcl.Diagnostics{{Severity: hcl.DiagError, Summary: "Cannot read variables file", Detail: fmt.Sprintf("%v.", err)}}
	}
	src, format, err := keys.Open(path, src)
	if err != nil {
		return nil, hcl.Diagnostics{{Severity: hcl.DiagError, Summary: "Cannot decrypt variables file", Detail: fmt.Sprintf("%v.", err)}}
	}
	encrypted := format != secrets.Plain
	var f *hcl.File
	var diags hcl.Diagnostics
	if encrypted {
		f, diags = hclsyntax.ParseConfig(src, path, hcl.InitialPos) // not in p: no snippets
	} else {
		f, diags = p.ParseHCL(src, path)
	}
	if diags.HasErrors() {
		return nil, diags
	}
	attrs, ds := f.Body.JustAttributes()
	diags = append(diags, ds...)
	in := Inputs{}
	names := make([]string, 0, len(attrs))
	for n := range attrs {
		names = append(names, n)
	}
	sort.Strings(names)
	for _, n := range names {
		a := attrs[n]
		if pb.Variables[n] == nil {
			diags = append(diags, undeclaredInput(pb, n, a.NameRange.Ptr()))
			continue
		}
		val, ds := a.Expr.Value(nil)
		diags = append(diags, ds...)
		if ds.HasErrors() {
			continue
		}
		if encrypted {
			val = lang.Sensitive(val)
		}
		in[n] = InputValue{Value: val, Source: fmt.Sprintf("%s:%d", path, a.NameRange.Start.Line), Range: a.Expr.Range()}
	}
	if encrypted && diags.HasErrors() {
		return nil, diags
	}
	return in, diags
}

func undeclaredInput(pb *config.Playbook, name string, rng *hcl.Range) *hcl.Diagnostic {
	detail := fmt.Sprintf("A value was given for variable %q, but the playbook declares no such variable.", name)
	if s := config.Suggest(name, pb.VariableOrder); s != "" {
		detail += fmt.Sprintf(" Did you mean %q?", s)
	}
	return &hcl.Diagnostic{Severity: hcl.DiagError, Summary: "Value for undeclared variable", Detail: detail, Subject: rng}
}

func parseRaw(v *config.Variable, raw, source string) (cty.Value, hcl.Diagnostics) {
	if v.Type == cty.String || v.Type == cty.DynamicPseudoType {
		return cty.StringVal(raw), nil
	}
	// A value that does not parse or evaluate (abc for a number is a
	// variable reference to HCL) or does not convert is said in plain words:
	// HCL's own message would be about a source that is not there.
	expr, diags := hclsyntax.ParseExpression([]byte(raw), source, hcl.InitialPos)
	var val cty.Value
	if !diags.HasErrors() {
		val, diags = expr.Value(nil)
	}
	if !diags.HasErrors() {
		if _, err := convert.Convert(val, v.Type); err == nil {
			return val, nil
		}
	}
	typ := typeexpr.TypeString(v.Type)
	given := fmt.Sprintf("%q", raw)
	if v.Sensitive {
		given = "the value given" // a secret is never echoed
	}
	return cty.NilVal, hcl.Diagnostics{{Severity: hcl.DiagError, Summary: "Invalid value for variable " + v.Name,
		Detail: fmt.Sprintf("%s: variable %q is of type %s, and %s is not a %s value. Give a value of that type, for example %s.",
			source, v.Name, typ, given, typ, typeExample(v.Type, v.Name))}}
}

// typeExample is an example option giving a value of type t.
func typeExample(t cty.Type, name string) string {
	ex := "VALUE"
	switch {
	case t == cty.Number:
		ex = "8080"
	case t == cty.Bool:
		ex = "true"
	case t.IsListType() || t.IsSetType() || t.IsTupleType():
		ex = `'["a", "b"]'`
	case t.IsMapType() || t.IsObjectType():
		ex = `'{ key = "value" }'`
	}
	return "--var " + name + "=" + ex
}

// hostVars resolves every variable for one host, lowest to highest
// precedence: default < inventory vars (group, then host) < DROVER_VAR_ <
// -var-file < -var. Values are converted to the declared type, marked
// sensitive when declared so, and validated. hostVars may be nil (validate);
// unknown then stands for a required variable without a value.
func hostVars(pb *config.Playbook, in Inputs, hostName string, invVars map[string]cty.Value, forValidate bool) (map[string]cty.Value, hcl.Diagnostics) {
	return resolveVars(pb, in, hostName, invVars, forValidate, true)
}

// globalVars resolves variables without a host, to select hosts: no
// validation, since inventory values may still override a default.
func globalVars(pb *config.Playbook, in Inputs) (map[string]cty.Value, hcl.Diagnostics) {
	return resolveVars(pb, in, "", nil, true, false)
}

func resolveVars(pb *config.Playbook, in Inputs, hostName string, invVars map[string]cty.Value, forValidate, validate bool) (map[string]cty.Value, hcl.Diagnostics) {
	out := map[string]cty.Value{}
	var diags hcl.Diagnostics
	for _, name := range pb.VariableOrder {
		v := pb.Variables[name]
		val, source := v.Default, "its default"
		if hv, ok := invVars[name]; ok {
			val, source = hv, "the inventory"
		}
		var rng *hcl.Range
		if iv, ok := in[name]; ok {
			val, source = iv.Value, iv.Source
			if iv.Range != (hcl.Range{}) {
				rng = iv.Range.Ptr()
			}
		}
		if val == cty.NilVal {
			if forValidate {
				out[name] = cty.UnknownVal(v.Type)
				continue
			}
			diags = append(diags, &hcl.Diagnostic{
				Severity: hcl.DiagError,
				Summary:  "No value for required variable",
				Detail: fmt.Sprintf("Variable %q has no default and no value for host %s. Set it with -var %s=VALUE, %s%s=VALUE, a -var-file, or a host or group variable in the inventory.",
					name, hostName, name, EnvPrefix, name),
				Subject: v.DeclRange.Ptr(),
			})
			continue
		}
		cv, err := v.Convert(val)
		if err != nil {
			subj := rng
			if subj == nil {
				subj = v.DeclRange.Ptr()
			}
			diags = append(diags, &hcl.Diagnostic{
				Severity: hcl.DiagError,
				Summary:  "Invalid value for variable",
				Detail:   fmt.Sprintf("The value of variable %q from %s does not fit its type: %s.", name, source, err),
				Subject:  subj,
			})
			continue
		}
		if v.Sensitive {
			cv = lang.Sensitive(cv)
		}
		out[name] = cv
	}
	if diags.HasErrors() || !validate {
		return out, diags
	}
	ctx := &hcl.EvalContext{Variables: map[string]cty.Value{"var": cty.ObjectVal(nonEmpty(out))}, Functions: lang.Functions(pb.Dir, pb.AllowLocal...)}
	for _, name := range pb.VariableOrder {
		v := pb.Variables[name]
		for _, val := range v.Validations {
			ok, ds := val.Condition.Value(ctx)
			diags = append(diags, ds...)
			if ds.HasErrors() || !ok.IsKnown() {
				continue
			}
			ok, _ = ok.Unmark()
			if ok, err := convert.Convert(ok, cty.Bool); err != nil || ok.IsNull() {
				diags = append(diags, &hcl.Diagnostic{Severity: hcl.DiagError, Summary: "Invalid validation condition", Detail: "The condition must be true or false.", Subject: val.Condition.Range().Ptr()})
				continue
			} else if ok.True() {
				continue
			}
			msg, ds := val.ErrorMessage.Value(ctx)
			text := "the value is not valid"
			if !ds.HasErrors() && msg.IsKnown() {
				if m, err := convert.Convert(msg, cty.String); err == nil && !m.IsNull() {
					if m.IsMarked() {
						text = "(error message hidden: it uses a sensitive value)"
					} else {
						text = m.AsString()
					}
				}
			}
			diags = append(diags, &hcl.Diagnostic{
				Severity: hcl.DiagError,
				Summary:  "Invalid value for variable",
				Detail:   fmt.Sprintf("%s\n\nThe value of var.%s comes from %s; this validation rejected it.", text, name, sourceOf(pb, in, invVars, name)),
				Subject:  val.Condition.Range().Ptr(),
			})
		}
	}
	return out, diags
}

func sourceOf(pb *config.Playbook, in Inputs, invVars map[string]cty.Value, name string) string {
	if iv, ok := in[name]; ok {
		return iv.Source
	}
	if _, ok := invVars[name]; ok {
		return "the inventory"
	}
	return "its default"
}

func nonEmpty(m map[string]cty.Value) map[string]cty.Value {
	if m == nil {
		return map[string]cty.Value{}
	}
	return m
}
