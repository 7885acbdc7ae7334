// run_once: a task runs on the first host of the play's batch only; the
// other hosts of the batch wait for it and take its outcome (status,
// attributes, outputs) as if they had run it, reported "ran on HOST".
// With serial, each batch has its own first host, so the task runs once
// per batch (as Ansible's run_once does).

package run

import (
	"context"
	"fmt"
	"sync"

	"github.com/hashicorp/hcl/v2"
	"github.com/zclconf/go-cty/cty"
	"github.com/zclconf/go-cty/cty/convert"

	"github.com/drover-cm/drover/engine/config"
	"github.com/drover-cm/drover/engine/report"
	"github.com/drover-cm/drover/inventory"
)

// onceBoard holds, per play and batch (named by its first host), the
// outcome of every run_once instance, for the other hosts of the batch.
type onceBoard struct {
	mu sync.Mutex
	// leads is, per play, each host's batch's first host.
	leads map[*config.Play]map[string]string
	cells map[onceKey]*onceCell
	// ended are the first hosts that finished the play: what they did not
	// publish, they will not.
	ended map[leadKey]string
}

type leadKey struct {
	play *config.Play
	lead string
}

type onceKey struct {
	leadKey
	addr string
}

type onceCell struct {
	done chan struct{}
	res  onceResult
}

// onceResult is what the first host did with a run_once instance.
type onceResult struct {
	status    report.Status // ok, changed, skipped or failed
	msg       string        // why it failed or was skipped
	values    cty.Value
	outputs   map[string]cty.Value
	sensitive bool
	changes   []report.ChangeView
}

// setLeads records the batches of a play: the first host of each runs its
// run_once tasks.
func (b *onceBoard) setLeads(pl *config.Play, batches [][]*inventory.Host) {
	b.mu.Lock()
	defer b.mu.Unlock()
	if b.leads == nil {
		b.leads = map[*config.Play]map[string]string{}
	}
	m := map[string]string{}
	for _, batch := range batches {
		for _, h := range batch {
			m[h.Name] = batch[0].Name
		}
	}
	b.leads[pl] = m
}

// lead is the host that runs play pl's run_once tasks for host's batch
// (host itself when no batches were recorded).
func (b *onceBoard) lead(pl *config.Play, host string) string {
	b.mu.Lock()
	defer b.mu.Unlock()
	if l, ok := b.leads[pl][host]; ok {
		return l
	}
	return host
}

func (b *onceBoard) cell(k onceKey) *onceCell {
	if b.cells == nil {
		b.cells = map[onceKey]*onceCell{}
	}
	c := b.cells[k]
	if c == nil {
		c = &onceCell{done: make(chan struct{})}
		b.cells[k] = c
		if why, ended := b.ended[k.leadKey]; ended {
			c.res = onceResult{status: report.StatusFailed, msg: why}
			close(c.done)
		}
	}
	return c
}

// publish records the outcome of a run_once instance on the first host.
func (b *onceBoard) publish(k onceKey, res onceResult) {
	b.mu.Lock()
	defer b.mu.Unlock()
	c := b.cell(k)
	select {
	case <-c.done:
	default:
		c.res = res
		close(c.done)
	}
}

// end notes that a batch's first host finished the play: every run_once
// instance it did not publish fails on the other hosts, saying why.
func (b *onceBoard) end(pl *config.Play, lead string) {
	b.mu.Lock()
	defer b.mu.Unlock()
	k := leadKey{pl, lead}
	why := fmt.Sprintf("not run: %s, which runs it once for its batch, stopped before it", lead)
	if b.ended == nil {
		b.ended = map[leadKey]string{}
	}
	b.ended[k] = why
	for ck, c := range b.cells {
		if ck.leadKey != k {
			continue
		}
		select {
		case <-c.done:
		default:
			c.res = onceResult{status: report.StatusFailed, msg: why}
			close(c.done)
		}
	}
}

// wait returns the outcome the first host published for k.
func (b *onceBoard) wait(ctx context.Context, k onceKey) (onceResult, error) {
	b.mu.Lock()
	c := b.cell(k)
	b.mu.Unlock()
	select {
	case <-c.done:
		return c.res, nil
	case <-ctx.Done():
		return onceResult{}, ctx.Err()
	}
}

