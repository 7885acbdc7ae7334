package lang

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/hashicorp/hcl/v2"
	"github.com/hashicorp/hcl/v2/hclsyntax"
	"github.com/zclconf/go-cty/cty"
)

func eval(t *testing.T, dir, src string, vars map[string]cty.Value) (cty.Value, error) {
	t.Helper()
	expr, diags := hclsyntax.ParseExpression([]byte(src), "test.hcl", hcl.InitialPos)
	if diags.HasErrors() {
		t.Fatalf("parse %s: %s", src, diags)
	}
	s := &Scope{Vars: vars, Functions: Functions(dir)}
	v, diags := expr.Value(s.EvalContext())
	if diags.HasErrors() {
		return cty.NilVal, diags
	}
	return v, nil
}

func TestFileFunctions(t *testing.T) {
	outside := t.TempDir()
	os.WriteFile(filepath.Join(outside, "secret"), []byte("top secret"), 0o600)
	dir := t.TempDir()
	os.MkdirAll(filepath.Join(dir, "templates"), 0o755)
	os.WriteFile(filepath.Join(dir, "motd.txt"), []byte("hello\n"), 0o644)
	os.WriteFile(filepath.Join(dir, "templates", "site.tftpl"), []byte("listen ${port};\n%{ for s in servers ~}\nserver ${s};\n%{ endfor ~}\n"), 0o644)
	os.WriteFile(filepath.Join(dir, "templates", "self.tftpl"), []byte(`${templatefile("templates/self.tftpl", {})}`), 0o644)
	os.WriteFile(filepath.Join(dir, "templates", "missing.tftpl"), []byte("${nope}"), 0o644)
	os.Symlink(filepath.Join(outside, "secret"), filepath.Join(dir, "link"))
	os.WriteFile(filepath.Join(dir, "binary"), []byte{0xff, 0xfe, 0}, 0o644)

	cases := []struct {
		name, expr string
		want       string // the string result, or
		err        string // a substring of the error
	}{
		{"file relative", `file("motd.txt")`, "hello\n", ""},
		{"file absolute inside", `file("` + filepath.Join(dir, "motd.txt") + `")`, "hello\n", ""},
		{"file dotdot", `file("../` + filepath.Base(outside) + `/secret")`, "", "is outside the playbook directory"},
		{"file absolute outside", `file("` + filepath.Join(outside, "secret") + `")`, "", "is outside the playbook directory"},
		{"file symlink escaping", `file("link")`, "", "is outside the playbook directory"},
		{"file missing", `file("nope.txt")`, "", "cannot read nope.txt"},
		{"file binary", `file("binary")`, "", "not UTF-8 text"},
		{"fileexists", `tostring(fileexists("motd.txt"))`, "true", ""},
		{"fileexists no", `tostring(fileexists("nope"))`, "false", ""},
		{"templatefile", `templatefile("templates/site.tftpl", { port = 80, servers = ["a", "b"] })`, "listen 80;\nserver a;\nserver b;\n", ""},
		{"templatefile recursion", `templatefile("templates/self.tftpl", {})`, "", "There is no function named \"templatefile\""},
		{"templatefile missing var", `templatefile("templates/missing.tftpl", {})`, "", `variable "nope" is not in vars`},
		{"templatefile outside", `templatefile("/etc/passwd", {})`, "", "is outside the playbook directory"},
		{"stdlib", `join(",", [upper("a"), format("%03d", 7)])`, "A,007", ""},
		{"base64", `base64decode(base64encode("héllo"))`, "héllo", ""},
		{"sha256", `sha256("abc")`, "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad", ""},
		{"try", `try(var.nope, "fallback")`, "fallback", ""},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			v, err := eval(t, dir, c.expr, map[string]cty.Value{"x": cty.True})
			if c.err != "" {
				if err == nil || !strings.Contains(err.Error(), c.err) {
					t.Fatalf("error = %v, want one containing %q", err, c.err)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if v.AsString() != c.want {
				t.Errorf("= %q, want %q", v.AsString(), c.want)
			}
		})
	}
}

// TestFileFunctionsAllowLocal: --allow-local opens a directory outside the
// playbook to the file functions, and only that one.
func TestFileFunctionsAllowLocal(t *testing.T) {
	allowed, other, dir := t.TempDir(), t.TempDir(), t.TempDir()
	os.WriteFile(filepath.Join(allowed, "ca.pem"), []byte("pem"), 0o644)
	os.WriteFile(filepath.Join(other, "secret"), []byte("s"), 0o600)
	fs := Functions(dir, allowed)
	for _, c := range []struct{ path, err string }{{filepath.Join(allowed, "ca.pem"), ""}, {filepath.Join(other, "secret"), "allowed with --allow-local"}} {
		v, err := fs["file"].Call([]cty.Value{cty.StringVal(c.path)})
		switch {
		case c.err == "" && (err != nil || v.AsString() != "pem"):
			t.Errorf("file(%q) = %#v, %v; want pem", c.path, v, err)
		case c.err != "" && (err == nil || !strings.Contains(err.Error(), c.err)):
			t.Errorf("file(%q): err = %v, want %q", c.path, err, c.err)
		}
	}
}

func TestSensitiveFlowsThroughFunctions(t *testing.T) {
	dir := t.TempDir()
	os.WriteFile(filepath.Join(dir, "t.tftpl"), []byte("password=${pw}\n"), 0o644)
	vars := map[string]cty.Value{"pw": Sensitive(cty.StringVal("hunter2")), "plain": cty.StringVal("x")}
	for _, src := range []string{
		`"prefix-${var.pw}"`,
		`upper(var.pw)`,
		`templatefile("t.tftpl", { pw = var.pw })`,
		`{ a = var.plain, b = var.pw }`,
		`sensitive(var.plain)`,
	} {
		v, err := eval(t, dir, src, vars)
		if err != nil {
			t.Fatalf("%s: %v", src, err)
		}
		if !IsSensitive(v) {
			t.Errorf("%s: result is not sensitive", src)
		}
	}
	v, _ := eval(t, dir, `{ a = var.plain, b = var.pw, c = [var.pw] }`, vars)
	got := SensitiveStrings(v)
	if len(got) != 2 || got[0] != "hunter2" || got[1] != "hunter2" {
		t.Errorf("SensitiveStrings = %q", got)
	}
	v, _ = eval(t, dir, `var.plain`, vars)
	if IsSensitive(v) || len(SensitiveStrings(v)) != 0 {
		t.Errorf("plain value reported sensitive")
	}
}

func TestHostValue(t *testing.T) {
	h := HostValue(HostInfo{Name: "web1", Address: "10.0.0.1", Vars: map[string]cty.Value{"role": cty.StringVal("primary")}, Groups: []string{"web", "all"}})
	s := &Scope{Host: h}
	for src, want := range map[string]string{
		`host.name`:                    "web1",
		`host.address`:                 "10.0.0.1",
		`host.vars.role`:               "primary",
		`join(",", host.groups)`:       "all,web",
		`tostring(host.facts == null)`: "true",
	} {
		expr, _ := hclsyntax.ParseExpression([]byte(src), "t.hcl", hcl.InitialPos)
		s.Functions = Functions(t.TempDir())
		v, diags := expr.Value(s.EvalContext())
		if diags.HasErrors() {
			t.Fatalf("%s: %s", src, diags)
		}
		if v.AsString() != want {
			t.Errorf("%s = %q, want %q", src, v.AsString(), want)
		}
	}
}
