package run

import (
	"context"
	"crypto/rand"
	"encoding/hex"
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
		r.locks[hr.host.Name] = runlock.StartShared(ctx, hr.conn, r.holder(), r.opts.Lock.Wait)
	}
}

// holder is the run's holder line: Options.Lock's, with the run's own id,
// so that hosts of the run on one machine (several local hosts) share its
// lock instead of waiting for each other. The caller holds r.mu.
func (r *runner) holder() runlock.Holder {
	if r.lockRun == "" {
		var b [8]byte
		_, _ = rand.Read(b[:])
		r.lockRun = hex.EncodeToString(b[:])
	}
	h := r.opts.Lock.Holder
	h.Run = r.lockRun
	return h
}

// lockShares are the run's locks that hosts share, by lock key
// (runlock.Lock.Key): the session that holds it, and the hosts using it.
// The holding session is released when the last of them is done, not when
// its own host is.
type lockShares map[string]*lockShare

type lockShare struct {
	holder *runlock.Pending
	hosts  map[string]bool
}

// useLock records that host uses its lock l (p's). A shared lock whose
// holder the run has already released (its hosts were done before this
// one's session asked) is not held by anyone: false, and the host takes
// the lock again, without sharing.
func (r *runner) useLock(host string, p *runlock.Pending, l *runlock.Lock) bool {
	r.mu.Lock()
	defer r.mu.Unlock()
	key := l.Key()
	if r.shared == nil {
		r.shared = lockShares{}
	}
	s := r.shared[key]
	if !l.Shared() {
		if s == nil || s.holder != p {
			s = &lockShare{holder: p, hosts: map[string]bool{}}
			r.shared[key] = s
		}
		s.hosts[host] = true
		return true
	}
	if key == "" || s == nil {
		return false
	}
	s.hosts[host] = true
	return true
}

// done releases p, host's lock session, when it is done: a session that
// holds the lock for other hosts still running stays open; the last host
// of a shared lock releases its holder.
func (r *runner) done(host string, p *runlock.Pending) {
	if p == nil {
		return
	}
	var last *runlock.Pending
	r.mu.Lock()
	for key, s := range r.shared {
		if !s.hosts[host] {
			continue
		}
		delete(s.hosts, host)
		if len(s.hosts) == 0 {
			last = s.holder
			delete(r.shared, key)
		} else if s.holder == p {
			p = nil // still used by the other hosts
		}
	}
	r.mu.Unlock()
	release(p)
	if last != p {
		release(last)
	}
}

// waitLock waits until the host's run lock is held (nil without one).
func (hr *hostRun) waitLock(ctx context.Context) error {
	r := hr.r
	r.mu.Lock()
	p := r.locks[hr.host.Name]
	r.mu.Unlock()
	if p == nil {
		return nil
	}
	notify := func(holder string) {
		if holder == "" {
			holder = "another run"
		}
		// A run-wide warning (no Host): the terminal holds a host's events
		// until the host is done, and this one is worth reading now.
		hr.r.em.Emit(report.Event{Kind: report.KindWarning,
			Message: fmt.Sprintf("%s: waiting up to %s for the run lock, held by %s", hr.host.Name, r.opts.Lock.Wait, holder)})
	}
	l, err := p.WaitNotify(notify)
	if err != nil || r.useLock(hr.host.Name, p, l) {
		return err
	}
	// Shared with a session of this run that has been released since:
	// take it again. Other hosts of the run on that machine may be doing
	// the same at this moment, and the one that wins holds it for them: so
	// share again (a few times: each time the share can be seen before its
	// holder is recorded), and only the last attempt waits like any run.
	for attempt := 1; ; attempt++ {
		release(p)
		r.mu.Lock()
		if attempt < 4 {
			p = runlock.StartShared(ctx, hr.conn, r.holder(), r.opts.Lock.Wait)
		} else {
			p = runlock.Start(ctx, hr.conn, r.holder(), r.opts.Lock.Wait)
		}
		r.locks[hr.host.Name] = p
		r.mu.Unlock()
		l, err = p.WaitNotify(notify)
		if err != nil || r.useLock(hr.host.Name, p, l) {
			return err
		}
	}
}

// releaseLock releases host's run lock, if it was taken (or is being).
func (r *runner) releaseLock(host string) {
	r.mu.Lock()
	p := r.locks[host]
	delete(r.locks, host)
	r.mu.Unlock()
	r.done(host, p)
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
	r.done(host, p)
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
	// Holders whose hosts' sessions ended otherwise.
	r.mu.Lock()
	var rest []*runlock.Pending
	for _, s := range r.shared {
		rest = append(rest, s.holder)
	}
	r.shared = nil
	r.mu.Unlock()
	for _, p := range rest {
		release(p)
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
		// Exclusive: a delegated host's lock is held to the end of the
		// run, so it is never one another host's session shares.
		p = runlock.Start(ctx, conn, r.holder(), r.opts.Lock.Wait)
		r.locks[host] = p
	}
	if r.delegatedTo == nil {
		r.delegatedTo = map[string]bool{}
	}
	r.delegatedTo[host] = true
	r.mu.Unlock()
	l, err := p.Wait()
	if err != nil {
		return err
	}
	// Hosts of the run on the delegate's machine share it.
	if r.useLock(host, p, l) {
		return nil
	}
	// Shared with a session of this run that has been released since:
	// take it again, exclusively, never running a delegated task unlocked.
	release(p)
	r.mu.Lock()
	p = runlock.Start(ctx, conn, r.holder(), r.opts.Lock.Wait)
	r.locks[host] = p
	r.mu.Unlock()
	if l, err = p.Wait(); err == nil {
		r.useLock(host, p, l)
	}
	return err
}