// markOnce evaluates t's run_once (variables and locals only) and marks
// its instances: on the hosts that do not run it, with the host that does.
func (hr *hostRun) markOnce(t *config.Task) hcl.Diagnostics {
	if t.RunOnce == nil {
		return nil
	}
	lead := hr.r.once.lead(hr.play, hr.host.Name)
	for _, in := range hr.e.insts[t] {
		// In the scope of the instance's stack call, when it is in one.
		once, diags := hr.e.runOnce(t, in.frame)
		if diags.HasErrors() {
			return diags
		}
		if !once {
			continue
		}
		in.once = true
		if lead != hr.host.Name {
			in.onceFrom = lead
		}
	}
	return nil
}

func (hr *hostRun) onceKey(in *instance) onceKey {
	lead := in.onceFrom
	if lead == "" {
		lead = hr.host.Name
	}
	return onceKey{leadKey{hr.play, lead}, in.addr}
}

// publishOnce hands the outcome of a run_once instance this host ran to
// the other hosts of its batch.
func (hr *hostRun) publishOnce(in *instance, st report.Status, msg string, changes []report.ChangeView) {
	if !in.once || in.onceFrom != "" {
		return
	}
	hr.r.once.publish(hr.onceKey(in), onceResult{status: st, msg: msg, values: in.values, outputs: in.outputs, sensitive: in.sensitive, changes: changes})
}

// runFollowed takes, on a host that does not run it, the outcome of a
// run_once instance from the host that did, and reports it.
func (x *executor) runFollowed(in *instance) error {
	hr := x.hr
	x.start(in, 0)
	res, err := hr.r.once.wait(x.ctx, hr.onceKey(in))
	if err != nil {
		return x.failInstance(in, fmt.Errorf("waiting for %s to run it once: %w", in.onceFrom, err), stepTime{}, nil)
	}
	detail := &report.TaskResult{Module: in.task.Type, Handler: in.task.Handler, Changes: res.changes}
	switch res.status {
	case report.StatusSkipped:
		in.to(instSkipped)
		hr.r.em.Emit(report.Event{Kind: report.KindTask, Host: hr.host.Name, Task: in.addr, Status: report.StatusSkipped, Message: "when is false on " + in.onceFrom, Detail: detail})
		return nil
	case report.StatusFailed:
		return x.failInstance(in, fmt.Errorf("run once on %s: %s", in.onceFrom, res.msg), stepTime{}, nil)
	}
	in.values, in.outputs, in.sensitive = res.values, res.outputs, res.sensitive
	in.to(instDone)
	changed := res.status == report.StatusChanged
	x.tally.completed(in.addr, changed)
	if changed {
		for _, n := range in.task.Notify {
			hr.notified[in.notifyKey(n.Name)] = true
		}
	}
	hr.r.em.Emit(report.Event{Kind: report.KindTask, Host: hr.host.Name, Task: in.addr, Status: res.status, Message: "ran on " + in.onceFrom, Detail: detail})
	return nil
}

// runOnce evaluates t's run_once in frame f (nil: the play); in validate
// an unknown value (a variable without one) is not an error.
func (e *evaluator) runOnce(t *config.Task, f *frame) (bool, hcl.Diagnostics) {
	if t.RunOnce == nil {
		return false, nil
	}
	v, diags := t.RunOnce.Value(e.scopeOf(f).EvalContext())
	if diags.HasErrors() {
		return false, diags
	}
	v, _ = v.UnmarkDeep()
	if !v.IsKnown() && e.validate {
		return false, nil
	}
	b, err := convert.Convert(v, cty.Bool)
	if err != nil || b.IsNull() || !b.IsKnown() {
		return false, hcl.Diagnostics{{Severity: hcl.DiagError, Summary: "Invalid run_once value", Detail: fmt.Sprintf("run_once must be true or false, not %s.", friendly(v)), Subject: t.RunOnce.Range().Ptr()}}
	}
	return b.True(), nil
}
