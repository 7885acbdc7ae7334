package run

import (
	"context"
	"errors"
	"fmt"
	"path"
	"strings"
	"sync"
	"time"

	"github.com/hashicorp/hcl/v2"
	"github.com/zclconf/go-cty/cty"

	"github.com/drover-cm/drover/engine/config"
	"github.com/drover-cm/drover/engine/fanout"
	"github.com/drover-cm/drover/engine/graph"
	"github.com/drover-cm/drover/engine/report"
	"github.com/drover-cm/drover/engine/transport"
	"github.com/drover-cm/drover/inventory"
	"github.com/drover-cm/drover/modules/contract"
)

// hostTally is one host's outcome across plays.
type hostTally struct {
	status  report.Status // worst so far
	start   time.Time
	dur     time.Duration
	ran     []string // tasks that ran (ok or changed), for unreachable reports
	stopped string   // where the host stopped, if it did
	kind    string
	msg     string
	hint    string
}

// Apply applies the playbook: for every play, on all its hosts in parallel,
// the same read as Plan and then every task in dependency order, each
// re-checked when an earlier task changed something; notified handlers run
// at the end of the play. A failed task stops its host (the rest are
// skipped); other hosts go on unless FailFast. It emits a KindTask per task,
// a KindHostDone per host and a KindRecap, and returns the recap even when
// hosts failed.
func Apply(ctx context.Context, opts Options) (*ApplyResult, error) {
	rec := report.NewRecorder()
	sink := report.Sink(rec)
	if opts.Sink != nil {
		sink = report.Multi(rec, opts.Sink)
	}
	r := newRunner(opts, sink)
	r.em.Emit(report.Event{Kind: report.KindRunStart, Task: "apply"})
	res := &ApplyResult{}
	start := time.Now()
	vars, locals, diags := r.globals()
	if diags.HasErrors() {
		res.Diagnostics = diags
		return res, nil
	}

	// stop ends the starting of new tasks everywhere: on opts.Stop, on ctx,
	// and with FailFast on the first failure.
	stopCtx, stopAll := context.WithCancel(ctx)
	defer stopAll()
	if opts.Stop != nil {
		go func() {
			select {
			case <-opts.Stop:
				stopAll()
			case <-stopCtx.Done():
			}
		}()
	}

	var mu sync.Mutex
	tallies := map[string]*hostTally{}
	var hostOrder []string
	// Which play each host is last in, so its KindHostDone comes as soon as
	// it is finished.
	type sel struct {
		pl    *config.Play
		hosts []*inventory.Host
		roll  *rolling // serial and max_fail
	}
	var sels []sel
	for _, pl := range r.pb.Plays {
		hosts, ds := r.playHosts(pl, vars, locals)
		roll, rds := r.rollingOf(pl, vars, locals)
		ds = append(ds, rds...)
		if ds.HasErrors() {
			res.Diagnostics = append(res.Diagnostics, ds...)
			return res, nil
		}
		sels = append(sels, sel{pl, hosts, roll})
	}
	last := map[string]int{}
	for i, s := range sels {
		for _, h := range s.hosts {
			if _, ok := tallies[h.Name]; !ok {
				tallies[h.Name] = &hostTally{status: report.StatusOK}
				hostOrder = append(hostOrder, h.Name)
			}
			last[h.Name] = i
		}
	}
	done := func(name string) {
		mu.Lock()
		t := tallies[name]
		mu.Unlock()
		msg := t.msg
		if msg == "" && t.stopped != "" && t.status == report.StatusFailed {
			msg = "stopped at " + t.stopped // the recap says where
		}
		ev := report.Event{Kind: report.KindHostDone, Host: name, Status: t.status, Duration: t.dur, ErrorKind: t.kind, Message: msg, Hint: t.hint}
		r.em.Emit(ev)
	}
	for i, s := range sels {
		var hosts []*inventory.Host
		for _, h := range s.hosts {
			if _, dead := r.dead[h.Name]; !dead {
				hosts = append(hosts, h)
			}
		}
		outs := runBatches(stopCtx, s.roll, hosts, opts.Forks, func(_ context.Context, h *inventory.Host) error {
			mu.Lock()
			t := tallies[h.Name]
			if t.start.IsZero() {
				t.start = time.Now()
			}
			mu.Unlock()
			err := r.applyHost(ctx, stopCtx, s.pl, h, t)
			mu.Lock()
			t.dur = time.Since(t.start)
			if err != nil && opts.FailFast {
				stopAll()
			}
			if t.status == report.StatusFailed || t.status == report.StatusUnreachable {
				r.dead[h.Name] = t.status
			}
			mu.Unlock()
			if last[h.Name] == i {
				done(h.Name)
			}
			return err
		})
		for j, o := range outs {
			var pe *fanout.PanicError
			if errors.As(o.Err, &pe) {
				// A bug, not the host's fault; still a failed host.
				h := hosts[j]
				mu.Lock()
				t := tallies[h.Name]
				t.status, t.msg = report.StatusFailed, pe.Error()
				r.dead[h.Name] = t.status
				mu.Unlock()
				done(h.Name)
				continue
			}
			if !o.Started {
				h := hosts[j]
				mu.Lock()
				t := tallies[h.Name]
				if t.start.IsZero() {
					t.status = report.StatusNotStarted
				} else {
					t.status = report.StatusCancelled
				}
				t.msg = fmt.Sprintf("stopped before play %q", s.pl.Name)
				if m := s.roll.heldMsg(h.Name); m != "" {
					t.msg = m // max_fail stopped the rolling update
				}
				r.dead[h.Name] = t.status
				mu.Unlock()
				done(h.Name)
			}
		}
		if stopCtx.Err() != nil {
			// Hosts of later plays never start.
			for _, s2 := range sels[i+1:] {
				for _, h := range s2.hosts {
					mu.Lock()
					_, dead := r.dead[h.Name]
					if !dead {
						t := tallies[h.Name]
						if t.start.IsZero() {
							t.status = report.StatusNotStarted
						} else {
							t.status = report.StatusCancelled
							t.msg = fmt.Sprintf("stopped before play %q", s2.pl.Name)
						}
						r.dead[h.Name] = t.status
					}
					mu.Unlock()
					if !dead && last[h.Name] != i {
						done(h.Name)
					}
				}
			}
			break
		}
	}
	interrupted := ctx.Err() != nil || (opts.Stop != nil && isClosed(opts.Stop))
	rc := rec.Recap(hostOrder, time.Since(start), interrupted)
	rc.PerTask = true
	r.em.Emit(report.Event{Kind: report.KindRecap, Recap: rc, Duration: rc.Duration})
	res.Recap = rc
	res.Diagnostics = append(res.Diagnostics, r.diagnostics()...)
	return res, nil
}

