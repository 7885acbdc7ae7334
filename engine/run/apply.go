package run

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/hashicorp/hcl/v2"
	"github.com/zclconf/go-cty/cty"

	"github.com/drover-cm/drover/engine/config"
	"github.com/drover-cm/drover/engine/fanout"
	"github.com/drover-cm/drover/engine/report"
	"github.com/drover-cm/drover/inventory"
)

// Apply applies the playbook: for every play, on all its hosts in parallel,
// the same read as Plan and then every task in dependency order, each
// re-checked when an earlier task changed something; notified handlers run
// at the end of the play. A failed task stops its host (the rest are
// skipped); other hosts go on unless FailFast. It emits a KindTask per task,
// a KindHostDone per host and a KindRecap, and returns the recap even when
// hosts failed.
func Apply(ctx context.Context, opts Options) (*ApplyResult, error) {
	ctx = journaled(ctx, opts)
	rec := report.NewRecorder()
	sink := report.Sink(rec)
	if opts.Sink != nil {
		sink = report.Multi(rec, opts.Sink)
	}
	r := newRunner(opts, sink)
	res := &ApplyResult{}
	if err := r.selectTasks(); err != nil {
		return res, err
	}
	start := time.Now()
	vars, locals, diags := r.globals()
	if diags.HasErrors() {
		r.em.Emit(report.Event{Kind: report.KindRunStart, Task: "apply"})
		res.Diagnostics = diags
		return res, nil
	}
	plays, diags := r.playRuns(vars, locals)
	if diags.HasErrors() {
		r.em.Emit(report.Event{Kind: report.KindRunStart, Task: "apply"})
		res.Diagnostics = diags
		return res, nil
	}
	a := newApplyRun(ctx, r, plays)
	// Every play's hosts are selected before any is contacted, so the run
	// can say which hosts it is about.
	r.em.Emit(report.Event{Kind: report.KindRunStart, Task: "apply", Hosts: a.order})
	defer a.stopAll()
	defer r.releaseLocks()
	a.run()
	interrupted := ctx.Err() != nil || (opts.Stop != nil && isClosed(opts.Stop))
	rc := rec.Recap(a.order, time.Since(start), interrupted)
	rc.PerTask = true
	r.em.Emit(report.Event{Kind: report.KindRecap, Recap: rc, Duration: rc.Duration})
	res.Recap = rc
	res.Diagnostics = append(res.Diagnostics, r.diagnostics()...)
	return res, nil
}

// playRun is one play with its hosts and rolling-update setting.
type playRun struct {
	pl    *config.Play
	hosts []*inventory.Host
	roll  *rolling // serial and max_fail
}

// playRuns selects every play's hosts before any host is contacted.
func (r *runner) playRuns(vars, locals map[string]cty.Value) ([]playRun, hcl.Diagnostics) {
	var out []playRun
	for i, pl := range r.pb.Plays {
		if !r.sel.playSelected(pl) {
			continue // not looked at
		}
		hosts, ds := r.playHosts(pl, vars, locals)
		if s := r.opts.Saved; s != nil && s.Plan != nil && !ds.HasErrors() {
			var err error
			if hosts, err = r.savedHosts(i, pl, hosts); err != nil {
				ds = append(ds, &hcl.Diagnostic{Severity: hcl.DiagError, Summary: "The saved plan does not match the inventory", Detail: err.Error() + ".", Subject: pl.Hosts.Range().Ptr()})
			}
		}
		roll, rds := r.rollingOf(pl, vars, locals)
		ds = append(ds, rds...)
		if ds.HasErrors() {
			return nil, ds
		}
		r.setRunHosts(hosts)
		out = append(out, playRun{pl, hosts, roll})
	}
	if ds := r.checkFleetRefs(vars, locals); ds.HasErrors() {
		return nil, ds
	}
	return out, nil
}

// applyRun is one apply across plays: every host's tally, and the stop that
// ends the starting of new tasks everywhere (on opts.Stop, on ctx, and with
// FailFast on the first failure).
type applyRun struct {
	r       *runner
	plays   []playRun
	tallies map[string]*hostTally
	order   []string // hosts in the order they first appear
	// lastPlay is the index of the last play each host is in, so that its
	// KindHostDone comes as soon as it is finished.
	lastPlay map[string]int
	// ctx cuts running work; stopCtx only stops new tasks from starting.
	ctx, stopCtx context.Context
	stopAll      context.CancelFunc
}

func newApplyRun(ctx context.Context, r *runner, plays []playRun) *applyRun {
	a := &applyRun{r: r, plays: plays, tallies: map[string]*hostTally{}, lastPlay: map[string]int{}, ctx: ctx}
	a.stopCtx, a.stopAll = context.WithCancel(ctx)
	if stop := r.opts.Stop; stop != nil {
		go func() {
			select {
			case <-stop:
				a.stopAll()
			case <-a.stopCtx.Done():
			}
		}()
	}
	for i, p := range plays {
		for _, h := range p.hosts {
			if _, ok := a.tallies[h.Name]; !ok {
				a.tallies[h.Name] = newHostTally()
				a.order = append(a.order, h.Name)
			}
			a.lastPlay[h.Name] = i
		}
	}
	return a
}

