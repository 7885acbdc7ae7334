package graph

import (
	"errors"
	"reflect"
	"slices"
	"strings"
	"testing"
)

// build returns a graph with the given vertices (space-separated, in
// insertion order) and edges ("a>b" means b depends on a).
func build(t testing.TB, vertices, edges string) *Graph[string] {
	t.Helper()
	g := New[string]()
	for _, v := range strings.Fields(vertices) {
		g.AddVertex(v)
	}
	for _, e := range strings.Fields(edges) {
		from, to, ok := strings.Cut(e, ">")
		if !ok {
			t.Fatalf("bad edge spec %q", e)
		}
		if err := g.AddEdge(from, to, "test"); err != nil {
			t.Fatal(err)
		}
	}
	return g
}

func TestAddVertexAndEdge(t *testing.T) {
	g := New[string]()
	if !g.AddVertex("b") || !g.AddVertex("a") {
		t.Fatal("AddVertex of a new vertex returned false")
	}
	if g.AddVertex("b") {
		t.Error("AddVertex of an existing vertex returned true")
	}
	if got := g.Vertices(); !slices.Equal(got, []string{"b", "a"}) {
		t.Errorf("Vertices = %v, want insertion order [b a]", got)
	}
	if err := g.AddEdge("a", "missing", "reference"); err == nil || !strings.Contains(err.Error(), "unknown vertex missing") {
		t.Errorf("AddEdge to unknown vertex: err = %v", err)
	}
	if err := g.AddEdge("missing", "a", "reference"); err == nil {
		t.Error("AddEdge from unknown vertex: no error")
	}
	for _, r := range []string{"reference", "depends_on", "reference", ""} {
		if err := g.AddEdge("b", "a", r); err != nil {
			t.Fatal(err)
		}
	}
	e, ok := g.Edge("b", "a")
	if !ok || !slices.Equal(e.Reasons, []string{"reference", "depends_on"}) {
		t.Errorf("Edge(b, a) = %v, %v; want reasons [reference depends_on]", e, ok)
	}
	if _, ok := g.Edge("a", "b"); ok {
		t.Error("Edge(a, b) exists, but only b -> a was added")
	}
	if got := g.Dependencies("a"); !slices.Equal(got, []string{"b"}) {
		t.Errorf("Dependencies(a) = %v", got)
	}
	if got := g.Dependants("b"); !slices.Equal(got, []string{"a"}) {
		t.Errorf("Dependants(b) = %v", got)
	}
	if got := g.Edges(); len(got) != 1 {
		t.Errorf("Edges = %v, want one edge (duplicates merged)", got)
	}
	if g.Len() != 2 || !g.Has("a") || g.Has("missing") {
		t.Errorf("Len/Has wrong: Len=%d", g.Len())
	}
}

func TestEdgesOrder(t *testing.T) {
	g := build(t, "a b c d", "c>d a>d b>c a>b")
	var got []string
	for _, e := range g.Edges() {
		got = append(got, e.From+">"+e.To)
	}
	want := []string{"a>b", "a>d", "b>c", "c>d"}
	if !slices.Equal(got, want) {
		t.Errorf("Edges = %v, want %v", got, want)
	}
}

func TestAncestorsDescendants(t *testing.T) {
	g := build(t, "a b c d e", "a>b b>c d>c c>e")
	tests := []struct {
		name string
		got  []string
		want []string
	}{
		{"ancestors of c", g.Ancestors("c"), []string{"a", "b", "c", "d"}},
		{"ancestors of a", g.Ancestors("a"), []string{"a"}},
		{"descendants of b", g.Descendants("b"), []string{"b", "c", "e"}},
		{"descendants of a and d", g.Descendants("d", "a"), []string{"a", "b", "c", "d", "e"}},
		{"unknown", g.Ancestors("zzz"), nil},
	}
	for _, tt := range tests {
		if !slices.Equal(tt.got, tt.want) {
			t.Errorf("%s = %v, want %v", tt.name, tt.got, tt.want)
		}
	}
}

func TestCycles(t *testing.T) {
	tests := []struct {
		name     string
		vertices string
		edges    string
		want     [][]string
	}{
		{"acyclic", "a b c", "a>b b>c a>c", nil},
		{"empty", "", "", nil},
		{"self-loop", "a b", "a>a a>b", [][]string{{"a"}}},
		{"two-cycle", "a b", "a>b b>a", [][]string{{"a", "b"}}},
		{"three-cycle in cycle order", "c a b", "a>b b>c c>a", [][]string{{"c", "a", "b"}}},
		{
			"two disjoint cycles both reported",
			"x a b c y d e",
			"a>b b>c c>a d>e e>d x>a c>y",
			[][]string{{"a", "b", "c"}, {"d", "e"}},
		},
		{"cycle and self-loop", "a b c", "a>b b>a c>c", [][]string{{"a", "b"}, {"c"}}},
		{
			// No simple cycle passes through a, b and c: the walk names all.
			"figure eight", "a b c", "a>b b>a b>c c>b",
			[][]string{{"a", "b", "c", "b"}},
		},
		{"cycle with chord", "a b c d", "a>b b>c c>d d>a a>c", [][]string{{"a", "b", "c", "d"}}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			g := build(t, tt.vertices, tt.edges)
			got := g.Cycles()
			if !reflect.DeepEqual(got, tt.want) {
				t.Fatalf("Cycles = %v, want %v", got, tt.want)
			}
			// Every cycle is a real closed walk in the graph.
			for _, c := range got {
				for i, v := range c {
					next := c[(i+1)%len(c)]
					if _, ok := g.Edge(v, next); !ok {
						t.Errorf("cycle %v: no edge %s -> %s", c, v, next)
					}
				}
			}
			_, err := g.TopoOrder()
			var ce *CycleError[string]
			if (err != nil) != (tt.want != nil) {
				t.Fatalf("TopoOrder err = %v, want error: %v", err, tt.want != nil)
			}
			if err != nil && (!errors.As(err, &ce) || !reflect.DeepEqual(ce.Cycles, tt.want)) {
				t.Errorf("TopoOrder err = %#v, want *CycleError with %v", err, tt.want)
			}
		})
	}
}

