package modules

import (
	"fmt"
	"os"
	"strings"

	"github.com/hashicorp/hcl/v2"
	"github.com/hashicorp/hcl/v2/hclsyntax"
	"github.com/zclconf/go-cty/cty"
	"github.com/zclconf/go-cty/cty/convert"

	"github.com/drover-cm/drover/modules/contract"
)

// templateModule renders a local template file and writes it like file.
type templateModule struct{}

var templateSpec = &contract.Spec{
	Name:    "template",
	Summary: "Render a template file and write the result to the host.",
	Doc: `Renders source, a file on the machine running drover, with the template
syntax of playbooks: ${expr} interpolation, %{ if cond }...%{ else }...%{ endif }
and %{ for x in list }...%{ endfor } directives, and ~ to strip whitespace
(%{ for x in xs ~}). Inside the template, the attributes of vars are the
variables (vars = { port = 8080 } makes ${port} available), and every playbook
function can be called. A template error is reported at the template's own
file:line:col.

The rendered text is then written exactly as the file module writes content:
compared by checksum on the host, shown as a diff when small text, uploaded to
a temporary file and renamed over path.`,
	Attributes: []contract.Attribute{
		{Name: "source", Type: cty.String, Required: true, Doc: "The template file, relative to the directory of the playbook file that declares the task (or absolute)."},
		{Name: "path", Type: cty.String, Required: true, Doc: "Absolute path of the rendered file on the host."},
		{Name: "vars", Type: cty.DynamicPseudoType, Doc: "An object whose attributes are the template's variables."},
		modeAttr, ownerAttr, groupAttr,
	},
	Example: `template "nginx_site" {
  source = "templates/site.conf.tmpl"
  path   = "/etc/nginx/conf.d/site.conf"
  vars   = { server_name = "example.org", upstreams = ["10.0.0.1:8080", "10.0.0.2:8080"] }
  mode   = "0644"
}`,
}

func (templateModule) Spec() *contract.Spec { return templateSpec }

func (templateModule) Configure(cfg contract.Config) (contract.Task, error) {
	a := readAttrs(templateSpec, cfg)
	t := &fileTask{}
	t.Path, _ = a.absPath("path")
	t.Meta = readMeta(a)
	source, _ := a.str("source")
	vars := a.get("vars")
	if a.err != nil {
		return nil, a.err
	}
	file, err := LocalPath(cfg, source)
	if err != nil {
		return nil, &contract.AttrError{Attr: "source", Msg: err.Error()}
	}
	src, err := os.ReadFile(file)
	if err != nil {
		return nil, &contract.AttrError{Attr: "source", Msg: fmt.Sprintf("cannot read the template: %v", err), Err: err}
	}
	out, sensitive, err := renderTemplate(src, file, vars, cfg)
	if err != nil {
		return nil, err
	}
	t.Content = bytesContent([]byte(out), sensitive || a.sensitive("vars"))
	return t, nil
}

// renderTemplate evaluates src (named file in messages) with the attributes
// of vars as variables. It reports whether the result is marked sensitive.
func renderTemplate(src []byte, file string, vars cty.Value, cfg contract.Config) (string, bool, error) {
	expr, diags := hclsyntax.ParseTemplate(src, file, hcl.Pos{Line: 1, Column: 1, Byte: 0})
	if diags.HasErrors() {
		return "", false, templateError(diags)
	}
	ctx := &hcl.EvalContext{Variables: map[string]cty.Value{}, Functions: cfg.Functions}
	if vars != cty.NilVal && !vars.IsNull() {
		ty := vars.Type()
		if !ty.IsObjectType() && !ty.IsMapType() {
			return "", false, &contract.AttrError{Attr: "vars", Msg: fmt.Sprintf("must be an object (like { name = \"value\" }), not %s", ty.FriendlyName())}
		}
		for it := vars.ElementIterator(); it.Next(); {
			k, v := it.Element()
			ctx.Variables[k.AsString()] = v
		}
	}
	val, diags := expr.Value(ctx)
	if diags.HasErrors() {
		return "", false, templateError(diags)
	}
	val, marks := val.UnmarkDeep()
	if !val.IsWhollyKnown() {
		return "", false, &contract.AttrError{Attr: "source", Msg: file + ": the template's result is not known until the play runs"}
	}
	sv, err := convert.Convert(val, cty.String)
	if err != nil || sv.IsNull() {
		return "", false, &contract.AttrError{Attr: "source", Msg: fmt.Sprintf("%s: the template's result is not a string (%s)", file, val.Type().FriendlyName())}
	}
	return sv.AsString(), len(marks) > 0, nil
}

// templateError reports template diagnostics at the template's
// file:line:col, one per line.
func templateError(diags hcl.Diagnostics) error {
	var msgs []string
	for _, d := range diags {
		if d.Severity != hcl.DiagError {
			continue
		}
		m := d.Summary
		if d.Detail != "" {
			m += ": " + d.Detail
		}
		if d.Subject != nil {
			m = fmt.Sprintf("%s:%d:%d: %s", d.Subject.Filename, d.Subject.Start.Line, d.Subject.Start.Column, m)
		}
		msgs = append(msgs, m)
	}
	return &contract.AttrError{Attr: "source", Msg: "template error: " + strings.Join(msgs, "\n"), Err: diags}
}
