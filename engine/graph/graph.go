// Package graph is a dependency graph of comparable keys: vertices in
// insertion order, edges from a dependency to its dependant with the reasons
// the edge exists, cycle detection that reports every cycle, a stable
// topological order and Graphviz output. Running the vertices is the
// engine's job (engine/run turns a host's ordered tasks into segments).
//
// It knows nothing about configuration management; the engine uses task
// addresses such as "template.nginx_site" as keys.
//
// Insertion order is significant: where no edge orders two vertices, the one
// added first comes first, so a plan reads top to bottom like the file.
//
// A Graph is not safe for concurrent mutation. Read-only methods may run
// concurrently with each other.
package graph

import (
	"fmt"
	"slices"
)

// Graph is a directed graph whose edges run from a dependency to its
// dependant. The zero value is not usable; call New.
type Graph[K comparable] struct {
	keys       []K       // vertices in insertion order; a vertex's index is its position
	index      map[K]int // key -> index
	deps       [][]int   // deps[i]: indices i depends on, ascending
	dependants [][]int   // dependants[i]: indices depending on i, ascending
	reasons    map[edge][]string
}

type edge struct{ from, to int }

// Edge is a dependency edge: To depends on From.
type Edge[K comparable] struct {
	From, To K
	// Reasons say why the edge exists ("reference", "depends_on",
	// "inferred: /srv/app is inside directory.app"), in the order added.
	Reasons []string
}

// New returns an empty graph.
func New[K comparable]() *Graph[K] {
	return &Graph[K]{index: map[K]int{}, reasons: map[edge][]string{}}
}

// AddVertex adds v after every vertex already present. It reports false, and
// keeps v's original position, if v was already present.
func (g *Graph[K]) AddVertex(v K) bool {
	if _, ok := g.index[v]; ok {
		return false
	}
	g.index[v] = len(g.keys)
	g.keys = append(g.keys, v)
	g.deps = append(g.deps, nil)
	g.dependants = append(g.dependants, nil)
	return true
}

// AddEdge records that to depends on from, for the given reason. Adding an
// existing edge again appends the reason if it is new. A self-loop (from ==
// to) is allowed so that Cycles can report it. Both vertices must already
// exist: adding them implicitly would silently decide their order.
func (g *Graph[K]) AddEdge(from, to K, reason string) error {
	f, ok := g.index[from]
	if !ok {
		return fmt.Errorf("graph: edge %v -> %v: unknown vertex %v", from, to, from)
	}
	t, ok := g.index[to]
	if !ok {
		return fmt.Errorf("graph: edge %v -> %v: unknown vertex %v", from, to, to)
	}
	e := edge{f, t}
	rs, exists := g.reasons[e]
	if !exists {
		g.deps[t] = insertSorted(g.deps[t], f)
		g.dependants[f] = insertSorted(g.dependants[f], t)
	}
	if reason != "" && !slices.Contains(rs, reason) {
		rs = append(rs, reason)
	}
	g.reasons[e] = rs
	return nil
}

func insertSorted(s []int, v int) []int {
	i, _ := slices.BinarySearch(s, v)
	return slices.Insert(s, i, v)
}

// Len returns the number of vertices.
func (g *Graph[K]) Len() int { return len(g.keys) }

// Has reports whether v is a vertex.
func (g *Graph[K]) Has(v K) bool {
	_, ok := g.index[v]
	return ok
}

// Vertices returns every vertex in insertion order.
func (g *Graph[K]) Vertices() []K { return slices.Clone(g.keys) }

// Dependencies returns the vertices v directly depends on, in insertion order.
func (g *Graph[K]) Dependencies(v K) []K {
	i, ok := g.index[v]
	if !ok {
		return nil
	}
	return g.keysOf(g.deps[i])
}

// Dependants returns the vertices directly depending on v, in insertion order.
func (g *Graph[K]) Dependants(v K) []K {
	i, ok := g.index[v]
	if !ok {
		return nil
	}
	return g.keysOf(g.dependants[i])
}

// Edge returns the edge from -> to, if there is one.
func (g *Graph[K]) Edge(from, to K) (Edge[K], bool) {
	f, ok1 := g.index[from]
	t, ok2 := g.index[to]
	if !ok1 || !ok2 {
		return Edge[K]{}, false
	}
	rs, ok := g.reasons[edge{f, t}]
	if !ok {
		return Edge[K]{}, false
	}
	return Edge[K]{From: from, To: to, Reasons: slices.Clone(rs)}, true
}

// Edges returns every edge, ordered by the insertion order of From, then of To.
func (g *Graph[K]) Edges() []Edge[K] {
	var es []Edge[K]
	for f, ts := range g.dependants {
		for _, t := range ts {
			es = append(es, Edge[K]{From: g.keys[f], To: g.keys[t], Reasons: slices.Clone(g.reasons[edge{f, t}])})
		}
	}
	return es
}

// Ancestors returns every vertex that vs transitively depend on, plus vs
// themselves, in insertion order: what must run for vs to run. Unknown
// vertices are ignored.
func (g *Graph[K]) Ancestors(vs ...K) []K { return g.reach(g.deps, vs) }

// Descendants returns every vertex that transitively depends on vs, plus vs
// themselves, in insertion order: what a failure of vs would skip. Unknown
// vertices are ignored.
func (g *Graph[K]) Descendants(vs ...K) []K { return g.reach(g.dependants, vs) }

func (g *Graph[K]) reach(adj [][]int, vs []K) []K {
	seen := make([]bool, len(g.keys))
	var stack []int
	for _, v := range vs {
		if i, ok := g.index[v]; ok && !seen[i] {
			seen[i] = true
			stack = append(stack, i)
		}
	}
	for len(stack) > 0 {
		i := stack[len(stack)-1]
		stack = stack[:len(stack)-1]
		for _, j := range adj[i] {
			if !seen[j] {
				seen[j] = true
				stack = append(stack, j)
			}
		}
	}
	var out []K
	for i, ok := range seen {
		if ok {
			out = append(out, g.keys[i])
		}
	}
	return out
}

func (g *Graph[K]) keysOf(is []int) []K {
	if len(is) == 0 {
		return nil
	}
	out := make([]K, len(is))
	for n, i := range is {
		out[n] = g.keys[i]
	}
	return out
}
