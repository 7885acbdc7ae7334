package graph

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

// summary renders results as "v:status" or "v:skipped(cause)", in order.
func summary(rs []WalkResult[string]) string {
	parts := make([]string, len(rs))
	for i, r := range rs {
		parts[i] = r.Vertex + ":" + r.Status.String()
		if r.Status == Skipped {
			parts[i] = fmt.Sprintf("%s:skipped(%s)", r.Vertex, r.Cause)
		}
	}
	return strings.Join(parts, " ")
}

func TestWalk(t *testing.T) {
	tests := []struct {
		name     string
		vertices string
		edges    string
		fail     string // vertices whose fn fails
		stop     bool   // StopOnError
		want     string // results in TopoOrder
		wantRan  string // calls, in order (Concurrency 1)
	}{
		{
			name: "all ok", vertices: "a b c", edges: "c>a",
			want:    "b:ok c:ok a:ok",
			wantRan: "b c a",
		},
		{
			name:     "failure skips transitive dependants, independents continue",
			vertices: "a b c d e", edges: "a>b b>c a>d",
			fail:    "a",
			want:    "a:failed b:skipped(a) c:skipped(a) d:skipped(a) e:ok",
			wantRan: "a e",
		},
		{
			name:     "dependant of two failures names the first-inserted dependency's cause",
			vertices: "a b c", edges: "a>c b>c",
			fail:    "a b",
			want:    "a:failed b:failed c:skipped(a)",
			wantRan: "a b",
		},
		{
			name:     "skip through a skipped dependency keeps the root cause",
			vertices: "a b c d", edges: "a>b b>d c>d",
			fail:    "a",
			want:    "a:failed b:skipped(a) c:ok d:skipped(a)",
			wantRan: "a c",
		},
		{
			name:     "stop on error leaves the rest not run",
			vertices: "a b c d", edges: "a>c",
			fail: "b", stop: true,
			want:    "a:ok b:failed c:not run d:not run",
			wantRan: "a b",
		},
		{
			name:     "stop on error still marks dependants skipped",
			vertices: "a b c", edges: "a>b",
			fail: "a", stop: true,
			want:    "a:failed b:skipped(a) c:not run",
			wantRan: "a",
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			g := build(t, tt.vertices, tt.edges)
			fail := strings.Fields(tt.fail)
			var ran []string
			results, err := g.Walk(context.Background(), WalkOptions{Concurrency: 1, StopOnError: tt.stop},
				func(_ context.Context, v string) error {
					ran = append(ran, v) // Concurrency 1: no overlap, no lock needed (race detector checks)
					if slices.Contains(fail, v) {
						return fmt.Errorf("boom %s", v)
					}
					return nil
				})
			if got := summary(results); got != tt.want {
				t.Errorf("results = %s\nwant      %s", got, tt.want)
			}
			if got := strings.Join(ran, " "); got != tt.wantRan {
				t.Errorf("ran = %s, want %s", got, tt.wantRan)
			}
			if len(fail) == 0 {
				if err != nil {
					t.Errorf("err = %v, want nil", err)
				}
				return
			}
			// One error per failed vertex; skipped dependants add none.
			var ve *VertexError[string]
			if !errors.As(err, &ve) {
				t.Fatalf("err = %v, want a *VertexError", err)
			}
			for _, r := range results {
				switch {
				case r.Status == Failed && (r.Err == nil || !strings.Contains(err.Error(), r.Vertex+": boom "+r.Vertex)):
					t.Errorf("failure of %s missing: result err %v, walk err %v", r.Vertex, r.Err, err)
				case r.Status == Skipped && strings.Contains(err.Error(), r.Vertex+":"):
					t.Errorf("skipped %s reported as an error: %v", r.Vertex, err)
				}
			}
		})
	}
}

func TestWalkCycle(t *testing.T) {
	g := build(t, "a b", "a>b b>a")
	called := false
	results, err := g.Walk(context.Background(), WalkOptions{}, func(context.Context, string) error {
		called = true
		return nil
	})
	var ce *CycleError[string]
	if !errors.As(err, &ce) || results != nil || called {
		t.Errorf("Walk of cyclic graph: results %v, err %v, called %v", results, err, called)
	}
}