func TestCycleErrorMessage(t *testing.T) {
	tests := []struct {
		vertices, edges, want string
	}{
		{"a b c", "a>b b>c c>a", "dependency cycle: a → b → c → a"},
		{"a b", "a>b b>a b>b", "dependency cycle: a → b → a"},
		{"a b c", "a>b b>a c>c", "2 dependency cycles: a → b → a; c → c"},
	}
	for _, tt := range tests {
		_, err := build(t, tt.vertices, tt.edges).TopoOrder()
		if err == nil || err.Error() != tt.want {
			t.Errorf("%s: err = %v, want %q", tt.edges, err, tt.want)
		}
	}
	if got := FormatCycle([]string{"x", "y"}, strings.ToUpper); got != "X → Y → X" {
		t.Errorf("FormatCycle with label = %q", got)
	}
}

func TestTopoOrder(t *testing.T) {
	tests := []struct {
		name     string
		vertices string
		edges    string
		want     string
	}{
		{"no edges keeps insertion order", "c a b", "", "c a b"},
		{"edge moves dependency first", "a b c", "c>a", "b c a"},
		{"chain against insertion order", "a b c d", "d>c c>b b>a", "d c b a"},
		{"ready vertices in insertion order", "x a b y", "y>a", "x b y a"},
		{"diamond", "d b c a", "a>b a>c b>d c>d", "a b c d"},
		{"independent tail stays in place", "a b c d e", "d>b", "a c d b e"},
		{"empty", "", "", ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			g := build(t, tt.vertices, tt.edges)
			got, err := g.TopoOrder()
			if err != nil {
				t.Fatal(err)
			}
			if strings.Join(got, " ") != tt.want {
				t.Errorf("TopoOrder = %v, want %s", got, tt.want)
			}
			// Calling again gives the same order.
			again, _ := g.TopoOrder()
			if !slices.Equal(got, again) {
				t.Errorf("TopoOrder not stable: %v then %v", got, again)
			}
		})
	}
}

func TestTransitiveReduction(t *testing.T) {
	tests := []struct {
		name     string
		vertices string
		edges    string
		want     string
	}{
		{"chain with shortcut", "a b c", "a>b b>c a>c", "a>b b>c"},
		{"long shortcut", "a b c d", "a>b b>c c>d a>d b>d", "a>b b>c c>d"},
		{"diamond kept", "a b c d", "a>b a>c b>d c>d", "a>b a>c b>d c>d"},
		{"diamond plus shortcut", "a b c d", "a>b a>c b>d c>d a>d", "a>b a>c b>d c>d"},
		{"nothing to drop", "a b c", "a>c b>c", "a>c b>c"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			g := build(t, tt.vertices, tt.edges)
			r, err := g.TransitiveReduction()
			if err != nil {
				t.Fatal(err)
			}
			var got []string
			for _, e := range r.Edges() {
				got = append(got, e.From+">"+e.To)
				if !slices.Equal(e.Reasons, []string{"test"}) {
					t.Errorf("edge %s>%s lost its reasons: %v", e.From, e.To, e.Reasons)
				}
			}
			if strings.Join(got, " ") != tt.want {
				t.Errorf("reduced edges = %v, want %s", got, tt.want)
			}
			if !slices.Equal(r.Vertices(), g.Vertices()) {
				t.Errorf("vertices changed: %v", r.Vertices())
			}
			o1, _ := g.TopoOrder()
			o2, _ := r.TopoOrder()
			if !slices.Equal(o1, o2) {
				t.Errorf("TopoOrder changed: %v vs %v", o1, o2)
			}
			if len(g.Edges()) != len(strings.Fields(tt.edges)) {
				t.Error("TransitiveReduction modified the original graph")
			}
		})
	}
	if _, err := build(t, "a b", "a>b b>a").TransitiveReduction(); err == nil {
		t.Error("TransitiveReduction of a cyclic graph: no error")
	}
}

func TestMinHeap(t *testing.T) {
	in := []int{5, 3, 9, 1, 1, 8, 0, 7, 2, 6, 4}
	var h minHeap
	for _, v := range in {
		h.push(v)
	}
	var got []int
	for len(h) > 0 {
		got = append(got, h.pop())
	}
	want := slices.Sorted(slices.Values(in))
	if !slices.Equal(got, want) {
		t.Errorf("popped %v, want %v", got, want)
	}
}
