package run

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/hashicorp/hcl/v2"
	"github.com/zclconf/go-cty/cty"

	"github.com/drover-cm/drover/engine/config"
	"github.com/drover-cm/drover/engine/remote"
	"github.com/drover-cm/drover/engine/report"
	"github.com/drover-cm/drover/engine/transport"
	"github.com/drover-cm/drover/modules/contract"
)

// executor applies one play on one prepared host: it walks the tasks in
// order, runs the segments planSegments makes of the instances ahead, and
// reports every instance once, in walk order. A failed instance stops the
// host; the tasks not reached are reported skipped, saying why.
type executor struct {
	hr    *hostRun
	tally *hostTally
	// ctx cuts running work; stopCtx only stops new tasks from starting.
	ctx, stopCtx context.Context
	// blocks are how the play's blocks stand on the host.
	blocks blockStates
	// started are the instances whose KindTaskStart was emitted.
	started map[string]bool
	// tasks is how many of the walk's tasks are the play's; the handlers
	// follow them.
	tasks int
}

// cursor is the executor's place in a list of tasks: task ti, instance ii
// of it.
type cursor struct {
	tasks  []*config.Task
	ti, ii int
	// entered is the last task the stop check let in: a task once begun
	// (by the walk, or by a batch that reached it) runs to its end.
	entered int
}

// walkEnd is where a walk ended: at == len(tasks) when every task ran;
// otherwise err says why it stopped before or at task at.
type walkEnd struct {
	at     int
	failed bool // task at failed (else the run was stopped before it)
	err    error
	// block, when set, failed (task at is its last task).
	block *config.Block
}

// apply runs the play's tasks, then its notified handlers, in one walk:
// the handlers follow the tasks (walkHandlers), so that the last batch of
// changes can take the handlers it is certain to notify (foldHandlers).
func (hr *hostRun) apply(ctx, stopCtx context.Context, tally *hostTally) error {
	x := &executor{hr: hr, tally: tally, ctx: ctx, stopCtx: stopCtx, blocks: blockStates{}, started: map[string]bool{}, tasks: len(hr.order)}
	for _, t := range hr.shown {
		if why, ok := hr.unselected[t]; ok {
			hr.emitSkipped(t, why)
		}
	}
	all := append(hr.order[:len(hr.order):len(hr.order)], hr.play.Handlers...)
	end := x.walk(all)
	if end.at >= len(hr.order) {
		// The tasks completed; end is the handlers'. A stop reports those
		// not run; a failure ends the host there.
		if end.err != nil && !end.failed {
			for _, h := range all[end.at:] {
				if hr.isNotified(h) {
					hr.emitSkipped(h, "handler not run: the run was stopped")
				}
			}
			return nil
		}
		return end.err
	}
	x.reportNotReached(hr.order, end)
	switch {
	case !end.failed:
		tally.interrupted(hr.order[end.at].Addr())
	case tally.status == report.StatusUnreachable:
		tally.msg = hostErrorMessage(end.err, tally)
	}
	for _, h := range hr.play.Handlers {
		if hr.isNotified(h) {
			hr.emitSkipped(h, "handler not run: the host did not complete the play")
		}
	}
	return end.err
}

// walk runs tasks in order. Before a task begins it checks for a stop;
// then it evaluates the task's for_each or count if it had to wait, and
// runs the segments planned for the instances ahead, planning again when
// they run out.
func (x *executor) walk(tasks []*config.Task) walkEnd {
	e := x.hr.e
	c := &cursor{tasks: tasks, entered: -1}
	ends := blockEnds(tasks)
	for c.ti < len(tasks) {
		if err := x.enter(c); err != nil {
			return walkEnd{at: c.ti, err: err}
		}
		t := tasks[c.ti]
		if t.Handler && c.ii == 0 && !x.hr.isNotified(t) {
			c.move(c.ti+1, 0) // not notified: not run, not reported
			continue
		}
		if why := x.blocks.skipReason(t); why != "" && c.ii == 0 {
			x.hr.emitSkipped(t, why)
			x.ranNothing(x.hr.e.insts[t])
			if end := x.pass(c, ends); end != nil {
				return *end
			}
			continue
		}
		if !e.expand[t] {
			if err := x.expand(t); err != nil && !x.goOnAfter(c, err) {
				return walkEnd{at: c.ti, failed: true, err: err}
			}
			continue
		}
		if c.ii == len(e.insts[t]) {
			if end := x.pass(c, ends); end != nil {
				return *end
			}
			continue
		}
		for _, seg := range x.segments(c) {
			if err := x.reach(c); err != nil {
				return walkEnd{at: c.ti, err: err}
			}
			if err := x.run(c, seg); err != nil {
				if x.goOnAfter(c, err) {
					break // plan again from where the walk goes on
				}
				return walkEnd{at: c.ti, failed: true, err: err}
			}
		}
	}
	return walkEnd{at: len(tasks)}
}

