package graph

import (
	"bufio"
	"fmt"
	"io"
	"strings"
	"unicode"
)

// Dot writes the graph in Graphviz DOT. Vertices appear in insertion order
// and edges in Edges order, so the output is stable; edges point from a
// dependency to its dependant and are labelled with their reasons. Vertex IDs
// are generated ("n0", "n1", ...) and names go only into quoted labels, so
// any name is safe. A nil label formats vertices with fmt.Sprint.
func (g *Graph[K]) Dot(w io.Writer, label func(K) string) error {
	if label == nil {
		label = func(v K) string { return fmt.Sprint(v) }
	}
	b := bufio.NewWriter(w)
	b.WriteString("digraph {\n\tnode [shape=box];\n")
	for i, k := range g.keys {
		fmt.Fprintf(b, "\tn%d [label=%s];\n", i, dotQuote(label(k)))
	}
	for f, ts := range g.dependants {
		for _, t := range ts {
			fmt.Fprintf(b, "\tn%d -> n%d", f, t)
			if rs := g.reasons[edge{f, t}]; len(rs) > 0 {
				fmt.Fprintf(b, " [label=%s]", dotQuote(strings.Join(rs, "\n")))
			}
			b.WriteString(";\n")
		}
	}
	b.WriteString("}\n")
	return b.Flush()
}

// dotQuote returns s as a DOT quoted string whose label renders as s.
// Backslashes are escaped because Graphviz reads escape sequences (\N, \l)
// in labels; newlines become \n; other control characters and invalid UTF-8
// are shown as visible escapes rather than passed through.
func dotQuote(s string) string {
	var b strings.Builder
	b.WriteByte('"')
	for _, r := range strings.ToValidUTF8(s, "\uFFFD") {
		switch {
		case r == '"':
			b.WriteString(`\"`)
		case r == '\\':
			b.WriteString(`\\`)
		case r == '\n':
			b.WriteString(`\n`)
		case unicode.IsControl(r) || r == '\u2028' || r == '\u2029':
			fmt.Fprintf(&b, `\\u%04x`, r)
		default:
			b.WriteRune(r)
		}
	}
	b.WriteByte('"')
	return b.String()
}
