package config

import (
	"bytes"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/hashicorp/hcl/v2/hclparse"

	"github.com/drover-cm/drover/internal/golden"
)

// TestStackDiagnostics loads each testdata/stacks/<case>/site.hcl and
// compares its diagnostics, rendered as the CLI prints them, with
// diags.txt (go test -run TestStackDiagnostics -update rewrites them).
// Every case must fail before any host is known, at the call site and,
// where a variable is involved, naming its definition.
func TestStackDiagnostics(t *testing.T) {
	dirs, _ := filepath.Glob("testdata/stacks/*")
	if len(dirs) == 0 {
		t.Fatal("no cases")
	}
	wd, _ := os.Getwd()
	for _, dir := range dirs {
		t.Run(filepath.Base(dir), func(t *testing.T) {
			p := hclparse.NewParser()
			_, diags := LoadFiles(p, fakeCatalog(), filepath.Join(dir, "site.hcl"))
			if !diags.HasErrors() {
				t.Fatalf("no error")
			}
			var b bytes.Buffer
			WriteDiagnostics(&b, p.Files(), diags, 0, false)
			b.WriteString("---\n")
			WriteCompact(&b, diags)
			golden.Check(t, filepath.Join(dir, "diags.txt"), strings.ReplaceAll(b.String(), wd, "$PKG"))
		})
	}
}

// TestStackCallsFlattened: every call path gets its own copies of the
// stack's tasks and handlers, in file order, with addresses that carry the
// path, and the graph orders a call's tasks after what its inputs use and
// the play's tasks using an output after the tasks that output uses.
func TestStackCallsFlattened(t *testing.T) {
	dir := t.TempDir()
	write := func(p, s string) {
		os.MkdirAll(filepath.Dir(filepath.Join(dir, p)), 0o755)
		os.WriteFile(filepath.Join(dir, p), []byte(s), 0o644)
	}
	write("site.hcl", `
play "web" {
  hosts = "all"
  command "first" { run = ["true"] }
  stack "a" {
    source = "./st"
    dir    = command.first.run[0]
  }
  stack "b" {
    source = "./st"
    dir    = "/b"
  }
  directory "last" { path = stack.a.out }
  directory "after" {
    path       = "/after"
    depends_on = [stack.b]
  }
}`)
	write("st/main.hcl", `
variable "dir" { type = string }
directory "d" { path = var.dir }
stack "inner" {
  source = "./inner"
  path   = "${directory.d.path}/x"
}
output "out" { value = stack.inner.made }`)
	write("st/inner/main.hcl", `
variable "path" { type = string }
directory "made" {
  path   = var.path
  notify = [handler.h]
}
handler "h" {
  command { run = ["true"] }
}
output "made" { value = directory.made.path }`)
	p := hclparse.NewParser()
	pb, diags := LoadFiles(p, fakeCatalog(), filepath.Join(dir, "site.hcl"))
	if diags.HasErrors() {
		t.Fatal(diags)
	}
	pl := pb.Plays[0]
	var addrs []string
	for _, tk := range pl.Tasks {
		addrs = append(addrs, tk.Addr())
	}
	want := "command.first stack.a.directory.d stack.a.stack.inner.directory.made stack.b.directory.d stack.b.stack.inner.directory.made directory.last directory.after"
	if got := strings.Join(addrs, " "); got != want {
		t.Errorf("tasks:\n got %s\nwant %s", got, want)
	}
	if len(pl.Handlers) != 2 || pl.Handlers[1].Addr() != "stack.b.stack.inner.handler.h" {
		t.Errorf("handlers: %v", pl.Handlers)
	}
	g, _ := PlayGraph(pl)
	byAddr := map[string]*Task{}
	for _, tk := range pl.Tasks {
		byAddr[tk.Addr()] = tk
	}
	below := func(from, to string) bool {
		for _, d := range g.Descendants(byAddr[from]) {
			if d == byAddr[to] {
				return true
			}
		}
		return false
	}
	for _, e := range [][2]string{
		{"command.first", "stack.a.stack.inner.directory.made"},  // an input of a, through nesting
		{"stack.a.stack.inner.directory.made", "directory.last"}, // an output, through a nested output
		{"stack.a.directory.d", "stack.a.stack.inner.directory.made"},
		{"stack.b.stack.inner.directory.made", "directory.after"}, // depends_on = [stack.b]
	} {
		if !below(e[0], e[1]) {
			t.Errorf("%s should run before %s", e[0], e[1])
		}
	}
	if below("command.first", "stack.b.directory.d") || below("stack.b.stack.inner.directory.made", "directory.last") {
		t.Errorf("stack.b is ordered by stack.a's edges")
	}
}