// enter checks for a stop before the task at the cursor begins.
func (x *executor) enter(c *cursor) error {
	if c.ti == c.entered {
		return nil
	}
	if err := x.stopCtx.Err(); err != nil {
		return fmt.Errorf("stopped before %s: %w", c.tasks[c.ti].Addr(), err)
	}
	c.entered = c.ti
	return nil
}

// reach moves the cursor to the first instance of the next segment (the
// instance after the last one reported), past the tasks that are finished,
// entering the one it arrives at.
func (x *executor) reach(c *cursor) error {
	for c.ii == len(x.hr.e.insts[c.tasks[c.ti]]) {
		x.finish(c.tasks[c.ti])
		c.move(c.ti+1, 0)
		if err := x.enter(c); err != nil {
			return err
		}
	}
	return nil
}

// pending is the instances from the cursor on, up to the first task whose
// instances are not known yet or that is in another section of a block:
// among the play's tasks, up to their end; among the handlers, up to the
// first not notified.
func (x *executor) pending(c *cursor) []*instance {
	e := x.hr.e
	tasks := c.tasks[c.ti:]
	if c.ti < x.tasks {
		tasks = c.tasks[c.ti:x.tasks]
	}
	var out []*instance
	for i, t := range tasks {
		if !e.expand[t] || !samePath(t.Blocks, c.tasks[c.ti].Blocks) || t.Handler && !x.hr.isNotified(t) {
			break
		}
		ins := e.insts[t]
		if i == 0 {
			ins = ins[c.ii:]
		}
		out = append(out, ins...)
	}
	return out
}

func (c *cursor) move(ti, ii int) {
	c.ti, c.ii = ti, ii
}

// next moves the cursor from the instance it is at to the next one of the
// same run segment, passing the tasks it finishes; the task it arrives at
// has begun.
func (x *executor) next(c *cursor) {
	e := x.hr.e
	c.move(c.ti, c.ii+1)
	for c.ii == len(e.insts[c.tasks[c.ti]]) {
		x.finish(c.tasks[c.ti])
		c.move(c.ti+1, 0)
		c.entered = c.ti
	}
}

// finish publishes what later tasks see of t, its instances having run.
// Handlers are referenced by no task.
func (x *executor) finish(t *config.Task) {
	if !t.Handler {
		x.hr.e.refreshTaskValue(t)
	}
}

// expand evaluates the for_each or count of t, which waited for earlier
// tasks.
func (x *executor) expand(t *config.Task) error {
	known, diags := x.hr.e.expandTask(t)
	if diags.HasErrors() {
		x.hr.r.addDiags(x.hr.host.Name, diags)
		return x.fail(t.Addr(), t, nil, stepTime{}, errors.New(diagSummary(diags)), nil)
	}
	if !known {
		return x.fail(t.Addr(), t, nil, stepTime{}, errors.New("for_each or count is still unknown after every task it depends on ran"), nil)
	}
	if diags := x.hr.markOnce(t); diags.HasErrors() {
		x.hr.r.addDiags(x.hr.host.Name, diags)
		return x.fail(t.Addr(), t, nil, stepTime{}, errors.New(diagSummary(diags)), nil)
	}
	return nil
}

