package run

import (
	"context"
	"fmt"
	"time"

	"github.com/drover-cm/drover/engine/report"
	"github.com/drover-cm/drover/engine/runlock"
	"github.com/drover-cm/drover/engine/transport"
)

// RunLock makes apply take each host's run lock (engine/runlock) before it
// reads the state its plan is computed from, and hold it until the host's
// last play ends. Plans take none.
type RunLock struct {
	Holder runlock.Holder
	// Wait is how long another run's lock is waited for before the host is
	// reported locked.
	Wait time.Duration
}

// startLock begins taking the host's run lock on the play's connection,
// once per host per run. It runs beside facts gathering and evaluation:
// waitLock, before the state read, is where it is waited for.
func (hr *hostRun) startLock(ctx context.Context) {
	r := hr.r
	if r.opts.Lock == nil || r.offline {
		return
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.locks == nil {
		r.locks = map[string]*runlock.Pending{}
	}
	if _, ok := r.locks[hr.host.Name]; !ok {
		r.locks[hr.host.Name] = runlock.Start(ctx, hr.conn, r.opts.Lock.Holder, r.opts.Lock.Wait)
	}
}

// waitLock waits until the host's run lock is held (nil without one).
func (hr *hostRun) waitLock() error {
	r := hr.r
	r.mu.Lock()
	p := r.locks[hr.host.Name]
	r.mu.Unlock()
	if p == nil {
		return nil
	}
	_, err := p.WaitNotify(func(holder string) {
		if holder == "" {
			holder = "another run"
		}
		// A run-wide warning (no Host): the terminal holds a host's events
		// until the host is done, and this one is worth reading now.
		hr.r.em.Emit(report.Event{Kind: report.KindWarning,
			Message: fmt.Sprintf("%s: waiting up to %s for the run lock, held by %s", hr.host.Name, r.opts.Lock.Wait, holder)})
	})
	return err
}

// releaseLock releases host's run lock, if it was taken (or is being).
func (r *runner) releaseLock(host string) {
	r.mu.Lock()
	p := r.locks[host]
	delete(r.locks, host)
	r.mu.Unlock()
	release(p)
}

// release releases the lock p is taking, once taken (nothing for nil).
func release(p *runlock.Pending) {
	if p == nil {
		return
	}
	if l, err := p.Wait(); err == nil {
		l.Release()
	}
}

// releaseHostLock releases host's run lock when the host is done, unless
// tasks are delegated to it: other hosts may still change it, and
// releaseLocks releases it at the end of the run.
func (r *runner) releaseHostLock(host string) {
	r.mu.Lock()
	p := r.locks[host]
	if r.delegatedTo[host] {
		p = nil // checked under the same lock lockDelegate takes
	} else {
		delete(r.locks, host)
	}
	r.mu.Unlock()
	release(p)
}

// releaseLocks releases every lock still held (at the end of a run).
func (r *runner) releaseLocks() {
	r.mu.Lock()
	var hosts []string
	for h := range r.locks {
		hosts = append(hosts, h)
	}
	r.mu.Unlock()
	for _, h := range hosts {
		r.releaseLock(h)
	}
}

// lockDelegate takes the run lock of a host tasks are delegated to, over
// its connection conn, before anything reads or changes it there: once per
// run (shared with the host's own lock when it is in the run too), held
// until the end of the run.
func (r *runner) lockDelegate(ctx context.Context, host string, conn transport.Conn) error {
	if r.opts.Lock == nil || r.offline {
		return nil
	}
	r.mu.Lock()
	if r.locks == nil {
		r.locks = map[string]*runlock.Pending{}
	}
	p, ok := r.locks[host]
	if !ok {
		p = runlock.Start(ctx, conn, r.opts.Lock.Holder, r.opts.Lock.Wait)
		r.locks[host] = p
	}
	if r.delegatedTo == nil {
		r.delegatedTo = map[string]bool{}
	}
	r.delegatedTo[host] = true
	r.mu.Unlock()
	_, err := p.Wait()
	return err
}
