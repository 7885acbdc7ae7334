package run

import (
	"errors"
	"fmt"
	"time"

	"github.com/hashicorp/hcl/v2"
	"github.com/zclconf/go-cty/cty"
	"github.com/zclconf/go-cty/cty/convert"

	"github.com/drover-cm/drover/engine/config"
	"github.com/drover-cm/drover/engine/lang"
	"github.com/drover-cm/drover/engine/remote"
	"github.com/drover-cm/drover/engine/report"
	"github.com/drover-cm/drover/engine/transport"
	"github.com/drover-cm/drover/modules/contract"
)

// What a task's result means, and what its failure does: retries,
// retry_delay, until, changed_when, failed_when, on_failure (see
// docs/language.md), and blocks (blocks.go).

// defaultRetryDelay is the wait between attempts when retry_delay is not set.
const defaultRetryDelay = time.Second

// maxRetries bounds retries: a typo of an extra digit must not keep a host
// busy for a day.
const maxRetries = 100

// configureControl evaluates retries and retry_delay for one instance.
func (e *evaluator) configureControl(in *instance, ctx *hcl.EvalContext) hcl.Diagnostics {
	t := in.task
	if t.Retries != nil {
		v, diags := t.Retries.Value(ctx)
		if diags.HasErrors() {
			return diags
		}
		v, _ = v.UnmarkDeep()
		n, err := convert.Convert(v, cty.Number)
		var r int64
		ok := err == nil && !n.IsNull() && n.IsKnown()
		if ok {
			bf := n.AsBigFloat()
			r, _ = bf.Int64()
			ok = bf.IsInt() && r >= 0 && r <= maxRetries
		}
		if !ok {
			return hcl.Diagnostics{{Severity: hcl.DiagError, Summary: "Invalid retries value",
				Detail:  fmt.Sprintf("retries is how many times to run the task again after a failed attempt: a whole number from 0 to %d, not %s.", maxRetries, friendly(v)),
				Subject: t.Retries.Range().Ptr()}}
		}
		in.retries = int(r)
	}
	in.retryDelay = defaultRetryDelay
	if t.RetryDelay != nil {
		v, diags := t.RetryDelay.Value(ctx)
		if diags.HasErrors() {
			return diags
		}
		v, _ = v.UnmarkDeep()
		var d time.Duration
		var err error = errors.New("not a string")
		if v.IsKnown() && !v.IsNull() && v.Type() == cty.String {
			d, err = time.ParseDuration(v.AsString())
		}
		if err != nil || d < 0 || d > time.Hour {
			return hcl.Diagnostics{{Severity: hcl.DiagError, Summary: "Invalid retry_delay value",
				Detail:  `retry_delay is the wait between attempts: a duration such as "500ms", "2s" or "1m", at most "1h".`,
				Subject: t.RetryDelay.Range().Ptr()}}
		}
		in.retryDelay = d
	}
	if in.retries > 0 {
		in.attempt = 1
	}
	return nil
}

// judge decides how an instance that ran (or had nothing to run) ended:
// whether it changed something, and the error it failed with. Without
// changed_when, failed_when and until that is its plan and its error;
// with them, their values over self (the program's stdout, stderr and
// exit_code) decide. A failure that is not the program's own result (a
// lost connection, an upload) stands: conditions cannot judge it.
func (x *executor) judge(in *instance, r remote.BatchResult) (bool, error) {
	t := in.task
	changed, err := in.plan.Changed(), r.Err
	if !hasWork(in.plan) || !r.Ran || t.FailedWhen == nil && t.ChangedWhen == nil && t.Until == nil {
		return changed, err
	}
	code := r.Result.ExitCode
	if err != nil {
		var se *contract.StepError
		if !errors.As(err, &se) || se.Err != nil {
			return changed, err
		}
		code = se.ExitCode
	}
	self := selfValue(r.Result, code, in.sensitive)
	if t.FailedWhen != nil {
		failed, cerr := x.cond(in, t.FailedWhen, self, "failed_when")
		switch {
		case cerr != nil:
			return false, cerr
		case failed:
			err = fmt.Errorf("failed_when is true (exit status %d)", code)
		default:
			err = nil
		}
	}
	if err == nil && t.Until != nil {
		done, cerr := x.cond(in, t.Until, self, "until")
		if cerr != nil {
			return false, cerr
		}
		if !done {
			err = fmt.Errorf("until is false (exit status %d)", code)
		}
	}
	if err == nil && t.ChangedWhen != nil {
		c, cerr := x.cond(in, t.ChangedWhen, self, "changed_when")
		if cerr != nil {
			return false, cerr
		}
		changed = c
	}
	return changed, err
}