// With Concurrency 1, calls never overlap and follow TopoOrder exactly.
func TestWalkSequential(t *testing.T) {
	g := wideGraph(t, 200)
	want, err := g.TopoOrder()
	if err != nil {
		t.Fatal(err)
	}
	var active, maxActive atomic.Int32
	var mu sync.Mutex
	var ran []string
	_, err = g.Walk(context.Background(), WalkOptions{Concurrency: 1}, func(_ context.Context, v string) error {
		n := active.Add(1)
		defer active.Add(-1)
		if n > maxActive.Load() {
			maxActive.Store(n)
		}
		time.Sleep(10 * time.Microsecond) // widen the window for an overlap
		mu.Lock()
		ran = append(ran, v)
		mu.Unlock()
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	if maxActive.Load() != 1 {
		t.Errorf("max concurrent calls = %d, want 1", maxActive.Load())
	}
	if !slices.Equal(ran, want) {
		t.Errorf("sequential walk order differs from TopoOrder")
	}
}

// With Concurrency N, N independent vertices run at the same time: each
// waits until all N have started, which only succeeds if they overlap.
func TestWalkConcurrent(t *testing.T) {
	const n = 4
	g := build(t, "a b c d after", "a>after b>after c>after d>after")
	var started atomic.Int32
	all := make(chan struct{})
	var maxActive, active atomic.Int32
	results, err := g.Walk(context.Background(), WalkOptions{Concurrency: n}, func(_ context.Context, v string) error {
		cur := active.Add(1)
		defer active.Add(-1)
		for {
			m := maxActive.Load()
			if cur <= m || maxActive.CompareAndSwap(m, cur) {
				break
			}
		}
		if v == "after" {
			return nil
		}
		if started.Add(1) == n {
			close(all)
		}
		select {
		case <-all:
			return nil
		case <-time.After(10 * time.Second):
			return errors.New("independent vertices did not run concurrently")
		}
	})
	if err != nil {
		t.Fatal(err)
	}
	if got := summary(results); got != "a:ok b:ok c:ok d:ok after:ok" {
		t.Errorf("results = %s", got)
	}
	if maxActive.Load() != n {
		t.Errorf("max concurrent calls = %d, want %d", maxActive.Load(), n)
	}
}

// The bound holds: never more than Concurrency calls at once, and a vertex
// only starts after all its dependencies finished.
func TestWalkConcurrencyBound(t *testing.T) {
	g := wideGraph(t, 300)
	var active, maxActive atomic.Int32
	var mu sync.Mutex
	finished := map[string]bool{}
	_, err := g.Walk(context.Background(), WalkOptions{Concurrency: 3}, func(_ context.Context, v string) error {
		cur := active.Add(1)
		defer active.Add(-1)
		for {
			m := maxActive.Load()
			if cur <= m || maxActive.CompareAndSwap(m, cur) {
				break
			}
		}
		mu.Lock()
		for _, d := range g.Dependencies(v) {
			if !finished[d] {
				t.Errorf("%s started before its dependency %s finished", v, d)
			}
		}
		mu.Unlock()
		time.Sleep(20 * time.Microsecond)
		mu.Lock()
		finished[v] = true
		mu.Unlock()
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	if m := maxActive.Load(); m > 3 || m < 1 {
		t.Errorf("max concurrent calls = %d, want 1..3", m)
	}
	if len(finished) != g.Len() {
		t.Errorf("ran %d of %d vertices", len(finished), g.Len())
	}
}

func TestWalkCancel(t *testing.T) {
	t.Run("cancel during a vertex", func(t *testing.T) {
		g := build(t, "a b c d", "a>b b>c")
		ctx, cancel := context.WithCancel(context.Background())
		defer cancel()
		var ran []string
		results, err := g.Walk(ctx, WalkOptions{Concurrency: 1}, func(_ context.Context, v string) error {
			ran = append(ran, v)
			if v == "a" {
				cancel()
			}
			return nil
		})
		if got := summary(results); got != "a:ok b:not run c:not run d:not run" {
			t.Errorf("results = %s", got)
		}
		if !slices.Equal(ran, []string{"a"}) {
			t.Errorf("ran = %v after cancel, want [a]", ran)
		}
		if !errors.Is(err, context.Canceled) {
			t.Errorf("err = %v, want context.Canceled", err)
		}
	})
	t.Run("already cancelled", func(t *testing.T) {
		g := build(t, "a b", "")
		ctx, cancel := context.WithCancel(context.Background())
		cancel()
		results, err := g.Walk(ctx, WalkOptions{Concurrency: 4}, func(context.Context, string) error {
			t.Error("fn called with a cancelled context")
			return nil
		})
		if got := summary(results); got != "a:not run b:not run" {
			t.Errorf("results = %s", got)
		}
		if !errors.Is(err, context.Canceled) {
			t.Errorf("err = %v, want context.Canceled", err)
		}
	})
	t.Run("running vertices finish, failure still skips", func(t *testing.T) {
		// a and b run together; a fails after b cancels; c (after a) is
		// skipped, d (after b) never runs.
		g := build(t, "a b c d", "a>c b>d")
		ctx, cancel := context.WithCancel(context.Background())
		defer cancel()
		bCancelled := make(chan struct{})
		results, err := g.Walk(ctx, WalkOptions{Concurrency: 2}, func(ctx context.Context, v string) error {
			switch v {
			case "a":
				<-bCancelled
				return errors.New("boom")
			case "b":
				cancel()
				close(bCancelled)
			}
			return nil
		})
		if got := summary(results); got != "a:failed b:ok c:skipped(a) d:not run" {
			t.Errorf("results = %s", got)
		}
		if !errors.Is(err, context.Canceled) || !strings.Contains(err.Error(), "a: boom") {
			t.Errorf("err = %v, want the failure of a and context.Canceled", err)
		}
	})
	t.Run("cancel after the last vertex is not an error", func(t *testing.T) {
		g := build(t, "a", "")
		ctx, cancel := context.WithCancel(context.Background())
		defer cancel()
		_, err := g.Walk(ctx, WalkOptions{}, func(context.Context, string) error {
			cancel()
			return nil
		})
		if err != nil {
			t.Errorf("err = %v, want nil: every vertex ran", err)
		}
	})
}

// wideGraph builds n vertices where vertex i depends on i/2 and on i-7 (when
// those exist): many ready vertices at once, and edges that skip around.
func wideGraph(t testing.TB, n int) *Graph[string] {
	t.Helper()
	g := New[string]()
	name := func(i int) string { return fmt.Sprintf("task.v%d", i) }
	for i := range n {
		g.AddVertex(name(i))
	}
	for i := 1; i < n; i++ {
		if err := g.AddEdge(name(i/2), name(i), "reference"); err != nil {
			t.Fatal(err)
		}
		if i >= 7 {
			if err := g.AddEdge(name(i-7), name(i), "depends_on"); err != nil {
				t.Fatal(err)
			}
		}
	}
	return g
}

func BenchmarkTopoOrder10k(b *testing.B) {
	g := wideGraph(b, 10_000)
	b.ReportAllocs()
	for b.Loop() {
		if _, err := g.TopoOrder(); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkCycles10k(b *testing.B) {
	g := wideGraph(b, 10_000)
	b.ReportAllocs()
	for b.Loop() {
		if c := g.Cycles(); c != nil {
			b.Fatal(c)
		}
	}
}

func BenchmarkWalk10k(b *testing.B) {
	g := wideGraph(b, 10_000)
	for _, conc := range []int{1, 8} {
		b.Run(fmt.Sprintf("concurrency=%d", conc), func(b *testing.B) {
			b.ReportAllocs()
			for b.Loop() {
				if _, err := g.Walk(context.Background(), WalkOptions{Concurrency: conc}, func(context.Context, string) error { return nil }); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}