// run runs one segment; the cursor is at its first instance.
func (x *executor) run(c *cursor, seg segment) error {
	hr := x.hr
	in := seg.insts[0]
	switch seg.kind {
	case segConfigure:
		x.start(in, 0)
		t0 := time.Now()
		diags := hr.configure(in)
		st := stepTime{d: time.Since(t0)}
		if diags.HasErrors() {
			hr.r.addDiags(hr.host.Name, diags)
			return x.failInstance(in, errors.New(diagSummary(diags)), st, nil)
		}
		if in.state == instDeferred {
			return x.failInstance(in, errors.New("its configuration is still unknown after every task it depends on ran"), st, nil)
		}
	case segRead:
		// The others of the read are read ahead; the step is the first's.
		x.start(in, 0)
		t0 := time.Now()
		if err := hr.checkAll(x.ctx, seg.insts); err != nil {
			return x.failInstance(in, err, stepTime{d: time.Since(t0)}, nil)
		}
	case segOnce:
		if err := x.runFollowed(in); err != nil {
			return err
		}
		c.move(c.ti, c.ii+1)
	case segRun:
		x.takeRebased(seg)
		work := make([]bool, len(seg.insts))
		for k, in := range seg.insts {
			work[k] = willRun(in)
		}
		times := batchTimes(work, 0)
		for k, in := range seg.insts {
			if work[k] {
				x.start(in, times[k].batch)
			}
		}
		t0 := time.Now()
		res := x.applyBatch(seg)
		times = batchTimes(work, time.Since(t0))
		for k, in := range seg.insts {
			if k > 0 {
				x.next(c)
			}
			if err := x.report(in, res[k], times[k]); err != nil {
				return err
			}
		}
		c.move(c.ti, c.ii+1)
	}
	return nil
}

// applyBatch applies the plans of a run segment's instances with work, in
// one remote batch, with the read of readAfter at its end. It returns a
// result per instance (zero for those without work) and logs the changes
// made.
func (x *executor) applyBatch(seg segment) []remote.BatchResult {
	hr := x.hr
	res := make([]remote.BatchResult, len(seg.insts))
	if d := seg.insts[0].delegate; d != nil {
		// Hosts delegating to one host take turns there, and each makes
		// its change from the state read under the lock: another host may
		// have changed the same file since this one's plan was read.
		mu := hr.r.delegates.of(d.Name)
		mu.Lock()
		defer mu.Unlock()
		var fresh []*instance
		for _, in := range seg.insts {
			if in.state == instChecked && in.checkErr == nil {
				fresh = append(fresh, in)
			}
		}
		if err := hr.checkAll(x.ctx, fresh); err != nil {
			res[0] = remote.BatchResult{Ran: true, Err: err}
			return res
		}
	}
	var plans []*contract.Plan
	var idx []int
	for k, in := range seg.insts {
		if willRun(in) {
			plans = append(plans, in.plan)
			idx = append(idx, k)
		}
	}
	if len(plans) == 0 {
		return res
	}
	out, checks := x.applyPlans(seg.insts[idx[0]], plans, seg.readAfter)
	stopped := len(seg.insts)
	for i, k := range idx {
		res[k] = out[i]
		if out[i].Ran && seg.insts[k].plan.Changed() {
			hr.changes = append(hr.changes, changeOf(seg.insts[k], seg.insts[k].plan))
		}
		if (out[i].Err != nil || !out[i].Ran) && k < stopped {
			stopped = k
		}
	}
	// A rebased plan after the batch stopped was made from content an edit
	// before it was to write, which may not have happened: read it again.
	for k, in := range seg.insts[min(stopped+1, len(seg.insts)):] {
		if _, ok := seg.rebased[in]; ok && in.state == instChecked {
			in.to(instConfigured)
			res[stopped+1+k] = remote.BatchResult{}
		}
	}
	if checks != nil {
		hr.diffAll(seg.readAfter, checks, len(hr.changes))
	}
	return res
}

// takeRebased gives the instances of a run segment that were rebased
// their plans, as of the changes the batch makes before each of them.
func (x *executor) takeRebased(seg segment) {
	if len(seg.rebased) == 0 {
		return
	}
	at := len(x.hr.changes)
	for _, in := range seg.insts {
		if p, ok := seg.rebased[in]; ok {
			in.plan, in.checkErr, in.checkedAt = p, nil, at
		}
		if willRun(in) && in.plan.Changed() {
			at++
		}
	}
}

