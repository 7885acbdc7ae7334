package run

import (
	"context"
	"errors"

	"github.com/hashicorp/hcl/v2"

	"github.com/drover-cm/drover/engine/fanout"
	"github.com/drover-cm/drover/engine/planfile"
	"github.com/drover-cm/drover/engine/report"
	"github.com/drover-cm/drover/inventory"
	"github.com/drover-cm/drover/modules/contract"
)

// PlanResult is a whole plan.
type PlanResult struct {
	Hosts   []HostPlan
	Summary report.PlanSummary
	// Diagnostics are evaluation errors (with the hosts they happened on).
	Diagnostics hcl.Diagnostics
}

// HostPlan is one host's plan for one play.
type HostPlan struct {
	Host string
	Plan *report.HostPlan
	// Status is StatusOK, StatusFailed or StatusUnreachable.
	Status report.Status
	Err    error
	// Index is the play's place in the playbook; Saved its tasks as a plan
	// file records them (with Options.Saved).
	Index int
	Saved []planfile.Task
}

// Failed reports whether any host could not be planned.
func (p *PlanResult) Failed() bool {
	if p.Diagnostics.HasErrors() {
		return true
	}
	for _, h := range p.Hosts {
		if h.Status != report.StatusOK {
			return true
		}
	}
	return false
}

// hostPlan is the plan of a prepared host, for display.
func (hr *hostRun) hostPlan() *report.HostPlan {
	hp := &report.HostPlan{Play: hr.play.Name}
	for _, t := range hr.order {
		rescue := ""
		if b := rescueOf(t); b != nil {
			rescue = b.Addr()
		}
		if !hr.e.expand[t] {
			hp.Tasks = append(hp.Tasks, report.TaskPlan{Task: t.Addr(), Module: t.Type, Deferred: true, Rescue: rescue, IgnoreFailure: t.OnFailure == "continue"})
			continue
		}
		for _, in := range hr.e.insts[t] {
			tp := report.TaskPlan{Task: in.addr, Module: t.Type, Rescue: rescue, IgnoreFailure: t.OnFailure == "continue", Reads: in.reads}
			if in.delegate != nil {
				tp.On = in.delegate.Name
			}
			if in.once {
				tp.RunOnce = hr.host.Name
				if in.onceFrom != "" {
					tp.RunOnce = in.onceFrom
				}
			}
			switch {
			case in.onceFrom != "":
				// Planned on the host that runs it.
			case in.state == instSkipped:
				tp.Skipped = "when is false"
			case in.state == instDeferred:
				tp.Deferred = true
			case in.checkErr != nil && hr.providedEarlier(in):
				// Missing now, created by an earlier task: apply reads it
				// again once that task ran.
				tp.Deferred = true
			case in.checkErr != nil:
				tp.Error = in.checkErr.Error()
			case in.plan != nil:
				tp.Changes = report.Changes(in.plan, in.metaSensitive, in.sensitiveAttrs())
			}
			hp.Tasks = append(hp.Tasks, tp)
		}
	}
	return hp
}

// providedEarlier reports whether in's Diff failed for want of a resource
// (contract.NeedsError) that a task before it in the play provides and will
// change (or may: its plan is known only after apply).
func (hr *hostRun) providedEarlier(in *instance) bool {
	var ne *contract.NeedsError
	if !errors.As(in.checkErr, &ne) {
		return false
	}
	for _, t := range hr.order {
		for _, p := range hr.e.insts[t] {
			if p == in {
				return false // only tasks before it count
			}
			if p.state == instSkipped || p.checkErr != nil {
				continue
			}
			if p.state != instDeferred && !p.plan.Changed() {
				continue
			}
			rel, ok := p.mtask.(contract.Relations)
			if !ok {
				continue
			}
			for _, r := range rel.Provides() {
				if r == ne.Resource {
					return true
				}
			}
		}
	}
	return false
}

