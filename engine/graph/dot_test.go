package graph

import (
	"bytes"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/drover-cm/drover/internal/golden"
)

func TestDotGolden(t *testing.T) {
	g := New[string]()
	for _, v := range []string{
		"directory.app",
		"template.nginx_site",
		"file.conf[2]",
		`file.evil"; rankdir=LR; x -> "y`,
		`back\slash\N`,
		"multi\nline\ttab",
		"bad\xffutf8",
		"ünïcode → ok",
	} {
		g.AddVertex(v)
	}
	edges := []struct{ from, to, reason string }{
		{"directory.app", "file.conf[2]", "inferred: /srv/app is inside directory.app"},
		{"directory.app", "template.nginx_site", "reference"},
		{"directory.app", "template.nginx_site", "depends_on"},
		{"template.nginx_site", `file.evil"; rankdir=LR; x -> "y`, ""},
		{`back\slash\N`, "multi\nline\ttab", `reason "quoted" \l`},
	}
	for _, e := range edges {
		if err := g.AddEdge(e.from, e.to, e.reason); err != nil {
			t.Fatal(err)
		}
	}
	var buf bytes.Buffer
	if err := g.Dot(&buf, nil); err != nil {
		t.Fatal(err)
	}
	golden.Check(t, filepath.Join("testdata", "graph.dot"), buf.String())
	// Hostile names stay inside their quoted labels: one statement per line.
	for _, line := range strings.Split(strings.TrimSpace(buf.String()), "\n") {
		if line != "digraph {" && line != "}" && !strings.HasSuffix(line, ";") {
			t.Errorf("line does not end a statement: %q", line)
		}
	}
}

func TestDotLabel(t *testing.T) {
	g := New[int]()
	g.AddVertex(1)
	g.AddVertex(2)
	if err := g.AddEdge(1, 2, ""); err != nil {
		t.Fatal(err)
	}
	var buf bytes.Buffer
	if err := g.Dot(&buf, func(v int) string { return strings.Repeat("x", v) }); err != nil {
		t.Fatal(err)
	}
	want := "digraph {\n\tnode [shape=box];\n\tn0 [label=\"x\"];\n\tn1 [label=\"xx\"];\n\tn0 -> n1;\n}\n"
	if buf.String() != want {
		t.Errorf("Dot = %q, want %q", buf.String(), want)
	}
}

func TestDotQuote(t *testing.T) {
	tests := []struct{ in, want string }{
		{"plain", `"plain"`},
		{`a"b`, `"a\"b"`},
		{`a\b`, `"a\\b"`},
		{"a\nb", `"a\nb"`},
		{"a\tb", `"a\\u0009b"`},
		{"a\rb", `"a\\u000db"`},
		{"\xff", "\"\uFFFD\""},
		{"", `""`},
	}
	for _, tt := range tests {
		if got := dotQuote(tt.in); got != tt.want {
			t.Errorf("dotQuote(%q) = %s, want %s", tt.in, got, tt.want)
		}
	}
}

// Graphviz, when installed, parses the golden file into exactly the vertices
// and edges it describes: no hostile name injected a statement.
func TestDotParsesWithGraphviz(t *testing.T) {
	dot, err := exec.LookPath("dot")
	if err != nil {
		t.Skip("graphviz dot not installed")
	}
	out, err := exec.Command(dot, "-Tplain", filepath.Join("testdata", "graph.dot")).CombinedOutput()
	if err != nil {
		t.Fatalf("dot rejected the output: %v\n%s", err, out)
	}
	var nodes, edges int
	for _, line := range strings.Split(string(out), "\n") {
		switch {
		case strings.HasPrefix(line, "node "):
			nodes++
		case strings.HasPrefix(line, "edge "):
			edges++
		}
	}
	if nodes != 8 || edges != 4 {
		t.Errorf("graphviz saw %d nodes and %d edges, want 8 and 4:\n%s", nodes, edges, out)
	}
}