func isClosed(c <-chan struct{}) bool {
	select {
	case <-c:
		return true
	default:
		return false
	}
}

// applyHost runs one play on one host. ctx cuts running work; stopCtx only
// stops new tasks from starting.
func (r *runner) applyHost(ctx, stopCtx context.Context, pl *config.Play, h *inventory.Host, t *hostTally) error {
	hr, diags, err := r.prepare(ctx, pl, h)
	if diags.HasErrors() {
		r.addDiags(h.Name, diags)
		t.status = report.StatusFailed
		t.msg = "the playbook could not be evaluated for this host (see the errors below)"
		return errors.New(t.msg)
	}
	if err != nil {
		t.status = failureStatus(err)
		t.kind = errorKind(err)
		t.hint = hintOf(err)
		var te *taskError
		if errors.As(err, &te) {
			t.msg = err.Error()
		} else {
			t.msg = hostErrorMessage(err, t)
		}
		return err
	}
	results, werr := hr.g.Walk(stopCtx, graph.WalkOptions{Concurrency: 1, StopOnError: true}, func(_ context.Context, task *config.Task) error {
		return hr.applyTask(ctx, task, t)
	})
	// Tasks that did not run are reported skipped, saying why.
	var failedAt, stoppedAt string
	for _, wr := range results {
		if wr.Status == graph.NotRun && hr.reportAhead(ctx, wr.Vertex, t) {
			continue // it ran with an earlier task before the stop
		}
		if wr.Status == graph.NotRun && stoppedAt == "" {
			stoppedAt = wr.Vertex.Addr()
		}
		switch wr.Status {
		case graph.Failed:
			failedAt = wr.Vertex.Addr()
		case graph.Skipped:
			hr.emitSkipped(wr.Vertex, fmt.Sprintf("skipped: depends on %s, which did not complete", wr.Cause.Addr()))
		case graph.NotRun:
			why := "not run: the run was stopped"
			if failedAt != "" {
				why = fmt.Sprintf("not run: the host stopped after %s failed", failedAt)
			}
			hr.emitSkipped(wr.Vertex, why)
		}
	}
	if werr != nil {
		if t.status == report.StatusOK || t.status == report.StatusChanged {
			if failedAt != "" {
				t.status = report.StatusFailed
				t.stopped = failedAt
			} else {
				t.status = report.StatusCancelled
				t.msg = "interrupted: stopped before " + stoppedAt
				t.stopped = stoppedAt
			}
		}
		if t.status == report.StatusUnreachable {
			t.msg = hostErrorMessage(werr, t)
		}
		for _, h := range pl.Handlers {
			if hr.notified[h.Name] {
				hr.emitSkipped(h, "handler not run: the host did not complete the play")
			}
		}
		return werr
	}
	return hr.runHandlers(ctx, stopCtx, t)
}