// Plan works out what apply would change on every selected host, without
// changing anything. It emits one KindPlan event per host and play (in
// inventory order, once every host is done, so output is stable), a
// KindHostDone per host and a KindPlanSummary.
func Plan(ctx context.Context, opts Options) (*PlanResult, error) {
	r := newRunner(opts, opts.Sink)
	r.em.Emit(report.Event{Kind: report.KindRunStart, Task: "plan"})
	res := &PlanResult{}
	vars, locals, diags := r.globals()
	if diags.HasErrors() {
		res.Diagnostics = diags
		return res, nil
	}
	type hostEvents struct {
		events []report.Event
		status report.Status
	}
	byHost := map[string]*hostEvents{}
	var hostOrder []string
	// Every play's hosts are known before any host is contacted: the run's
	// hosts are those whose facts others may read.
	selected := make([][]*inventory.Host, len(r.pb.Plays))
	rolls := make([]*rolling, len(r.pb.Plays))
	for i, pl := range r.pb.Plays {
		hosts, ds := r.playHosts(pl, vars, locals)
		roll, rds := r.rollingOf(pl, vars, locals)
		if ds = append(ds, rds...); ds.HasErrors() {
			res.Diagnostics = append(res.Diagnostics, ds...)
			continue
		}
		r.setRunHosts(hosts)
		selected[i], rolls[i] = hosts, roll
	}
	if ds := r.checkFleetRefs(vars, locals); ds.HasErrors() {
		res.Diagnostics = append(res.Diagnostics, ds...)
		return res, nil
	}
	for pi, pl := range r.pb.Plays {
		if selected[pi] == nil {
			continue
		}
		hosts := r.alive(selected[pi])
		r.once.setLeads(pl, rolls[pi].batches(hosts))
		plans := make([]HostPlan, len(hosts))
		outs := fanout.Run(ctx, hosts, opts.Forks, func(ctx context.Context, h *inventory.Host) error {
			i := indexOf(hosts, h)
			hr, ds, err := r.prepare(ctx, pl, h)
			hp := HostPlan{Host: h.Name, Status: report.StatusOK, Index: pi}
			switch {
			case err != nil:
				hp.Err = err
				hp.Status = failureStatus(err)
				hp.Plan = &report.HostPlan{Play: pl.Name, Error: errorMessage(err)}
			case ds.HasErrors():
				r.addDiags(h.Name, ds)
				hp.Status = report.StatusFailed
				hp.Plan = &report.HostPlan{Play: pl.Name, Error: "the playbook could not be evaluated for this host (see the errors below)"}
			default:
				hp.Plan = hr.hostPlan()
				if opts.Saved != nil {
					hp.Saved = hr.savedTasks()
				}
				for _, tp := range hp.Plan.Tasks {
					if tp.Error != "" {
						hp.Status = report.StatusFailed
					}
				}
			}
			plans[i] = hp
			return nil
		})
		for i, h := range hosts {
			hp := plans[i]
			var pe *fanout.PanicError
			if errors.As(outs[i].Err, &pe) {
				hp = HostPlan{Host: h.Name, Status: report.StatusFailed, Err: pe, Plan: &report.HostPlan{Play: pl.Name, Error: pe.Error()}}
			}
			if hp.Plan == nil { // never started: interrupted
				hp = HostPlan{Host: h.Name, Status: report.StatusNotStarted, Plan: &report.HostPlan{Play: pl.Name, Error: "not planned: interrupted"}}
			}
			res.Hosts = append(res.Hosts, hp)
			res.Summary.Add(hp.Plan)
			if hp.Status != report.StatusOK {
				res.Summary.Failed++
				r.markDead(h.Name, hp.Status)
			}
			he := byHost[h.Name]
			if he == nil {
				he = &hostEvents{status: report.StatusOK}
				byHost[h.Name] = he
				hostOrder = append(hostOrder, h.Name)
			}
			ev := report.Event{Kind: report.KindPlan, Host: h.Name, Detail: hp.Plan}
			if hp.Status != report.StatusOK {
				ev.Status = hp.Status
				ev.Message = hp.Plan.Error
				ev.ErrorKind = errorKind(hp.Err)
				ev.Hint = hintOf(hp.Err)
				he.status = hp.Status
			}
			he.events = append(he.events, ev)
		}
	}
	for _, name := range hostOrder {
		he := byHost[name]
		for _, ev := range he.events {
			r.em.Emit(ev)
		}
		r.em.Emit(report.Event{Kind: report.KindHostDone, Host: name, Status: he.status})
	}
	res.Diagnostics = append(res.Diagnostics, r.diagnostics()...)
	res.Summary.Create += opts.Instances.Create
	res.Summary.Update += opts.Instances.Update
	res.Summary.Delete += opts.Instances.Delete
	r.em.Emit(report.Event{Kind: report.KindPlanSummary, Detail: &res.Summary, Message: res.Summary.Line()})
	return res, ctx.Err()
}

func indexOf(hosts []*inventory.Host, h *inventory.Host) int {
	for i, x := range hosts {
		if x == h {
			return i
		}
	}
	return -1
}