// run runs the plays one after the other; after a stop, the hosts of later
// plays never start.
func (a *applyRun) run() {
	for i := range a.plays {
		a.runPlay(i)
		if a.stopCtx.Err() != nil {
			a.holdLaterPlays(i)
			return
		}
	}
}

// runPlay runs play i on its hosts still alive, in rolling batches.
func (a *applyRun) runPlay(i int) {
	p := a.plays[i]
	hosts := a.r.alive(p.hosts)
	a.r.once.setLeads(p.pl, p.roll.batches(hosts))
	outs := runBatches(a.stopCtx, p.roll, hosts, a.r.opts.Forks, func(_ context.Context, h *inventory.Host) error {
		return a.runHost(i, h)
	})
	for j, o := range outs {
		h := hosts[j]
		t := a.tallies[h.Name]
		var pe *fanout.PanicError
		switch {
		case errors.As(o.Err, &pe):
			t.crashed(pe)
		case !o.Started:
			why := fmt.Sprintf("stopped before play %q", p.pl.Name)
			if m := p.roll.heldMsg(h.Name); m != "" {
				why = m // max_fail stopped the rolling update
			}
			t.held(why)
		default:
			continue
		}
		a.r.markDead(h.Name, t.status)
		a.hostDone(h.Name)
	}
}

// runHost runs play i on host h.
func (a *applyRun) runHost(i int, h *inventory.Host) error {
	t := a.tallies[h.Name]
	t.begin()
	err := a.r.applyHost(a.ctx, a.stopCtx, i, a.plays[i].pl, h, t)
	t.end()
	if err != nil && a.r.opts.FailFast {
		a.stopAll()
	}
	if t.dead() {
		a.r.markDead(h.Name, t.status)
	}
	if a.lastPlay[h.Name] == i {
		a.hostDone(h.Name)
	}
	return err
}

// holdLaterPlays marks the hosts of the plays after play i, which never
// start, and reports those that were in no earlier play done.
func (a *applyRun) holdLaterPlays(i int) {
	for _, p := range a.plays[i+1:] {
		for _, h := range p.hosts {
			if a.r.isDead(h.Name) {
				continue
			}
			t := a.tallies[h.Name]
			why := ""
			if !t.start.IsZero() {
				why = fmt.Sprintf("stopped before play %q", p.pl.Name)
			}
			t.held(why)
			a.r.markDead(h.Name, t.status)
			if a.lastPlay[h.Name] != i {
				a.hostDone(h.Name)
			}
		}
	}
}

func (a *applyRun) hostDone(host string) {
	a.r.releaseHostLock(host)
	a.r.em.Emit(a.tallies[host].doneEvent(host))
}

func isClosed(c <-chan struct{}) bool {
	select {
	case <-c:
		return true
	default:
		return false
	}
}

// applyHost runs play i on one host. ctx cuts running work; stopCtx only
// stops new tasks from starting. With a saved plan, the host is refused
// when the plan no longer holds on it (saved.go).
func (r *runner) applyHost(ctx, stopCtx context.Context, i int, pl *config.Play, h *inventory.Host, t *hostTally) error {
	defer r.once.end(pl, h.Name) // what it did not run once, it will not
	hr, diags, err := r.prepare(ctx, pl, h)
	if diags.HasErrors() {
		r.addDiags(h.Name, diags)
		return t.unevaluated()
	}
	if err != nil {
		if ctx.Err() != nil {
			// A second Ctrl-C, not the host: whatever broke, it broke
			// because the run was cut.
			err = errors.New("interrupted before its tasks began")
			t.status, t.msg = report.StatusCancelled, err.Error()
			return err
		}
		t.unprepared(err)
		return err
	}
	if s := r.opts.Saved; s != nil && s.Plan != nil {
		r.mu.Lock()
		earlier := r.playChanges[h.Name]
		r.mu.Unlock()
		warning, err := hr.checkSaved(i, earlier)
		if err != nil {
			t.unprepared(err)
			t.kind = "stale_plan"
			return err
		}
		if warning != "" {
			r.em.Emit(report.Event{Kind: report.KindWarning, Host: h.Name, Message: warning})
		}
		defer func() {
			r.mu.Lock()
			r.playChanges[h.Name] = append(r.playChanges[h.Name], hr.changes...)
			r.mu.Unlock()
		}()
	}
	n := 0
	for _, task := range hr.order {
		n += len(hr.e.insts[task])
	}
	hr.phase(report.PhaseApplying, n)
	return hr.apply(ctx, stopCtx, t)
}
