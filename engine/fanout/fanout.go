// Package fanout runs one function per item (host) in parallel, with a bound
// on how many run at once, and records what happened to each.
//
// It knows nothing about hosts or SSH: a caller passes a slice and a function.
// A slow or dead item holds one slot and nothing else, so the others proceed;
// cancelling the context stops new items from starting and hands the
// cancelled context to those already running.
package fanout

import (
	"context"
	"fmt"
	"runtime/debug"
	"sync"
	"time"
)

// DefaultForks bounds the items run at once when the caller leaves it to
// us (forks 0). Measured with the speed bench (docs/speed.md, "Forks") at 200
// and 1000 hosts, where the hosts' sshd share the controller's 2 cores: 100
// at once is as fast as 200, 500 or all, first run and no-change alike
// (the hosts' CPU is the limit either way), holds a third less memory at
// 1000 hosts than 500, and keeps the handshakes queued on the hosts short
// enough for the default 10 s connect timeout, which 500 at once overran.
const DefaultForks = 100

// Forks returns the number of items to run at once: requested when it is
// positive, otherwise all n items up to DefaultForks. It is never below 1.
func Forks(requested, n int) int {
	f := requested
	if f <= 0 {
		f = min(n, DefaultForks)
	}
	return max(f, 1)
}

// Outcome is what happened to one item.
type Outcome struct {
	// Started is false when the context was cancelled before the item's turn
	// came; the function was never called for it.
	Started  bool
	Start    time.Time
	Duration time.Duration
	// Err is what the function returned, or a *PanicError if it panicked.
	Err error
}

// PanicError is a panic in the function for one item, turned into an error so
// that one item's bug does not take the whole run down with it.
type PanicError struct {
	Value any
	Stack []byte
}

func (e *PanicError) Error() string {
	return fmt.Sprintf("internal error (panic): %v\n%s", e.Value, e.Stack)
}

// Run calls fn for every item, at most forks at once (see Forks for forks <= 0),
// in the order of items, and returns one Outcome per item, in the same order.
// It returns when every started call has returned.
//
// When ctx is cancelled no further item starts; running calls receive the
// cancelled ctx and are waited for, so fn must honour ctx.
func Run[T any](ctx context.Context, items []T, forks int, fn func(ctx context.Context, item T) error) []Outcome {
	out := make([]Outcome, len(items))
	if len(items) == 0 {
		return out
	}
	slots := make(chan struct{}, Forks(forks, len(items)))
	var wg sync.WaitGroup
	for i := range items {
		// Check cancellation first: select picks at random among ready
		// cases, and a free slot must not win over a cancelled run.
		if ctx.Err() != nil {
			break
		}
		took := false
		select {
		case <-ctx.Done():
		case slots <- struct{}{}:
			took = true
		}
		if ctx.Err() != nil {
			if took {
				<-slots
			}
			break
		}
		out[i].Started = true
		out[i].Start = time.Now()
		wg.Add(1)
		go func(i int) {
			defer wg.Done()
			defer func() { <-slots }()
			defer func() {
				if r := recover(); r != nil {
					out[i].Err = &PanicError{Value: r, Stack: debug.Stack()}
				}
				out[i].Duration = time.Since(out[i].Start)
			}()
			out[i].Err = fn(ctx, items[i])
		}(i)
	}
	wg.Wait()
	return out
}
