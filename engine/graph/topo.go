package graph

import "slices"

// TopoOrder returns every vertex in an order where each comes after all its
// dependencies and, among vertices no edge orders, the first inserted comes
// first (Kahn's algorithm, always picking the ready vertex inserted first).
// If the graph has cycles it returns a *CycleError naming all of them.
func (g *Graph[K]) TopoOrder() ([]K, error) {
	order, ok := g.topo()
	if !ok {
		return nil, g.cycleError()
	}
	return g.keysOf(order), nil
}

func (g *Graph[K]) cycleError() error {
	return &CycleError[K]{Cycles: g.Cycles()}
}

// topo returns the stable topological order of vertex indices, or false if
// the graph has a cycle.
func (g *Graph[K]) topo() ([]int, bool) {
	pending := make([]int, len(g.keys)) // unfinished dependencies per vertex
	var ready minHeap
	for v, ds := range g.deps {
		pending[v] = len(ds)
		if len(ds) == 0 {
			ready = append(ready, v) // ascending, so already a heap
		}
	}
	order := make([]int, 0, len(g.keys))
	for len(ready) > 0 {
		v := ready.pop()
		order = append(order, v)
		for _, w := range g.dependants[v] {
			if pending[w]--; pending[w] == 0 {
				ready.push(w)
			}
		}
	}
	return order, len(order) == len(g.keys)
}

// minHeap is a binary min-heap of vertex indices: the lowest index (first
// inserted) pops first. Typed, unlike container/heap, so ints are not boxed.
type minHeap []int

func (h *minHeap) push(v int) {
	*h = append(*h, v)
	s := *h
	for i := len(s) - 1; i > 0; {
		p := (i - 1) / 2
		if s[p] <= s[i] {
			break
		}
		s[p], s[i] = s[i], s[p]
		i = p
	}
}

func (h *minHeap) pop() int {
	s := *h
	top, n := s[0], len(s)-1
	s[0] = s[n]
	s = s[:n]
	for i := 0; ; {
		c := 2*i + 1
		if c >= n {
			break
		}
		if c+1 < n && s[c+1] < s[c] {
			c++
		}
		if s[i] <= s[c] {
			break
		}
		s[i], s[c] = s[c], s[i]
		i = c
	}
	*h = s
	return top
}

// TransitiveReduction returns a copy of the graph without the edges implied
// by others: a -> c is dropped when a -> b -> c exists. Reachability, and so
// TopoOrder and Walk, are unchanged; the copy is for display, where implied
// edges are noise. The original keeps every edge and reason for explanations.
// It returns a *CycleError if the graph has cycles.
func (g *Graph[K]) TransitiveReduction() (*Graph[K], error) {
	if _, ok := g.topo(); !ok {
		return nil, g.cycleError()
	}
	r := New[K]()
	for _, k := range g.keys {
		r.AddVertex(k)
	}
	// For each vertex u, mark everything reachable from u by a path of two or
	// more edges; a direct edge u -> v to a marked v is implied.
	mark := make([]int, len(g.keys)) // mark[v] == u+1: v is indirectly reachable from u
	var stack []int
	for u, children := range g.dependants {
		stack = stack[:0]
		for _, c := range children {
			stack = append(stack, g.dependants[c]...)
		}
		for len(stack) > 0 {
			v := stack[len(stack)-1]
			stack = stack[:len(stack)-1]
			if mark[v] == u+1 {
				continue
			}
			mark[v] = u + 1
			stack = append(stack, g.dependants[v]...)
		}
		for _, v := range children {
			if mark[v] != u+1 {
				e := edge{u, v}
				r.deps[v] = append(r.deps[v], u) // u ascends, so stays sorted
				r.dependants[u] = append(r.dependants[u], v)
				r.reasons[e] = slices.Clone(g.reasons[e])
			}
		}
	}
	return r, nil
}
