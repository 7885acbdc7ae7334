package modules_test

import (
	"errors"
	"path/filepath"
	"strings"
	"testing"

	"github.com/hashicorp/hcl/v2"
	"github.com/hashicorp/hcl/v2/hcldec"
	"github.com/hashicorp/hcl/v2/hclsyntax"
	"github.com/zclconf/go-cty/cty"
	"github.com/zclconf/go-cty/cty/convert"

	"github.com/drover-cm/drover/engine/config"
	"github.com/drover-cm/drover/modules"
	"github.com/drover-cm/drover/modules/contract"
)

// The modules this file's Configure checks cover (others' modules have
// their own tests; the Spec checks below apply to every module).
var fileModules = []string{"file", "directory", "copy", "template", "line", "ini", "symlink", "command", "shell"}

// Every Spec is complete: documented attributes, defaults of the right type,
// and an Example that decodes with the engine's own decoder.
func TestSpecs(t *testing.T) {
	for _, m := range modules.All() {
		s := m.Spec()
		t.Run(s.Name, func(t *testing.T) {
			if s.Name == "" || s.Summary == "" || strings.Contains(s.Summary, "\n") || s.Doc == "" {
				t.Errorf("name, one-line summary and doc are required: %+v", s)
			}
			seen := map[string]bool{}
			for _, a := range append(append([]contract.Attribute(nil), s.Attributes...), s.Outputs...) {
				if seen[a.Name] {
					t.Errorf("attribute %s is declared twice", a.Name)
				}
				seen[a.Name] = true
				if a.Doc == "" || a.Type == cty.NilType {
					t.Errorf("attribute %s needs a type and a doc", a.Name)
				}
				if a.Default != cty.NilVal {
					if a.Required {
						t.Errorf("attribute %s is required and has a default", a.Name)
					}
					if _, err := convert.Convert(a.Default, a.Type); err != nil {
						t.Errorf("attribute %s: default does not fit its type: %v", a.Name, err)
					}
				}
			}
			f, diags := hclsyntax.ParseConfig([]byte(s.Example), s.Name+".example.hcl", hcl.InitialPos)
			if diags.HasErrors() {
				t.Fatalf("example does not parse: %v", diags)
			}
			body := f.Body.(*hclsyntax.Body)
			if len(body.Blocks) != 1 || body.Blocks[0].Type != s.Name || len(body.Blocks[0].Labels) != 1 {
				t.Fatalf("example must be one %s \"name\" { } block", s.Name)
			}
			ctx := &hcl.EvalContext{Variables: map[string]cty.Value{
				"var": cty.ObjectVal(map[string]cty.Value{"site": cty.StringVal("example.org"), "env": cty.StringVal("prod")}),
			}}
			if tv, ok := m.(contract.TemplateVars); ok {
				// As the engine does: the module expands these itself.
				for _, n := range tv.TemplateVars() {
					ctx.Variables[n] = cty.StringVal("${" + n + "}")
				}
			}
			if _, diags := hcldec.Decode(body.Blocks[0].Body, config.Spec(s), ctx); diags.HasErrors() {
				t.Errorf("example does not decode: %v", diags)
			}
		})
	}
}

// The examples of the file modules configure without error (given the
// local source files they name).
func TestExamplesConfigure(t *testing.T) {
	for _, name := range fileModules {
		m := mod(t, name)
		s := m.Spec()
		t.Run(name, func(t *testing.T) {
			f, _ := hclsyntax.ParseConfig([]byte(s.Example), "example.hcl", hcl.InitialPos)
			blk := f.Body.(*hclsyntax.Body).Blocks[0]
			ctx := &hcl.EvalContext{Variables: map[string]cty.Value{
				"var": cty.ObjectVal(map[string]cty.Value{"site": cty.StringVal("example.org")}),
			}}
			vals, diags := hcldec.Decode(blk.Body, config.Spec(s), ctx)
			if diags.HasErrors() {
				t.Fatal(diags)
			}
			dir := t.TempDir()
			if vals.Type().HasAttribute("source") && !vals.GetAttr("source").IsNull() {
				p := filepath.Join(dir, vals.GetAttr("source").AsString())
				if name == "copy" {
					p = filepath.Join(p, "index.html")
				}
				writeLocal(t, p, "${server_name} ${join(\",\", upstreams)}\n")
			}
			cfg := contract.Config{Values: vals, Dir: dir, Functions: stdFuncs}
			if _, err := m.Configure(cfg); err != nil {
				t.Fatal(err)
			}
		})
	}
}

