package inventory

import (
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"

	"github.com/hashicorp/hcl/v2"
	"github.com/hashicorp/hcl/v2/hclparse"
	"github.com/zclconf/go-cty/cty"
)

func init() {
	// The built-in default user is the local user; pin it for tests.
	currentUser = func() string { return "tester" }
}

// writeFiles writes name -> content under a new temporary directory and
// returns the directory.
func writeFiles(t *testing.T, files map[string]string) string {
	t.Helper()
	dir := t.TempDir()
	for name, content := range files {
		p := filepath.Join(dir, name)
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(p, []byte(content), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	return dir
}

// mustLoad loads paths without ssh_config and fails on any error.
func mustLoad(t *testing.T, paths ...string) *Inventory {
	t.Helper()
	inv, diags := Load(paths, LoadOptions{SSHConfigPath: "none"})
	if diags.HasErrors() {
		t.Fatalf("Load(%v): %s", paths, diags.Error())
	}
	return inv
}

func mustHost(t *testing.T, inv *Inventory, name string) *Host {
	t.Helper()
	h, ok := inv.Host(name)
	if !ok {
		t.Fatalf("host %q not found", name)
	}
	return h
}

// varString renders a variable for comparison ("<unset>" when absent).
func varString(h *Host, name string) string {
	v, ok := h.Vars[name]
	if !ok {
		return "<unset>"
	}
	return ctyDebug(v)
}

func ctyDebug(v cty.Value) string {
	if v.IsNull() {
		return "null"
	}
	switch {
	case v.Type() == cty.String:
		return `"` + v.AsString() + `"`
	case v.Type() == cty.Number:
		return v.AsBigFloat().Text('g', -1)
	case v.Type() == cty.Bool:
		if v.True() {
			return "true"
		}
		return "false"
	case v.Type().IsTupleType() || v.Type().IsListType():
		var parts []string
		for it := v.ElementIterator(); it.Next(); {
			_, e := it.Element()
			parts = append(parts, ctyDebug(e))
		}
		return "[" + strings.Join(parts, ", ") + "]"
	case v.Type().IsObjectType() || v.Type().IsMapType():
		var parts []string
		for it := v.ElementIterator(); it.Next(); {
			k, e := it.Element()
			parts = append(parts, k.AsString()+"="+ctyDebug(e))
		}
		return "{" + strings.Join(parts, ", ") + "}"
	}
	return v.GoString()
}

// diagLine is a diagnostic in the one-line form file:line:col: summary: detail.
func diagLine(d *hcl.Diagnostic) string {
	loc := "-"
	if d.Subject != nil {
		loc = filepath.Base(d.Subject.Filename) + ":" + strconv.Itoa(d.Subject.Start.Line) + ":" + strconv.Itoa(d.Subject.Start.Column)
	}
	sev := "error"
	if d.Severity == hcl.DiagWarning {
		sev = "warning"
	}
	return loc + ": " + sev + ": " + d.Summary + ": " + d.Detail
}

func newParserForTest() *hclparse.Parser { return hclparse.NewParser() }

func writeDiags(t *testing.T, p *hclparse.Parser, diags hcl.Diagnostics) string {
	t.Helper()
	var b strings.Builder
	w := hcl.NewDiagnosticTextWriter(&b, p.Files(), 100, false)
	if err := w.WriteDiagnostics(diags); err != nil {
		t.Fatal(err)
	}
	return b.String()
}

func sprintf(format string, args ...any) string { return fmt.Sprintf(format, args...) }

func readIfExists(path string) ([]byte, error) { return os.ReadFile(path) }

func writeFilesIn(t *testing.T, dir string, files map[string]string) {
	t.Helper()
	for name, content := range files {
		p := filepath.Join(dir, name)
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(p, []byte(content), 0o644); err != nil {
			t.Fatal(err)
		}
	}
}

func itoa(n int) string { return strconv.Itoa(n) }