// applyPlans runs plans over lead's connection: with remote.Apply when
// lead's is alone, otherwise in one remote.ApplyAllThenCheck that reads the
// state of readAfter at its end (checks is nil when that read did not
// happen).
func (x *executor) applyPlans(lead *instance, plans []*contract.Plan, readAfter []*instance) (out []remote.BatchResult, checks []contract.CheckOutput) {
	out = make([]remote.BatchResult, len(plans))
	conn, err := x.hr.connFor(x.ctx, lead)
	if err != nil {
		out[0] = remote.BatchResult{Ran: true, Err: err}
		return out, nil
	}
	if d := lead.delegate; d != nil {
		defer func() {
			for i := range out {
				if transport.Unreachable(out[i].Err) {
					out[i].Err = &delegateError{d.Name, out[i].Err}
				}
			}
		}()
	}
	if len(plans) == 1 && len(readAfter) == 0 {
		r, err := remote.Apply(x.ctx, conn, plans[0])
		out[0] = remote.BatchResult{Ran: true, Result: r, Err: err}
		return out, nil
	}
	out, checks, err = remote.ApplyAllThenCheck(x.ctx, conn, plans, mtasks(readAfter))
	if err != nil && !out[0].Ran {
		// Nothing ran (the script could not be made): the first plan gets
		// the error. A lost connection is the error of the plan it cut.
		out[0] = remote.BatchResult{Ran: true, Err: err}
	}
	return out, checks
}

// report reports one instance of a run segment, from its batch result r
// and the time of the step that ran it.
func (x *executor) report(in *instance, r remote.BatchResult, st stepTime) error {
	hr, t := x.hr, in.task
	x.start(in, st.batch)
	if in.state == instSkipped {
		hr.publishOnce(in, report.StatusSkipped, "", nil)
		hr.r.em.Emit(report.Event{Kind: report.KindTask, Host: hr.host.Name, Task: in.addr, Status: report.StatusSkipped, Message: "when is false",
			Detail: &report.TaskResult{Module: t.Type, Handler: t.Handler}})
		return nil
	}
	if in.checkErr != nil {
		r = remote.BatchResult{Ran: true, Err: in.checkErr} // its step was the state read
	} else if hasWork(in.plan) && !r.Ran {
		// Only after a failure, which ended the segment before this one.
		return x.failInstance(in, errors.New("not run: the batch it was in stopped before it"), stepTime{}, nil)
	}
	r, st, changed, err := x.attempts(in, r, st)
	detail := &report.TaskResult{Module: t.Type, Handler: t.Handler, Changes: report.Changes(in.plan, in.metaSensitive, in.sensitiveAttrs()), Attempt: in.attempt}
	if err != nil {
		// Dependants of a failure that is ignored or rescued see what it
		// printed (marked sensitive for a sensitive task, as always; not
		// registered whole with the masker, which would also hide the
		// error message's parts that are not secret).
		hr.setOutputs(in, resultOf(r), false)
		var printed *transport.Result
		if hasWork(in.plan) && r.Ran {
			printed = &r.Result
		}
		return x.failInstance(in, err, st, printed)
	}
	// A plan with Steps but no Changes (wait_for) ran and is reported ok:
	// it changed nothing, so it notifies no handler and stales no state.
	hr.setOutputs(in, resultOf(r), changed)
	hr.maskOutputs(in, r.Result)
	in.to(instDone)
	x.tally.completed(in.addr, changed)
	status := report.StatusOK
	if changed {
		status = report.StatusChanged
		for _, n := range t.Notify {
			hr.notified[in.notifyKey(n.Name)] = true
		}
	}
	hr.publishOnce(in, status, "", detail.Changes)
	detail.Batch = st.batch
	ev := report.Event{Kind: report.KindTask, Host: hr.host.Name, Task: in.addr, Status: status, Duration: st.d, Detail: detail}
	if in.delegate != nil {
		ev.Message = "on " + in.delegate.Name
	}
	if r.Ran {
		withOutput(&ev, in, r.Result, nil)
	}
	hr.r.em.Emit(ev)
	return nil
}