// hintOf returns the transport's hint for a connection failure.
func hintOf(err error) string {
	var terr *transport.Error
	if errors.As(err, &terr) {
		return terr.Hint
	}
	return ""
}

// errorMessage is err without the hint (shown on its own line) and without
// the host name (the output shows it already).
func errorMessage(err error) string {
	var terr *transport.Error
	if errors.As(err, &terr) && terr.Err != nil {
		return fmt.Sprintf("%s: %v", terr.Addr, terr.Err)
	}
	return err.Error()
}

func hostErrorMessage(err error, t *hostTally) string {
	msg := errorMessage(err)
	if transport.Unreachable(err) {
		if len(t.ran) > 0 {
			msg += fmt.Sprintf("\nthe connection was lost after these tasks ran: %s", strings.Join(t.ran, ", "))
		} else {
			msg += "\nno task ran on this host"
		}
	}
	return msg
}

func (hr *hostRun) emitSkipped(t *config.Task, why string) {
	insts := hr.e.insts[t]
	addrs := []string{t.Addr()}
	if len(insts) > 0 {
		addrs = nil
		for _, in := range insts {
			addrs = append(addrs, in.addr)
		}
	}
	for _, a := range addrs {
		hr.r.em.Emit(report.Event{Kind: report.KindTask, Host: hr.host.Name, Task: a, Status: report.StatusSkipped, Message: why,
			Detail: &report.TaskResult{Module: t.Type, Handler: t.Handler}})
	}
}

// applyTask runs every instance of a task block.
func (hr *hostRun) applyTask(ctx context.Context, t *config.Task, tally *hostTally) error {
	e := hr.e
	if !e.expand[t] {
		known, diags := e.expandTask(t)
		if diags.HasErrors() {
			hr.r.addDiags(hr.host.Name, diags)
			return hr.fail(t.Addr(), t, tally, 0, errors.New(diagSummary(diags)), "")
		}
		if !known {
			return hr.fail(t.Addr(), t, tally, 0, errors.New("for_each or count is still unknown after every task it depends on ran"), "")
		}
	}
	for _, in := range e.insts[t] {
		if err := hr.applyInstance(ctx, in, tally); err != nil {
			e.refreshTaskValue(t)
			return err
		}
	}
	e.refreshTaskValue(t)
	return nil
}

func diagSummary(diags hcl.Diagnostics) string {
	var parts []string
	for _, d := range diags {
		if d.Severity == hcl.DiagError {
			parts = append(parts, d.Summary+": "+d.Detail)
		}
	}
	return strings.Join(parts, "; ")
}

