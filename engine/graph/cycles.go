package graph

import (
	"fmt"
	"slices"
	"strings"
)

// Cycles returns every cycle in the graph, one per strongly connected
// component that has more than one vertex or a self-loop, ordered by the
// insertion order of their first vertex. It returns nil for an acyclic graph.
//
// Each cycle starts at the component's first-inserted vertex and lists the
// vertices in edge order: each depends on the one before it, and the first
// depends on the last. Every vertex of the component appears, so an error can
// name every task involved; a vertex repeats only when no simple cycle passes
// through all of them (a -> b -> a plus b -> c -> b gives [a b c b]).
func (g *Graph[K]) Cycles() [][]K {
	var out [][]K
	for _, c := range g.cycles() {
		out = append(out, g.keysOf(c))
	}
	return out
}

func (g *Graph[K]) cycles() [][]int {
	comp := g.tarjan()
	members := map[int][]int{}
	for v, c := range comp {
		members[c] = append(members[c], v) // ascending, since v ascends
	}
	var out [][]int
	for c, ms := range members {
		if len(ms) == 1 && !slices.Contains(g.dependants[ms[0]], ms[0]) {
			continue
		}
		out = append(out, g.closedWalk(ms, comp, c))
	}
	slices.SortFunc(out, func(a, b []int) int { return a[0] - b[0] })
	return out
}

// tarjan returns, for every vertex, the id of its strongly connected component.
func (g *Graph[K]) tarjan() []int {
	n := len(g.keys)
	const unvisited = -1
	index := make([]int, n)
	low := make([]int, n)
	onStack := make([]bool, n)
	comp := make([]int, n)
	for i := range index {
		index[i] = unvisited
	}
	var stack []int
	next, ncomp := 0, 0

	var connect func(v int)
	connect = func(v int) {
		index[v], low[v] = next, next
		next++
		stack = append(stack, v)
		onStack[v] = true
		for _, w := range g.dependants[v] {
			if index[w] == unvisited {
				connect(w)
				low[v] = min(low[v], low[w])
			} else if onStack[w] {
				low[v] = min(low[v], index[w])
			}
		}
		if low[v] == index[v] {
			for {
				w := stack[len(stack)-1]
				stack = stack[:len(stack)-1]
				onStack[w] = false
				comp[w] = ncomp
				if w == v {
					break
				}
			}
			ncomp++
		}
	}
	for v := range n {
		if index[v] == unvisited {
			connect(v)
		}
	}
	return comp
}

// closedWalk returns a closed walk through every member of component c,
// starting at its first member: from the current vertex it walks the shortest
// path to the nearest member not yet visited, and finally back to the start.
func (g *Graph[K]) closedWalk(members []int, comp []int, c int) []int {
	start := members[0]
	if len(members) == 1 {
		return []int{start} // self-loop
	}
	remaining := map[int]bool{}
	for _, m := range members[1:] {
		remaining[m] = true
	}
	walk := []int{start}
	cur := start
	for len(remaining) > 0 {
		path := g.shortestPath(cur, func(v int) bool { return remaining[v] }, comp, c)
		for _, v := range path[1:] {
			walk = append(walk, v)
			delete(remaining, v)
		}
		cur = path[len(path)-1]
	}
	back := g.shortestPath(cur, func(v int) bool { return v == start }, comp, c)
	return append(walk, back[1:len(back)-1]...)
}

// shortestPath does a breadth-first search within component c from 'from'
// (exclusive) to the first vertex satisfying target, and returns the path
// including both ends. Within a strongly connected component it always exists.
func (g *Graph[K]) shortestPath(from int, target func(int) bool, comp []int, c int) []int {
	prev := map[int]int{from: -1}
	queue := []int{from}
	for len(queue) > 0 {
		v := queue[0]
		queue = queue[1:]
		for _, w := range g.dependants[v] {
			if comp[w] != c {
				continue
			}
			if target(w) {
				path := []int{w}
				for u := v; u != -1; u = prev[u] {
					path = append(path, u)
				}
				slices.Reverse(path)
				return path
			}
			if _, seen := prev[w]; !seen {
				prev[w] = v
				queue = append(queue, w)
			}
		}
	}
	panic("graph: no path within a strongly connected component")
}

// CycleError reports that a graph has cycles, so it has no topological order.
type CycleError[K comparable] struct {
	Cycles [][]K // as returned by Graph.Cycles
}

func (e *CycleError[K]) Error() string {
	parts := make([]string, len(e.Cycles))
	for i, c := range e.Cycles {
		parts[i] = FormatCycle(c, nil)
	}
	if len(parts) == 1 {
		return "dependency cycle: " + parts[0]
	}
	return fmt.Sprintf("%d dependency cycles: %s", len(parts), strings.Join(parts, "; "))
}

// FormatCycle renders a cycle from Cycles as "a → b → c → a". A nil label
// formats vertices with fmt.Sprint.
func FormatCycle[K comparable](cycle []K, label func(K) string) string {
	if len(cycle) == 0 {
		return ""
	}
	if label == nil {
		label = func(v K) string { return fmt.Sprint(v) }
	}
	var b strings.Builder
	for _, v := range cycle {
		b.WriteString(label(v))
		b.WriteString(" → ")
	}
	b.WriteString(label(cycle[0]))
	return b.String()
}
