package connect

import (
	"context"
	"errors"
	"sync"
	"time"

	"github.com/drover-cm/drover/engine/fanout"
	"github.com/drover-cm/drover/engine/transport"
)

// Pool holds one connection per host for the whole run. The first Conn call
// for a host dials it; every later call, from any task, gets the same Conn
// (or the same error: a host that could not be reached is not retried within
// a run, so its failure is reported once and the run does not stall on it
// again). Close closes them all.
type Pool struct {
	connector transport.Connector

	mu     sync.Mutex
	hosts  map[string]*entry
	closed bool
}

type entry struct {
	done  chan struct{} // closed when the dial has finished
	conn  transport.Conn
	err   error
	start time.Time
	took  time.Duration
}

// NewPool returns a Pool that dials with c.
func NewPool(c transport.Connector) *Pool {
	return &Pool{connector: c, hosts: map[string]*entry{}}
}

// ErrPoolClosed is returned by Conn after Close.
var ErrPoolClosed = errors.New("connection pool closed")

// Conn returns the connection to t (keyed by t.Name), dialling it on first
// use. A caller whose ctx ends while another caller's dial is in progress
// returns ctx.Err() without waiting further; the dial goes on for the others.
func (p *Pool) Conn(ctx context.Context, t transport.Target) (transport.Conn, error) {
	p.mu.Lock()
	if p.closed {
		p.mu.Unlock()
		return nil, ErrPoolClosed
	}
	e, dialled := p.hosts[t.Name]
	if !dialled {
		e = &entry{done: make(chan struct{}), start: time.Now()}
		p.hosts[t.Name] = e
	}
	p.mu.Unlock()

	if !dialled {
		conn, err := p.connector.Connect(ctx, t)
		e.took = time.Since(e.start)
		p.mu.Lock()
		if p.closed && conn != nil {
			// Close ran while we dialled: don't leak the connection.
			_ = conn.Close()
			conn, err = nil, ErrPoolClosed
		}
		e.conn, e.err = conn, err
		p.mu.Unlock()
		close(e.done)
		return conn, err
	}
	select {
	case <-e.done:
		return e.conn, e.err
	case <-ctx.Done():
		return nil, ctx.Err()
	}
}

// ConnectAll dials every target in parallel, at most forks at once (see
// fanout.Forks), and returns when all have connected or failed. Their
// results are then available from Conn and Dials without waiting.
func (p *Pool) ConnectAll(ctx context.Context, targets []transport.Target, forks int) {
	fanout.Run(ctx, targets, forks, func(ctx context.Context, t transport.Target) error {
		_, err := p.Conn(ctx, t)
		return err
	})
}

// Dial is the outcome of connecting to one host.
type Dial struct {
	Host     string
	Duration time.Duration // time to connect and authenticate
	Err      error
}

// Dial reports how connecting to host went; ok is false when host has not
// been dialled or its dial has not finished.
func (p *Pool) Dial(host string) (d Dial, ok bool) {
	p.mu.Lock()
	e := p.hosts[host]
	p.mu.Unlock()
	if e == nil {
		return Dial{}, false
	}
	select {
	case <-e.done:
	default:
		return Dial{}, false
	}
	return Dial{Host: host, Duration: e.took, Err: e.err}, true
}

// Close closes every connection. Dials still in progress close their
// connection as soon as they finish. It returns the errors of the closes.
func (p *Pool) Close() error {
	p.mu.Lock()
	if p.closed {
		p.mu.Unlock()
		return nil
	}
	p.closed = true
	var conns []transport.Conn
	for _, e := range p.hosts {
		select {
		case <-e.done:
			if e.conn != nil {
				conns = append(conns, e.conn)
			}
		default:
		}
	}
	p.mu.Unlock()
	var errs []error
	for _, c := range conns {
		errs = append(errs, c.Close())
	}
	return errors.Join(errs...)
}