func (hr *hostRun) applyInstance(ctx context.Context, in *instance, tally *hostTally) error {
	start := time.Now()
	t := in.task
	if in.mtask == nil && !in.skip || in.deferred {
		diags := hr.e.configure(in)
		hr.addSecrets(in)
		if diags.HasErrors() {
			hr.r.addDiags(hr.host.Name, diags)
			return hr.fail(in.addr, t, tally, time.Since(start), errors.New(diagSummary(diags)), "")
		}
		if in.deferred {
			return hr.fail(in.addr, t, tally, time.Since(start), errors.New("its configuration is still unknown after every task it depends on ran"), "")
		}
	}
	if in.skip {
		hr.r.em.Emit(report.Event{Kind: report.KindTask, Host: hr.host.Name, Task: in.addr, Status: report.StatusSkipped, Message: "when is false",
			Detail: &report.TaskResult{Module: t.Type, Handler: t.Handler}})
		return nil
	}
	// Re-read the state when it may have changed since the batched read
	// (with every later instance that needs it, in the same round trip).
	// An instance applied ahead with an earlier one was known fresh then.
	_, ahead := hr.batched[in]
	if !ahead && (!in.checked || hr.stale(in)) {
		if err := hr.checkAll(ctx, hr.rereadSet(in)); err != nil {
			return hr.fail(in.addr, t, tally, time.Since(start), err, "")
		}
	}
	if in.checkErr != nil {
		return hr.fail(in.addr, t, tally, time.Since(start), in.checkErr, "")
	}
	detail := &report.TaskResult{Module: t.Type, Handler: t.Handler, Changes: report.Changes(in.plan, in.metaSensitive, in.sensitiveAttrs())}
	in.outputs = map[string]cty.Value{}
	changed := in.plan.Changed()
	if !changed && (in.plan == nil || len(in.plan.Steps) == 0) {
		hr.setOutputs(in, transport.Result{}, false)
		tally.ran = append(tally.ran, in.addr)
		hr.r.em.Emit(report.Event{Kind: report.KindTask, Host: hr.host.Name, Task: in.addr, Status: report.StatusOK, Duration: time.Since(start), Detail: detail})
		return nil
	}
	// A plan with Steps but no Changes (wait_for) runs and is reported ok:
	// it changes nothing, so it notifies no handler and stales no state.
	conn, err := hr.connFor(ctx, in)
	if err != nil {
		return hr.fail(in.addr, t, tally, time.Since(start), err, "")
	}
	res, err := hr.applyPlan(ctx, conn, in)
	if changed {
		hr.recordChange(in)
	}
	if err != nil {
		out := strings.TrimSpace(string(res.Stdout) + "\n" + string(res.Stderr))
		if in.sensitive && out != "" {
			// A secret may be in it in a form the masker cannot know.
			out = "(hidden: the task is sensitive)"
		}
		return hr.fail(in.addr, t, tally, time.Since(start), err, out)
	}
	hr.setOutputs(in, res, changed)
	tally.ran = append(tally.ran, in.addr)
	if !changed {
		hr.r.em.Emit(report.Event{Kind: report.KindTask, Host: hr.host.Name, Task: in.addr, Status: report.StatusOK, Duration: time.Since(start), Detail: detail})
		return nil
	}
	if tally.status == report.StatusOK {
		tally.status = report.StatusChanged
	}
	for _, n := range t.Notify {
		hr.notified[n.Name] = true
	}
	hr.r.em.Emit(report.Event{Kind: report.KindTask, Host: hr.host.Name, Task: in.addr, Status: report.StatusChanged, Duration: time.Since(start), Detail: detail})
	return nil
}

// setOutputs records a task's outputs: stdout, stderr and exit_code when the
// module declares them ("" and 0 when the task had nothing to do).
func (hr *hostRun) setOutputs(in *instance, res transport.Result, ran bool) {
	for _, o := range in.task.Module.Spec().Outputs {
		var v cty.Value
		switch o.Name {
		case "stdout":
			v = cty.StringVal(strings.TrimRight(string(res.Stdout), "\n"))
		case "stderr":
			v = cty.StringVal(strings.TrimRight(string(res.Stderr), "\n"))
		case "exit_code":
			v = cty.NumberIntVal(int64(res.ExitCode))
		case "changed":
			v = cty.BoolVal(ran)
		default:
			v = cty.NullVal(o.Type)
		}
		if o.Type != cty.DynamicPseudoType && !v.Type().Equals(o.Type) {
			v = cty.NullVal(o.Type)
		}
		in.outputs[o.Name] = v
	}
	if in.sensitive {
		for _, s := range []string{string(res.Stdout), string(res.Stderr)} {
			if strings.TrimSpace(s) != "" {
				hr.r.opts.Masker.Add(strings.TrimSpace(s))
			}
		}
	}
}

// fail reports a failed task and classifies the host's failure.
func (hr *hostRun) fail(addr string, t *config.Task, tally *hostTally, d time.Duration, err error, output string) error {
	st := report.StatusFailed
	kind := ""
	if transport.Unreachable(err) {
		st = report.StatusUnreachable
		kind = errorKind(err)
		tally.status = report.StatusUnreachable
		tally.kind = kind
	} else if tally.status != report.StatusUnreachable {
		tally.status = report.StatusFailed
	}
	tally.stopped = addr
	msg := err.Error()
	var te *taskError
	if errors.As(err, &te) {
		msg = te.err.Error()
	}
	if st == report.StatusUnreachable {
		msg = errorMessage(err)
		if len(tally.ran) > 0 {
			msg += fmt.Sprintf("\nthe host became unreachable during %s; these tasks had completed: %s", addr, strings.Join(tally.ran, ", "))
		} else {
			msg += fmt.Sprintf("\nthe host became unreachable during %s, before any task completed", addr)
		}
	}
	hr.r.em.Emit(report.Event{Kind: report.KindTask, Host: hr.host.Name, Task: addr, Status: st, Duration: d, Message: msg, ErrorKind: kind, Hint: hintOf(err),
		Detail: &report.TaskResult{Module: t.Type, Handler: t.Handler, Output: output}})
	return err
}