// resultOf is what a plan's run returned, with the exit status of the
// step that failed (a batch does not record it in the Result).
func resultOf(r remote.BatchResult) transport.Result {
	res := r.Result
	var se *contract.StepError
	if errors.As(r.Err, &se) && res.ExitCode == 0 {
		res.ExitCode = se.ExitCode
	}
	return res
}

// selfValue is self in changed_when, failed_when and until.
func selfValue(res transport.Result, code int, sensitive bool) cty.Value {
	v := cty.ObjectVal(map[string]cty.Value{
		"stdout":    cty.StringVal(trimNL(res.Stdout)),
		"stderr":    cty.StringVal(trimNL(res.Stderr)),
		"exit_code": cty.NumberIntVal(int64(code)),
	})
	if sensitive {
		v = lang.Sensitive(v)
	}
	return v
}

// cond evaluates a condition of the instance with self in scope. An error
// is reported as a diagnostic for the host and fails the task.
func (x *executor) cond(in *instance, expr hcl.Expression, self cty.Value, name string) (bool, error) {
	hr := x.hr
	ctx := hr.e.scope.With(in.each, in.count).EvalContext()
	ctx.Variables["self"] = self
	v, diags := expr.Value(ctx)
	if !diags.HasErrors() {
		v, _ = v.UnmarkDeep()
		b, err := convert.Convert(v, cty.Bool)
		if err == nil && b.IsKnown() && !b.IsNull() {
			return b.True(), nil
		}
		diags = append(diags, &hcl.Diagnostic{Severity: hcl.DiagError, Summary: "Invalid " + name + " value",
			Detail: fmt.Sprintf("%s: %s must be true or false, not %s.", in.addr, name, friendly(v)), Subject: expr.Range().Ptr()})
	}
	hr.r.addDiags(hr.host.Name, diags)
	return false, errors.New(diagSummary(diags))
}

// attempts runs an instance with retries again while its attempt fails
// and attempts remain: each failed attempt is reported (KindRetry), then,
// after retry_delay (cut short by a stop), its state is read again and it
// is applied again. It returns the last attempt's result and judgement,
// and st covering every attempt (the waits included) when there were more
// than one.
func (x *executor) attempts(in *instance, r remote.BatchResult, st stepTime) (remote.BatchResult, stepTime, bool, error) {
	begin := time.Now().Add(-st.d)
	changed, err := x.judge(in, r)
	for err != nil && in.attempt > 0 && in.attempt <= in.retries && !transport.Unreachable(err) {
		hr := x.hr
		hr.r.em.Emit(report.Event{Kind: report.KindRetry, Host: hr.host.Name, Task: in.addr, Duration: time.Since(begin),
			Message: fmt.Sprintf("%v; attempt %d of %d, next in %s", err, in.attempt+1, in.retries+1, in.retryDelay),
			Detail:  &report.TaskResult{Module: in.task.Type, Handler: in.task.Handler, Attempt: in.attempt}})
		if werr := x.wait(in.retryDelay); werr != nil {
			return r, stepTime{d: time.Since(begin), batch: st.batch}, false, fmt.Errorf("%w; no further attempt: %w", err, werr)
		}
		in.attempt++
		r = x.again(in)
		changed, err = x.judge(in, r)
		st = stepTime{d: time.Since(begin)}
	}
	if err != nil && in.attempt > 1 {
		err = fmt.Errorf("%w, after %d attempts", err, in.attempt)
	}
	return r, st, changed, err
}

// wait waits d, or until the run is stopped.
func (x *executor) wait(d time.Duration) error {
	tm := time.NewTimer(d)
	defer tm.Stop()
	select {
	case <-tm.C:
		return nil
	case <-x.stopCtx.Done():
		return fmt.Errorf("the run was stopped: %w", x.stopCtx.Err())
	case <-x.ctx.Done():
		return fmt.Errorf("the run was stopped: %w", x.ctx.Err())
	}
}

// again reads the instance's state and applies its new plan, for another
// attempt: what the last one did (or the world did meanwhile) counts.
func (x *executor) again(in *instance) remote.BatchResult {
	if err := x.hr.checkAll(x.ctx, []*instance{in}); err != nil {
		return remote.BatchResult{Ran: true, Err: err}
	}
	if in.checkErr != nil {
		return remote.BatchResult{Ran: true, Err: in.checkErr}
	}
	return x.applyBatch(segment{kind: segRun, insts: []*instance{in}})[0]
}

// goOn is the error of a failure after which the walk goes on: next, the
// task's next instance (on_failure = "continue"); otherwise the task's
// other instances are skipped and the walk goes on after it (a block
// took the failure over).
type goOn struct {
	err  error
	next bool
}

func (g *goOn) Error() string { return g.err.Error() }
func (g *goOn) Unwrap() error { return g.err }