// setOutputs records a task's outputs: stdout, stderr and exit_code when the
// module declares them ("" and 0 when the task had nothing to do).
func (hr *hostRun) setOutputs(in *instance, res transport.Result, ran bool) {
	in.outputs = map[string]cty.Value{}
	for _, o := range in.task.Module.Spec().Outputs {
		var v cty.Value
		switch o.Name {
		case "stdout":
			v = cty.StringVal(trimNL(res.Stdout))
		case "stderr":
			v = cty.StringVal(trimNL(res.Stderr))
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
	if _, ok := in.outputs["changed"]; !ok {
		in.outputs["changed"] = cty.BoolVal(ran)
	}
}

// maskOutputs registers what a sensitive task printed with the masker: a
// secret may be in it in a form no value holds.
func (hr *hostRun) maskOutputs(in *instance, res transport.Result) {
	if in.sensitive {
		for _, s := range []string{string(res.Stdout), string(res.Stderr)} {
			if strings.TrimSpace(s) != "" {
				hr.r.opts.Masker.Add(strings.TrimSpace(s))
			}
		}
	}
}

// failInstance reports in failed in the step st, which printed res (nil:
// nothing ran).
func (x *executor) failInstance(in *instance, err error, st stepTime, res *transport.Result) error {
	if in.delegate != nil && !isDelegateError(err) {
		err = fmt.Errorf("on %s: %w", in.delegate.Name, err)
	}
	in.to(instFailed)
	x.hr.publishOnce(in, report.StatusFailed, fmt.Sprintf("%s failed there: %v", in.addr, err), nil)
	return x.fail(in.addr, in.task, in, st, err, res)
}

// fail reports a failed task (or instance, addr; in is nil for a task)
// and classifies the host's failure (judgeFailure): the error it returns
// is a *goOn when the walk goes on after it. A failure once the run was
// cut (a second Ctrl-C) is the cut's: the task is cancelled.
func (x *executor) fail(addr string, t *config.Task, in *instance, st stepTime, err error, res *transport.Result) error {
	x.startAddr(addr, t, st.batch)
	var status report.Status
	var kind, msg, hint string
	werr := err
	switch {
	case x.ctx.Err() != nil:
		status, msg = x.tally.cut(addr), "interrupted while it ran"
	default:
		var note string
		status, kind, note, werr = x.judgeFailure(addr, t, err)
		msg, hint = err.Error()+note, hintOf(err)
		if status == report.StatusUnreachable {
			msg = x.tally.unreachableMessage(addr, err)
		}
	}
	detail := &report.TaskResult{Module: t.Type, Handler: t.Handler, Batch: st.batch}
	if in != nil {
		detail.Attempt = in.attempt
	}
	ev := report.Event{Kind: report.KindTask, Host: x.hr.host.Name, Task: addr, Status: status, Duration: st.d, Message: msg, ErrorKind: kind, Hint: hint, Detail: detail}
	if res != nil && in != nil {
		withOutput(&ev, in, *res, err)
	}
	x.hr.r.em.Emit(ev)
	return werr
}

func trimNL(b []byte) string { return strings.TrimRight(string(b), "\n") }

// reportNotReached reports the tasks after a failure or a stop as skipped:
// those depending on the failed task, the others not run.
func (x *executor) reportNotReached(tasks []*config.Task, end walkEnd) {
	if end.failed && x.ctx.Err() != nil {
		end.at++ // the task at end.at was cut, and reported cancelled
		end.failed = false
	}
	if !end.failed {
		for _, t := range tasks[end.at:] {
			x.hr.emitSkipped(t, "not run: the run was stopped")
		}
		return
	}
	failed := tasks[end.at]
	what := failed.Addr()
	below := map[*config.Task]bool{}
	for _, t := range x.hr.g.Descendants(failed) {
		below[t] = true
	}
	if end.block != nil {
		what = end.block.Addr()
		for _, bt := range tasks[:end.at+1] {
			if _, in := bt.SectionOf(end.block); in {
				for _, t := range x.hr.g.Descendants(bt) {
					below[t] = true
				}
			}
		}
	}
	for _, t := range tasks[end.at+1:] {
		if below[t] {
			x.hr.emitSkipped(t, fmt.Sprintf("skipped: depends on %s, which did not complete", what))
		} else {
			x.hr.emitSkipped(t, fmt.Sprintf("not run: the host stopped after %s failed", what))
		}
	}
}

// emitSkipped reports every instance of t skipped (t itself when its
// instances are not known).
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

func diagSummary(diags hcl.Diagnostics) string {
	var parts []string
	for _, d := range diags {
		if d.Severity == hcl.DiagError {
			parts = append(parts, d.Summary+": "+d.Detail)
		}
	}
	return strings.Join(parts, "; ")
}