// runHandlers runs the notified handlers, in declaration order, once each.
func (hr *hostRun) runHandlers(ctx, stopCtx context.Context, tally *hostTally) error {
	for _, h := range hr.play.Handlers {
		if !hr.notified[h.Name] {
			continue
		}
		if stopCtx.Err() != nil {
			hr.emitSkipped(h, "handler not run: the run was stopped")
			continue
		}
		in := &instance{task: h, addr: h.Addr()}
		hr.e.insts[h] = []*instance{in}
		hr.e.expand[h] = true
		if err := hr.applyInstance(ctx, in, tally); err != nil {
			return err
		}
	}
	return nil
}

// recordChange notes what a changed task may have touched, for stale.
func (hr *hostRun) recordChange(in *instance) {
	hr.changes = append(hr.changes, changeOf(in))
}

func changeOf(in *instance) changeRec {
	rel, ok := in.mtask.(contract.Relations)
	if !ok || runsCode(in.plan) {
		return changeRec{opaque: true} // arbitrary code may have changed anything
	}
	// What it provides, and the paths it uses other than its own parent
	// directories: a task that edits a file it does not manage (line) has
	// changed that file.
	own := rel.Provides()
	var c changeRec
	created := onlyCreates(in.plan)
	for _, r := range own {
		if created && (r.Kind == "user" || r.Kind == "group") {
			c.created = append(c.created, r)
		} else {
			c.res = append(c.res, r)
		}
	}
	for _, u := range rel.Uses() {
		if u.Kind == "path" && !isParentOf(u.Name, own) {
			c.res = append(c.res, u)
		}
	}
	return c
}

// onlyCreates reports whether every change of p creates something.
func onlyCreates(p *contract.Plan) bool {
	for _, c := range p.Changes {
		if c.Action != contract.Create {
			return false
		}
	}
	return p.Changed()
}

func runsCode(p *contract.Plan) bool {
	for _, c := range p.Changes {
		if c.Action == contract.Run {
			return true
		}
	}
	return false
}

// changeRec is what one changed task touched: the resources it provides,
// or anything (opaque) when it ran code or has no Relations.
//
// A user or group that a task created (it did not exist) is kept apart in
// created: a task that only uses it (a file owned by it, a user in it) read
// its state when the name resolved to nothing, so that read still holds;
// the plan made from it sets the owner or membership, which converges. At
// worst a path already owned by the numeric id the new account then takes
// is reported changed by a chown that changes nothing. Only a task that
// provides the same user or group is stale.
type changeRec struct {
	res     []contract.Resource
	created []contract.Resource
	opaque  bool
}

// stale reports whether in's state, read before the changes made since,
// may no longer describe it: a later change touched a resource it provides
// or uses (other than the directory its own path is in, which only orders
// it), or ran code. Only then does the task re-read its state before
// acting, so a run costs one round trip per host for reading plus what the
// changes need.
func (hr *hostRun) stale(in *instance) bool {
	return staleAfter(in, hr.changes[min(in.checkedAt, len(hr.changes)):])
}

func staleAfter(in *instance, changes []changeRec) bool {
	if len(changes) == 0 {
		return false
	}
	changed := map[contract.Resource]bool{}
	created := map[contract.Resource]bool{}
	for _, c := range changes {
		if c.opaque {
			return true
		}
		for _, r := range c.res {
			changed[r] = true
		}
		for _, r := range c.created {
			created[r] = true
		}
	}
	if len(changed) == 0 && len(created) == 0 {
		return false
	}
	rel, ok := in.mtask.(contract.Relations)
	if !ok {
		return true
	}
	own := rel.Provides()
	for _, r := range own {
		if changed[r] || created[r] {
			return true
		}
	}
	for _, r := range rel.Uses() {
		if r.Kind == "path" && isParentOf(r.Name, own) {
			continue
		}
		if changed[r] {
			return true
		}
	}
	return false
}

func isParentOf(dir string, rs []contract.Resource) bool {
	for _, r := range rs {
		if r.Kind == "path" && path.Dir(r.Name) == dir {
			return true
		}
	}
	return false
}
