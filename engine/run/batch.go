package run

import (
	"context"
	"fmt"

	"github.com/drover-cm/drover/engine/config"
	"github.com/drover-cm/drover/engine/remote"
	"github.com/drover-cm/drover/engine/report"
	"github.com/drover-cm/drover/engine/transport"
	"github.com/drover-cm/drover/modules/contract"
)

// A host's changes are applied in as few round trips as correctness allows.
// The walk visits tasks one at a time in a fixed order (hr.order, then each
// task's instances). When it reaches an instance with work to do, applyPlan
// looks ahead along that order and takes every following instance whose
// plan is already known and stays valid after the earlier ones ran (its
// batched state read is not stale given their changes), up to the first that
// is not: one whose configuration waits for an earlier task's outputs, whose
// state an earlier change may have touched, which runs over another
// connection, or which has a Go step (hasFunc). remote.ApplyAll runs them all in one remote script; the walk
// then reports each one when it reaches it, as if it had run it then.

// followers returns the instances after in, in walk order, that can be
// applied in the same round trip as in.
func (hr *hostRun) followers(in *instance) []*instance {
	if hasFunc(in.plan) {
		return nil
	}
	var out []*instance
	changes := []changeRec{}
	if in.plan.Changed() {
		changes = append(changes, changeOf(in))
	}
	key := hr.connKey(in)
	for _, f := range hr.after(in) {
		if f.skip {
			continue // reported skipped when reached; runs nothing
		}
		if f.mtask == nil || f.deferred || !f.checked || f.checkErr != nil || hr.connKey(f) != key || hasFunc(f.plan) {
			break
		}
		if staleAfter(f, append(hr.changes[min(f.checkedAt, len(hr.changes)):len(hr.changes):len(hr.changes)], changes...)) {
			break
		}
		out = append(out, f)
		if f.plan.Changed() {
			changes = append(changes, changeOf(f))
		}
	}
	return out
}

// hasFunc reports whether a plan has a Go step (command and shell run their
// program with stdin of its own). Such a step is a round trip of its own
// anyway, so batching it would save nothing and only delay the reports of
// the tasks before it; a batch stops before it.
func hasFunc(p *contract.Plan) bool {
	if p == nil {
		return false
	}
	for _, st := range p.Steps {
		if st.Func != nil {
			return true
		}
	}
	return false
}

// after returns the instances that come after in in walk order, up to the
// first task whose instances are not known yet. Handlers are not in it.
func (hr *hostRun) after(in *instance) []*instance {
	var out []*instance
	found := false
	for _, t := range hr.order {
		if !hr.e.expand[t] {
			if found {
				break
			}
			continue
		}
		for _, x := range hr.e.insts[t] {
			if found {
				out = append(out, x)
			} else if x == in {
				found = true
			}
		}
	}
	return out
}

// rereadSet is in plus the instances after it whose state must be read
// again (or for the first time) before they act, so that one round trip
// refreshes them all.
func (hr *hostRun) rereadSet(in *instance) []*instance {
	out := []*instance{in}
	for _, f := range hr.after(in) {
		if f.skip || f.mtask == nil || f.deferred {
			continue
		}
		if !f.checked || hr.stale(f) {
			out = append(out, f)
		}
	}
	return out
}

// rereadAfter returns the instances after the batch of in and its
// followers fs, over the same connection, whose state must be read (again)
// once the batch has run: the batch's last script reads it, instead of a
// round trip of its own when the walk reaches them. changedAt is the length
// hr.changes will have once the walk has recorded the batch's changes, the
// point in the log up to which that read is fresh.
func (hr *hostRun) rereadAfter(in *instance, fs []*instance) (out []*instance, changedAt int) {
	last := in
	batch := append([]*instance{in}, fs...)
	var changes []changeRec
	for _, b := range batch {
		if b.plan.Changed() {
			changes = append(changes, changeOf(b))
		}
		last = b
	}
	key := hr.connKey(in)
	for _, f := range hr.after(last) {
		if f.skip || f.mtask == nil || f.deferred || hr.connKey(f) != key {
			continue
		}
		if !f.checked || staleAfter(f, append(hr.changes[min(f.checkedAt, len(hr.changes)):len(hr.changes):len(hr.changes)], changes...)) {
			out = append(out, f)
		}
	}
	return out, len(hr.changes) + len(changes)
}

// diffAll plans ins from the state read for them, as checkBatch does.
func (hr *hostRun) diffAll(ins []*instance, outs []contract.CheckOutput, checkedAt int) {
	for i, in := range ins {
		p, err := in.mtask.Diff(outs[i])
		in.plan, in.checked, in.checkErr = p, true, nil
		in.checkedAt = checkedAt
		if err != nil {
			// The task fails when it is reached (in a plan: it is shown
			// failed); tasks before it still run.
			in.plan, in.checkErr = nil, err
		}
	}
}

// connKey names the connection an instance runs over ("" for the play's).
func (hr *hostRun) connKey(in *instance) string {
	b := in.become
	if b == nil || (hr.become != nil && *b == *hr.become) || (hr.become == nil && !b.Enabled) {
		return ""
	}
	return fmt.Sprintf("%v/%s", b.Enabled, b.User)
}

// applyPlan runs in's plan: from the result of an earlier batch, or
// together with the followers that can go with it.
func (hr *hostRun) applyPlan(ctx context.Context, conn transport.Conn, in *instance) (transport.Result, error) {
	if r, ok := hr.batched[in]; ok {
		delete(hr.batched, in)
		return r.Result, r.Err
	}
	fs := hr.followers(in)
	var plans []*contract.Plan
	var ins []*instance
	for _, f := range fs {
		if f.plan.Changed() || len(f.plan.Steps) > 0 {
			plans = append(plans, f.plan)
			ins = append(ins, f)
		}
	}
	reread, changedAt := hr.rereadAfter(in, fs)
	if len(plans) == 0 && len(reread) == 0 {
		return remote.Apply(ctx, conn, in.plan)
	}
	tasks := make([]contract.Task, len(reread))
	for i, f := range reread {
		tasks[i] = f.mtask
	}
	res, checks, err := remote.ApplyAllThenCheck(ctx, conn, append([]*contract.Plan{in.plan}, plans...), tasks)
	if checks != nil {
		hr.diffAll(reread, checks, changedAt)
	}
	if hr.batched == nil {
		hr.batched = map[*instance]remote.BatchResult{}
	}
	for k, f := range ins {
		if r := res[k+1]; r.Ran {
			hr.batched[f] = r
		}
	}
	_ = err // a lost connection is the error of the plan it cut (res[k].Err)
	return res[0].Result, res[0].Err
}

// reportAhead reports the instances of t that ran ahead with an earlier
// instance although the walk, stopped meanwhile, never reached t (the others
// are reported not run). It returns false when none of t's instances ran.
func (hr *hostRun) reportAhead(ctx context.Context, t *config.Task, tally *hostTally) bool {
	ran := false
	for _, in := range hr.e.insts[t] {
		if _, ok := hr.batched[in]; ok {
			ran = true
		}
	}
	if !ran {
		return false
	}
	for _, in := range hr.e.insts[t] {
		if _, ok := hr.batched[in]; ok {
			_ = hr.applyInstance(ctx, in, tally)
			continue
		}
		hr.r.em.Emit(report.Event{Kind: report.KindTask, Host: hr.host.Name, Task: in.addr, Status: report.StatusSkipped, Message: "not run: the run was stopped",
			Detail: &report.TaskResult{Module: t.Type, Handler: t.Handler}})
	}
	hr.e.refreshTaskValue(t)
	return true
}
