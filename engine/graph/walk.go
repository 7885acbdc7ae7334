package graph

import (
	"context"
	"errors"
	"fmt"
)

// Status is what happened to a vertex during a walk.
type Status int

const (
	NotRun  Status = iota // never started: the walk was cancelled or stopped first
	OK                    // fn returned nil
	Failed                // fn returned an error
	Skipped               // not called because a dependency failed or was skipped
)

func (s Status) String() string {
	switch s {
	case NotRun:
		return "not run"
	case OK:
		return "ok"
	case Failed:
		return "failed"
	case Skipped:
		return "skipped"
	}
	return fmt.Sprintf("Status(%d)", int(s))
}

// WalkOptions control a walk.
type WalkOptions struct {
	// Concurrency is how many vertices may run at once. 1 (also used for
	// values below 1) calls fn strictly one at a time, in TopoOrder.
	Concurrency int
	// StopOnError starts no new vertex after the first failure; vertices
	// already running finish, and those never started are NotRun (or Skipped
	// if they depend on the failure).
	StopOnError bool
}

// WalkResult is what happened to one vertex.
type WalkResult[K comparable] struct {
	Vertex K
	Status Status
	Err    error // fn's error, when Status is Failed
	// Cause is the failed vertex upstream of a Skipped one: the failure
	// reached through its first-inserted failed or skipped dependency. Its
	// error is reported once, on Cause, not again for every dependant.
	Cause K
}

// VertexError is a vertex's failure, as joined into Walk's error.
type VertexError[K comparable] struct {
	Vertex K
	Err    error
}

func (e *VertexError[K]) Error() string { return fmt.Sprintf("%v: %v", e.Vertex, e.Err) }
func (e *VertexError[K]) Unwrap() error { return e.Err }

// Walk calls fn for every vertex once all its dependencies have returned
// nil. When fn fails for a vertex, every transitive dependant is Skipped
// without being called, and independent vertices carry on (unless
// StopOnError). When ctx is done, no new vertex starts; running ones are
// waited for, and ctx is passed to fn so they can stop early.
//
// It returns one result per vertex, in TopoOrder, and an error that is nil
// only if every vertex is OK: a *CycleError (and no results) if the graph has
// a cycle, otherwise the failures as *VertexError values joined with ctx's
// error if the walk was cancelled before every vertex ran.
func (g *Graph[K]) Walk(ctx context.Context, opts WalkOptions, fn func(ctx context.Context, v K) error) ([]WalkResult[K], error) {
	order, ok := g.topo()
	if !ok {
		return nil, g.cycleError()
	}
	limit := max(opts.Concurrency, 1)

	type done struct {
		v   int
		err error
	}
	var (
		status   = make([]Status, len(g.keys))
		errs     = make([]error, len(g.keys))
		pending  = make([]int, len(g.keys))
		ready    minHeap
		finished = make(chan done)
		running  = 0
		stopped  = false
	)
	for v, ds := range g.deps {
		pending[v] = len(ds)
		if len(ds) == 0 {
			ready = append(ready, v)
		}
	}
	for {
		for !stopped && running < limit && len(ready) > 0 {
			if ctx.Err() != nil {
				stopped = true
				break
			}
			v := ready.pop()
			running++
			go func() { finished <- done{v, fn(ctx, g.keys[v])} }()
		}
		if running == 0 {
			break
		}
		d := <-finished
		running--
		if d.err != nil {
			status[d.v], errs[d.v] = Failed, d.err
			stopped = stopped || opts.StopOnError
			continue // its dependants never become ready
		}
		status[d.v] = OK
		for _, w := range g.dependants[d.v] {
			if pending[w]--; pending[w] == 0 {
				ready.push(w)
			}
		}
	}

	// Everything that never started is Skipped if a dependency failed or was
	// skipped, NotRun otherwise. In topological order dependencies come first.
	results := make([]WalkResult[K], len(order))
	cause := make([]int, len(g.keys))
	var failures []error
	notRun := false
	for n, v := range order {
		r := WalkResult[K]{Vertex: g.keys[v], Status: status[v], Err: errs[v]}
		switch status[v] {
		case Failed:
			failures = append(failures, &VertexError[K]{Vertex: g.keys[v], Err: errs[v]})
		case NotRun:
			for _, d := range g.deps[v] {
				if status[d] == Failed || status[d] == Skipped {
					status[v], r.Status = Skipped, Skipped
					cause[v] = d
					if status[d] == Skipped {
						cause[v] = cause[d]
					}
					r.Cause = g.keys[cause[v]]
					break
				}
			}
			notRun = notRun || status[v] == NotRun
		}
		results[n] = r
	}
	if notRun && ctx.Err() != nil {
		failures = append(failures, fmt.Errorf("walk cancelled: %w", ctx.Err()))
	}
	return results, errors.Join(failures...)
}