func TestConfigureErrors(t *testing.T) {
	dir := t.TempDir()
	writeLocal(t, dir+"/syntax.tmpl", "line one\n  port ${port + } c\n")
	writeLocal(t, dir+"/unknown.tmpl", "a\n  b ${nope} c\n")
	writeLocal(t, dir+"/ok.tmpl", "${port}\n")
	s := str
	list := func(vs ...string) cty.Value {
		var l []cty.Value
		for _, v := range vs {
			l = append(l, s(v))
		}
		return cty.TupleVal(l)
	}
	cases := []struct {
		module string
		attrs  map[string]cty.Value
		attr   string
		msg    string
	}{
		{"file", map[string]cty.Value{}, "path", "is required"},
		{"file", map[string]cty.Value{"path": s("etc/motd")}, "path", "absolute path"},
		{"file", map[string]cty.Value{"path": s("/etc/../motd")}, "path", `".."`},
		{"file", map[string]cty.Value{"path": s("/f"), "mode": s("999")}, "mode", "octal"},
		{"file", map[string]cty.Value{"path": s("/f"), "mode": s("u+rwx")}, "mode", "octal"},
		{"file", map[string]cty.Value{"path": s("/f"), "mode": s("17777")}, "mode", "octal"},
		{"file", map[string]cty.Value{"path": s("/f"), "state": s("gone")}, "state", `"present", "absent"`},
		{"file", map[string]cty.Value{"path": s("/f"), "owner": s("-rf")}, "owner", "user or group name"},
		{"file", map[string]cty.Value{"path": s("/f"), "group": s("a b")}, "group", "user or group name"},
		{"file", map[string]cty.Value{"path": cty.UnknownVal(cty.String)}, "path", "not known until the play runs"},
		{"directory", map[string]cty.Value{"path": s("/"), "state": s("absent")}, "path", "refusing to remove /"},
		{"directory", map[string]cty.Value{"path": s("/etc/"), "state": s("absent")}, "path", "refusing to remove /etc"},
		{"directory", map[string]cty.Value{"path": s("/usr/lib"), "state": s("absent")}, "path", "system directory"},
		{"copy", map[string]cty.Value{"source": s("nope"), "path": s("/x")}, "source", "no such file"},
		{"copy", map[string]cty.Value{"source": s("ok.tmpl"), "path": s("/x"), "mode": s("8")}, "mode", "octal"},
		{"copy", map[string]cty.Value{"source": s("ok.tmpl"), "path": s("/x"), "purge": cty.True}, "purge", "only applies when source is a directory"},
		{"template", map[string]cty.Value{"source": s("syntax.tmpl"), "path": s("/x")}, "source", "syntax.tmpl:2:17: Invalid expression"},
		{"template", map[string]cty.Value{"source": s("unknown.tmpl"), "path": s("/x")}, "source", "unknown.tmpl:2:7: Unknown variable"},
		{"template", map[string]cty.Value{"source": s("ok.tmpl"), "path": s("/x"), "vars": s("port")}, "vars", "must be an object"},
		{"template", map[string]cty.Value{"source": s("missing.tmpl"), "path": s("/x")}, "source", "cannot read"},
		{"line", map[string]cty.Value{"path": s("/f"), "line": s("x"), "regexp": s("(")}, "regexp", "not a valid regular expression"},
		{"line", map[string]cty.Value{"path": s("/f"), "line": s("x"), "insert_after": s("a"), "insert_before": s("b")}, "insert_before", "insert_after"},
		{"line", map[string]cty.Value{"path": s("/f"), "line": s("a\nb")}, "line", "one line"},
		{"line", map[string]cty.Value{"path": s("/f")}, "line", "required"},
		{"line", map[string]cty.Value{"path": s("/f"), "state": s("absent")}, "regexp", "which lines to remove"},
		{"symlink", map[string]cty.Value{"path": s("/l")}, "target", "required"},
		{"command", map[string]cty.Value{}, "run", "is required"},
		{"command", map[string]cty.Value{"run": s("")}, "run", "empty"},
		{"command", map[string]cty.Value{"run": s("echo $HOME")}, "run", "use the shell module"},
		{"command", map[string]cty.Value{"run": s("ls | wc")}, "run", "use the shell module"},
		{"command", map[string]cty.Value{"run": s("echo 'open")}, "run", "unterminated single quote"},
		{"command", map[string]cty.Value{"run": list("-x")}, "run", "starts with -"},
		{"command", map[string]cty.Value{"run": cty.NumberIntVal(5)}, "run", "string or a list of strings"},
		{"command", map[string]cty.Value{"run": s("true"), "creates": s("rel")}, "creates", "relative to chdir"},
		{"command", map[string]cty.Value{"run": s("true"), "chdir": s("rel")}, "chdir", "absolute"},
		{"command", map[string]cty.Value{"run": s("true"), "env": cty.MapVal(map[string]cty.Value{"A-B": s("x")})}, "env", "not a valid environment variable name"},
		{"shell", map[string]cty.Value{"run": s("  ")}, "run", "empty"},
	}
	for _, c := range cases {
		_, err := mod(t, c.module).Configure(contract.Config{Values: cty.ObjectVal(c.attrs), Dir: dir, Functions: stdFuncs})
		var ae *contract.AttrError
		if !errors.As(err, &ae) {
			t.Errorf("%s %v: got %v, want an AttrError on %s", c.module, c.attrs, err, c.attr)
			continue
		}
		if ae.Attr != c.attr || !strings.Contains(ae.Msg, c.msg) {
			t.Errorf("%s %v: got %s: %s, want %s: …%s…", c.module, c.attrs, ae.Attr, ae.Msg, c.attr, c.msg)
		}
	}
}

// Template errors carry the hcl.Diagnostics, for the engine's snippets.
func TestTemplateErrorDiagnostics(t *testing.T) {
	dir := t.TempDir()
	writeLocal(t, dir+"/t.tmpl", "x\n%{ if }\n")
	_, err := mod(t, "template").Configure(contract.Config{Dir: dir, Values: cty.ObjectVal(map[string]cty.Value{
		"source": str("t.tmpl"), "path": str("/x"),
	})})
	var diags hcl.Diagnostics
	if !errors.As(err, &diags) || !diags.HasErrors() || diags[0].Subject == nil || diags[0].Subject.Filename != filepath.Join(dir, "t.tmpl") {
		t.Fatalf("got %v", err)
	}
}
