package connect

import (
	"context"
	"errors"
	"fmt"
	"io"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/drover-cm/drover/engine/transport"
)

// fakeConn stands in for a transport.Conn: the pool only hands it out and
// closes it.
type fakeConn struct {
	name   string
	closed atomic.Int32
}

func (c *fakeConn) Run(context.Context, transport.Cmd) (transport.Result, error) {
	return transport.Result{}, nil
}
func (c *fakeConn) Put(context.Context, string, io.Reader, transport.PutOptions) error { return nil }
func (c *fakeConn) Get(context.Context, string, io.Writer) error                       { return nil }
func (c *fakeConn) Stats() transport.Stats                                             { return transport.Stats{} }
func (c *fakeConn) Close() error                                                       { c.closed.Add(1); return nil }

type fakeConnector struct {
	mu    sync.Mutex
	dials map[string]int
	conns []*fakeConn
	delay map[string]time.Duration
	fail  map[string]error
	// gate, when set, holds every dial until it is closed; started receives
	// one value per dial as it begins (for tests that must act mid-dial
	// without relying on timing).
	gate    chan struct{}
	started chan string
}

func (f *fakeConnector) Connect(ctx context.Context, t transport.Target) (transport.Conn, error) {
	f.mu.Lock()
	if f.dials == nil {
		f.dials = map[string]int{}
	}
	f.dials[t.Name]++
	d, err := f.delay[t.Name], f.fail[t.Name]
	f.mu.Unlock()
	if f.started != nil {
		f.started <- t.Name
	}
	if f.gate != nil {
		<-f.gate
	}
	if d > 0 {
		select {
		case <-time.After(d):
		case <-ctx.Done():
			return nil, ctx.Err()
		}
	}
	if err != nil {
		return nil, err
	}
	c := &fakeConn{name: t.Name}
	f.mu.Lock()
	f.conns = append(f.conns, c)
	f.mu.Unlock()
	return c, nil
}

func TestPoolDialsEachHostOnce(t *testing.T) {
	refused := &transport.Error{Kind: transport.ErrRefused, Host: "h3", Err: errors.New("connection refused")}
	fc := &fakeConnector{
		delay: map[string]time.Duration{"h1": 20 * time.Millisecond},
		fail:  map[string]error{"h3": refused},
	}
	p := NewPool(fc)
	var targets []transport.Target
	for i := 1; i <= 3; i++ {
		targets = append(targets, transport.Target{Name: fmt.Sprintf("h%d", i)})
	}
	// Many tasks per host, all at once.
	var wg sync.WaitGroup
	got := make([][]transport.Conn, 3)
	var mu sync.Mutex
	for i, tg := range targets {
		for range 10 {
			wg.Add(1)
			go func() {
				defer wg.Done()
				c, err := p.Conn(context.Background(), tg)
				if tg.Name == "h3" {
					if transport.KindOf(err) != transport.ErrRefused {
						t.Errorf("h3: err %v, want refused", err)
					}
					return
				}
				if err != nil {
					t.Errorf("%s: %v", tg.Name, err)
				}
				mu.Lock()
				got[i] = append(got[i], c)
				mu.Unlock()
			}()
		}
	}
	wg.Wait()
	for name, n := range fc.dials {
		if n != 1 {
			t.Errorf("%s dialled %d times, want 1", name, n)
		}
	}
	for i := range 2 {
		for _, c := range got[i] {
			if c != got[i][0] {
				t.Errorf("host %d: different Conns handed out", i+1)
			}
		}
	}
	d, ok := p.Dial("h1")
	if !ok || d.Err != nil || d.Duration < 20*time.Millisecond {
		t.Errorf("Dial(h1) = %+v, %v", d, ok)
	}
	if d, ok := p.Dial("h3"); !ok || !errors.Is(d.Err, refused) {
		t.Errorf("Dial(h3) = %+v, %v", d, ok)
	}
	if _, ok := p.Dial("nope"); ok {
		t.Error("Dial of an unknown host reported ok")
	}
	if err := p.Close(); err != nil {
		t.Fatal(err)
	}
	for _, c := range fc.conns {
		if n := c.closed.Load(); n != 1 {
			t.Errorf("%s closed %d times", c.name, n)
		}
	}
	if err := p.Close(); err != nil {
		t.Errorf("second Close: %v", err)
	}
	if _, err := p.Conn(context.Background(), targets[0]); !errors.Is(err, ErrPoolClosed) {
		t.Errorf("Conn after Close: %v", err)
	}
}

func TestPoolConnectAllParallel(t *testing.T) {
	fc := &fakeConnector{delay: map[string]time.Duration{}}
	var targets []transport.Target
	for i := range 20 {
		name := fmt.Sprintf("h%d", i)
		fc.delay[name] = 50 * time.Millisecond
		targets = append(targets, transport.Target{Name: name})
	}
	p := NewPool(fc)
	defer p.Close()
	start := time.Now()
	p.ConnectAll(context.Background(), targets, 0)
	// Serial would take 1s; parallel is about one delay.
	if el := time.Since(start); el > 500*time.Millisecond {
		t.Errorf("ConnectAll took %v: not parallel", el)
	}
	for _, tg := range targets {
		if d, ok := p.Dial(tg.Name); !ok || d.Err != nil {
			t.Errorf("%s: %+v %v", tg.Name, d, ok)
		}
	}
}

// A waiter whose context ends stops waiting for another caller's slow dial.
func TestPoolWaiterCancelled(t *testing.T) {
	fc := &fakeConnector{delay: map[string]time.Duration{"slow": time.Second}}
	p := NewPool(fc)
	defer p.Close()
	tg := transport.Target{Name: "slow"}
	go p.Conn(context.Background(), tg) //nolint:errcheck // the first dialer
	time.Sleep(10 * time.Millisecond)
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Millisecond)
	defer cancel()
	start := time.Now()
	if _, err := p.Conn(ctx, tg); !errors.Is(err, context.DeadlineExceeded) {
		t.Errorf("err %v", err)
	}
	if el := time.Since(start); el > 500*time.Millisecond {
		t.Errorf("waited %v", el)
	}
}

// Closing while a dial is in flight closes that connection when it lands.
func TestPoolCloseDuringDial(t *testing.T) {
	fc := &fakeConnector{gate: make(chan struct{}), started: make(chan string, 1)}
	p := NewPool(fc)
	done := make(chan error)
	go func() {
		_, err := p.Conn(context.Background(), transport.Target{Name: "h"})
		done <- err
	}()
	<-fc.started // the dial is in flight
	if err := p.Close(); err != nil {
		t.Fatal(err)
	}
	close(fc.gate)
	if err := <-done; !errors.Is(err, ErrPoolClosed) {
		t.Errorf("err %v", err)
	}
	if n := fc.conns[0].closed.Load(); n != 1 {
		t.Errorf("closed %d times", n)
	}
}