// judgeFailure decides what a failure of task t (or its instance addr)
// means, and notes it in the host's tally: the status to report it with,
// its error kind, and the error walk gets (a *goOn when the walk goes on).
// A lost connection stops the host whatever the task says.
func (x *executor) judgeFailure(addr string, t *config.Task, err error) (report.Status, string, string, error) {
	if !transport.Unreachable(err) {
		if t.OnFailure == "continue" {
			return report.StatusIgnored, "", "; ignored (on_failure = \"continue\")", &goOn{err: err, next: true}
		}
		prior := x.tally.status
		switch x.blocks.fail(t.Blocks, addr, err, prior) {
		case failRescued:
			b := innermostRescue(t.Blocks)
			return report.StatusRescued, "", "; the rescue of " + b.Addr() + " runs", &goOn{err: err}
		case failPending:
			st, kind := x.tally.failed(addr, err)
			return st, kind, "", &goOn{err: err}
		}
	}
	st, kind := x.tally.failed(addr, err)
	return st, kind, "", err
}

// innermostRescue is the block whose rescue a failure at path runs.
func innermostRescue(path []config.BlockPos) *config.Block {
	for i := len(path) - 1; i >= 0; i-- {
		if path[i].Section == config.SectionBody && path[i].Block.HasRescue {
			return path[i].Block
		}
	}
	return nil
}

// rescueOf is the innermost block whose rescue t is in, or nil: t runs
// only if that block fails.
func rescueOf(t *config.Task) *config.Block {
	for i := len(t.Blocks) - 1; i >= 0; i-- {
		if t.Blocks[i].Section == config.SectionRescue {
			return t.Blocks[i].Block
		}
	}
	return nil
}

// goOnAfter moves the cursor on after a failure the walk goes on after:
// to the task's next instance, or past its other instances, reported
// skipped. It reports false for a failure that stops the host.
func (x *executor) goOnAfter(c *cursor, err error) bool {
	var g *goOn
	if !errors.As(err, &g) {
		return false
	}
	t := c.tasks[c.ti]
	if !x.hr.e.expand[t] {
		// for_each or count failed: the task has no instances.
		x.hr.e.insts[t], x.hr.e.expand[t] = nil, true
		c.move(c.ti, 0)
		return true
	}
	insts := x.hr.e.insts[t]
	if g.next {
		c.move(c.ti, c.ii+1)
		return true
	}
	x.ranNothing(insts[min(c.ii+1, len(insts)):])
	for _, in := range insts[min(c.ii+1, len(insts)):] {
		x.hr.r.em.Emit(report.Event{Kind: report.KindTask, Host: x.hr.host.Name, Task: in.addr, Status: report.StatusSkipped,
			Message: "not run: " + insts[c.ii].addr + " failed", Detail: &report.TaskResult{Module: t.Type, Handler: t.Handler}})
	}
	c.move(c.ti, len(insts))
	return true
}

// ranNothing gives instances that a block skipped the outputs of a task
// that ran nothing (changed false, empty output, exit_code 0), so that
// tasks after the block that refer to them can be evaluated.
func (x *executor) ranNothing(ins []*instance) {
	for _, in := range ins {
		if in.values != cty.NilVal && in.state != instSkipped {
			x.hr.setOutputs(in, transport.Result{}, false)
		}
	}
}

// pass finishes the task at the cursor and moves past it. When it was the
// last task of blocks that held a failure for their always tasks, the
// failure leaves them: a walkEnd when it stops the host.
func (x *executor) pass(c *cursor, ends map[int][]*config.Block) *walkEnd {
	x.finish(c.tasks[c.ti])
	for _, b := range ends[c.ti] {
		f, err, prior := x.blocks.leave(b)
		switch f {
		case failStop:
			return &walkEnd{at: c.ti, failed: true, err: err, block: b}
		case failRescued:
			if err != nil {
				// A rescue around the block takes the failure over.
				x.tally.status, x.tally.stopped = prior, ""
			}
		}
	}
	c.move(c.ti+1, 0)
	return nil
}

// blockEnds maps the index in tasks of each block's last task to the
// blocks it ends, innermost first.
func blockEnds(tasks []*config.Task) map[int][]*config.Block {
	last := map[*config.Block]int{}
	var order []*config.Block
	for i, t := range tasks {
		for _, p := range t.Blocks {
			if _, ok := last[p.Block]; !ok {
				order = append(order, p.Block)
			}
			last[p.Block] = i
		}
	}
	if len(last) == 0 {
		return nil
	}
	ends := map[int][]*config.Block{}
	for k := len(order) - 1; k >= 0; k-- {
		b := order[k]
		ends[last[b]] = append(ends[last[b]], b)
	}
	return ends
}

// samePath reports whether two tasks are in the same section of the same
// blocks: a remote batch never spans two, since whether a section runs is
// decided only when the one before it ended.
func samePath(a, b []config.BlockPos) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if a[i] != b[i] {
			return false
		}
	}
	return true
}
