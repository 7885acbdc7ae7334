package run

import (
	"github.com/drover-cm/drover/engine/config"
	"github.com/drover-cm/drover/engine/remote"
)

// Handlers run after the play's tasks, once each, in declaration order,
// when a task that notifies them changed something. Most first runs end
// with a batch of changes that notify a handler, which used to cost a
// round trip of its own after it. foldHandlers lets that last batch take
// the handlers it is certain to notify: the script runs them after the
// tasks, and, the script stopping at the first failure, only when every
// task before them succeeded, which is exactly when they are notified.

// segments plans the segments ahead of the cursor (planSegments); when
// they run every remaining task of the play in batches, with nothing to
// read or evaluate in between, the handlers those batches notify for sure
// are planned with them.
func (x *executor) segments(c *cursor) []segment {
	pending := x.pending(c)
	segs := planSegments(pending, x.hr.changes)
	if hs := x.foldHandlers(c, pending, segs); len(hs) > 0 {
		segs = planSegments(append(pending[:len(pending):len(pending)], hs...), x.hr.changes)
	}
	return segs
}

// foldHandlers returns the instances of the handlers that can follow
// pending in its last batch, in declaration order, evaluated and planned
// (none when pending does not reach the end of the play's tasks, or segs,
// its plan, reads state, evaluates configuration or takes a run_once
// result before that end).
//
// A handler goes only when it is certain whether it runs: notified
// already, or notified by an instance of pending whose plan (rebased, when
// its segment rebased it) changes something, reported changed when it succeeds (no changed_when, not
// judged by its result). The first handler that is not certain, that is
// in a stack, runs once, or cannot be evaluated and planned now without a
// round trip (its configuration waits for outputs, its module reads
// state, it runs over another connection) ends the list: the handlers
// after it would otherwise run before it. Evaluating a handler early gives
// the same configuration as after the tasks ran: what it refers to is
// either known now or unknown (an output), and unknown defers it.
func (x *executor) foldHandlers(c *cursor, pending []*instance, segs []segment) []*instance {
	hr := x.hr
	if c.ti >= x.tasks || len(pending) == 0 || len(segs) == 0 || len(hr.play.Handlers) == 0 {
		return nil
	}
	last := hr.order[len(hr.order)-1]
	if ins := hr.e.insts[last]; !hr.e.expand[last] || len(ins) == 0 || ins[len(ins)-1] != pending[len(pending)-1] || len(last.Blocks) > 0 {
		return nil // pending stops before the end, or the walk leaves a block there
	}
	for _, s := range segs {
		if s.kind != segRun || len(s.readAfter) > 0 {
			return nil
		}
	}
	if s := segs[len(segs)-1]; s.insts[len(s.insts)-1] != pending[len(pending)-1] {
		return nil
	}
	// The plans the batches run: a rebased instance's is its segment's.
	re := rebased{}
	for _, s := range segs {
		for in, p := range s.rebased {
			re[in] = p
		}
	}
	notify, unsure := map[string]bool{}, map[string]bool{}
	for _, in := range pending {
		if in.state != instChecked || in.checkErr != nil || !re.plan(in).Changed() {
			continue
		}
		for _, n := range in.task.Notify {
			if in.task.ChangedWhen != nil || in.task.Control() {
				unsure[in.notifyKey(n.Name)] = true
			} else {
				notify[in.notifyKey(n.Name)] = true
			}
		}
	}
	var out []*instance
	for _, h := range hr.play.Handlers {
		if h.Call != nil || h.RunOnce != nil || unsure[h.Name] {
			break
		}
		if !notify[h.Name] && !hr.isNotified(h) {
			if hr.e.expand[h] {
				break // evaluated for an earlier batch that stopped: the walk passes it
			}
			continue
		}
		ins, ok := x.readyHandler(h)
		if !ok {
			break
		}
		out = append(out, ins...)
	}
	return out
}

// readyHandler evaluates and plans handler h's instances, if that needs no
// round trip; false when it would (or failed: the walk then does it again
// in h's turn and reports why).
func (x *executor) readyHandler(h *config.Task) ([]*instance, bool) {
	hr := x.hr
	if !hr.e.expand[h] {
		if known, diags := hr.e.expandTask(h); !known || diags.HasErrors() {
			return nil, false
		}
	}
	ins := hr.e.insts[h]
	for _, in := range ins {
		if in.state == instNew {
			if diags := hr.configure(in); diags.HasErrors() {
				return nil, false
			}
		}
		switch {
		case in.state == instSkipped || in.state == instChecked:
		case in.state != instConfigured || in.conn != "" || in.delegate != nil || !remote.ReadsNothing(in.mtask):
			return nil, false
		}
	}
	var unread []*instance
	for _, in := range ins {
		if in.state == instConfigured {
			unread = append(unread, in)
		}
	}
	// Nothing to read: planned without any I/O.
	if err := hr.checkAll(x.ctx, unread); err != nil {
		return nil, false
	}
	return ins, true
}
