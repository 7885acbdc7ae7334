package fanout

import (
	"context"
	"errors"
	"sync/atomic"
	"testing"
	"time"
)

func TestForks(t *testing.T) {
	tests := []struct {
		requested, n, want int
	}{
		{0, 10, 10},
		{-1, 10, 10},
		{0, 0, 1},
		{0, 2000, DefaultForks},
		{1000, 2000, 1000},
		{3, 10, 3},
		{50, 10, 50},
		{1, 1, 1},
	}
	for _, tt := range tests {
		if got := Forks(tt.requested, tt.n); got != tt.want {
			t.Errorf("Forks(%d, %d) = %d, want %d", tt.requested, tt.n, got, tt.want)
		}
	}
}

func TestRunBoundRespected(t *testing.T) {
	for _, forks := range []int{1, 3, 7, 0} {
		items := make([]int, 40)
		var running, peak atomic.Int32
		out := Run(context.Background(), items, forks, func(ctx context.Context, _ int) error {
			n := running.Add(1)
			for {
				p := peak.Load()
				if n <= p || peak.CompareAndSwap(p, n) {
					break
				}
			}
			time.Sleep(2 * time.Millisecond)
			running.Add(-1)
			return nil
		})
		want := int32(Forks(forks, len(items)))
		if p := peak.Load(); p > want {
			t.Errorf("forks=%d: %d ran at once, bound is %d", forks, p, want)
		}
		if forks == 1 && peak.Load() != 1 {
			t.Errorf("forks=1: peak %d", peak.Load())
		}
		for i, o := range out {
			if !o.Started || o.Err != nil || o.Duration <= 0 {
				t.Errorf("forks=%d item %d: %+v", forks, i, o)
			}
		}
	}
}

func TestRunResultsInItemOrder(t *testing.T) {
	items := []string{"a", "b", "c", "d"}
	errB := errors.New("b failed")
	out := Run(context.Background(), items, 0, func(ctx context.Context, s string) error {
		if s == "b" {
			return errB
		}
		return nil
	})
	for i, o := range out {
		if wantErr := i == 1; (o.Err != nil) != wantErr {
			t.Errorf("item %d: err %v", i, o.Err)
		}
	}
	if !errors.Is(out[1].Err, errB) {
		t.Errorf("item b: err %v, want %v", out[1].Err, errB)
	}
}

// A host that never answers must not hold up the others: with 2 slots and
// one item stuck, every other item still finishes.
func TestRunSlowItemDoesNotBlockOthers(t *testing.T) {
	items := make([]int, 20)
	for i := range items {
		items[i] = i
	}
	release := make(chan struct{})
	var done atomic.Int32
	allOthers := make(chan struct{})
	go func() {
		Run(context.Background(), items, 2, func(ctx context.Context, i int) error {
			if i == 0 {
				<-release
				return nil
			}
			if done.Add(1) == int32(len(items)-1) {
				close(allOthers)
			}
			return nil
		})
	}()
	select {
	case <-allOthers:
	case <-time.After(5 * time.Second):
		t.Fatalf("only %d of %d other items finished while one was stuck", done.Load(), len(items)-1)
	}
	close(release)
}

func TestRunCancellation(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	items := make([]int, 10)
	for i := range items {
		items[i] = i
	}
	var sawCancel atomic.Int32
	started := make(chan struct{}, len(items))
	go func() {
		// Cancel once the first two (the fork bound) are running.
		<-started
		<-started
		cancel()
	}()
	out := Run(ctx, items, 2, func(ctx context.Context, i int) error {
		started <- struct{}{}
		<-ctx.Done()
		sawCancel.Add(1)
		return ctx.Err()
	})
	var n int
	for i, o := range out {
		if o.Started {
			n++
			if !errors.Is(o.Err, context.Canceled) {
				t.Errorf("item %d started but err = %v", i, o.Err)
			}
		} else if o.Err != nil || o.Duration != 0 {
			t.Errorf("item %d not started but has %+v", i, o)
		}
	}
	if n != 2 {
		t.Errorf("%d items started after cancel, want 2", n)
	}
	if int(sawCancel.Load()) != n {
		t.Errorf("%d running items saw the cancellation, want %d", sawCancel.Load(), n)
	}
}

func TestRunAlreadyCancelled(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	var calls atomic.Int32
	out := Run(ctx, []int{1, 2, 3}, 0, func(context.Context, int) error {
		calls.Add(1)
		return nil
	})
	if calls.Load() != 0 {
		t.Errorf("%d calls after cancel", calls.Load())
	}
	for i, o := range out {
		if o.Started {
			t.Errorf("item %d started", i)
		}
	}
}

func TestRunPanicBecomesError(t *testing.T) {
	out := Run(context.Background(), []int{0, 1}, 0, func(ctx context.Context, i int) error {
		if i == 1 {
			panic("boom")
		}
		return nil
	})
	var pe *PanicError
	if !errors.As(out[1].Err, &pe) || pe.Value != "boom" {
		t.Fatalf("item 1 err = %v, want PanicError(boom)", out[1].Err)
	}
	if out[0].Err != nil {
		t.Errorf("item 0 err = %v", out[0].Err)
	}
}

func TestRunEmpty(t *testing.T) {
	if out := Run(context.Background(), []int(nil), 0, func(context.Context, int) error { return nil }); len(out) != 0 {
		t.Errorf("got %d outcomes", len(out))
	}
}
