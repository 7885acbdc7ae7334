// Package run executes playbooks: per host it evaluates the play (variables,
// locals, tasks), reads the state of every task in one batched round trip,
// diffs, and either reports the plan or applies it in dependency order, then
// runs notified handlers. Hosts run in parallel; each has one connection.
//
// It prints nothing: everything it does is an event for engine/report, and
// Plan and Apply return values the caller inspects.
package run

import (
	"context"
	"errors"
	"fmt"
	"runtime"
	"strings"
	"sync"

	"github.com/hashicorp/hcl/v2"
	"github.com/hashicorp/hcl/v2/hcldec"
	"github.com/zclconf/go-cty/cty"
	"github.com/zclconf/go-cty/cty/convert"
	"github.com/zclconf/go-cty/cty/function"

	"github.com/drover-cm/drover/engine/config"
	"github.com/drover-cm/drover/engine/facts"
	"github.com/drover-cm/drover/engine/fanout"
	"github.com/drover-cm/drover/engine/graph"
	"github.com/drover-cm/drover/engine/lang"
	"github.com/drover-cm/drover/engine/report"
	"github.com/drover-cm/drover/engine/transport"
	"github.com/drover-cm/drover/inventory"
	"github.com/drover-cm/drover/modules"
)

// Become is a play's privilege setting, passed to Connect.
type Become struct {
	Enabled bool
	User    string // "" means the inventory's or root
}

// Options configure a plan or apply.
type Options struct {
	Playbook *config.Playbook
	Inputs   Inputs
	// Hosts returns the hosts a play's pattern selects (with --limit
	// applied), in inventory order.
	Hosts func(pattern string) ([]*inventory.Host, error)
	// Connect returns the connection to a host (one per host per run: the
	// caller pools them). become is the play's setting, when it sets one.
	Connect func(ctx context.Context, h *inventory.Host, become *Become) (transport.Conn, error)
	// Facts gathers facts about a host before its tasks are evaluated, in
	// plays that need them (see needsFacts); nil means facts.Gather.
	Facts func(ctx context.Context, h *inventory.Host, conn transport.Conn) (*facts.Facts, error)
	Forks int
	// FailFast stops every host (no new task starts) after the first failure.
	FailFast bool
	Sink     report.Sink
	// Masker receives every sensitive value met, so that sinks hide them.
	Masker *report.Masker
	// Stop, when closed, makes apply start no new task: running tasks
	// finish (cancel ctx to cut them). Nil never stops.
	Stop <-chan struct{}
}

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

// ApplyResult is what an apply achieved.
type ApplyResult struct {
	Recap       *report.Recap
	Diagnostics hcl.Diagnostics
}

// runner holds what plan and apply share.
type runner struct {
	opts  Options
	pb    *config.Playbook
	funcs map[string]function.Function
	// tmplFuncs are what modules render templates with, shared by hosts.
	tmplFuncs map[string]function.Function
	em        *report.Emitter

	hostDiags // deduplicated evaluation errors

	mu sync.Mutex
	// dead are hosts that failed or were unreachable in an earlier play:
	// later plays leave them out.
	dead map[string]report.Status
	// factsNeeded caches needsFacts per play.
	factsNeeded map[*config.Play]bool
	// offline evaluates without connecting (HostGraphs).
	offline bool
	// evalSlots bounds the hosts evaluating their tasks at once (see
	// prepare).
	evalSlots chan struct{}
}

func newRunner(opts Options, sink report.Sink) *runner {
	if sink == nil {
		sink = report.Multi()
	}
	return &runner{
		opts:      opts,
		pb:        opts.Playbook,
		funcs:     lang.Functions(opts.Playbook.Dir, opts.Playbook.AllowLocal...),
		tmplFuncs: lang.TemplateFunctions(opts.Playbook.Dir, opts.Playbook.AllowLocal...),
		em:        report.NewEmitter(sink),
		dead:      map[string]report.Status{},
		evalSlots: make(chan struct{}, runtime.GOMAXPROCS(0)),
	}
}

func hostList(hosts []string) string {
	const max = 10
	if len(hosts) == 1 {
		return "On host " + hosts[0] + "."
	}
	if len(hosts) > max {
		return fmt.Sprintf("On %d hosts: %s and %d more.", len(hosts), strings.Join(hosts[:max], ", "), len(hosts)-max)
	}
	return fmt.Sprintf("On %d hosts: %s.", len(hosts), strings.Join(hosts, ", "))
}

// playHosts selects a play's hosts, leaving out those dead in earlier plays.
func (r *runner) playHosts(pl *config.Play, vars map[string]cty.Value, locals map[string]cty.Value) ([]*inventory.Host, hcl.Diagnostics) {
	s := &lang.Scope{Vars: vars, Locals: locals, Functions: r.funcs}
	v, diags := pl.Hosts.Value(s.EvalContext())
	if diags.HasErrors() {
		return nil, diags
	}
	pattern, err := patternString(v)
	if err != nil {
		return nil, hcl.Diagnostics{{Severity: hcl.DiagError, Summary: "Invalid hosts value", Detail: err.Error(), Subject: pl.Hosts.Range().Ptr()}}
	}
	if r.opts.Hosts == nil {
		return nil, hcl.Diagnostics{{Severity: hcl.DiagError, Summary: "No inventory", Detail: "Give an inventory with -i to select hosts."}}
	}
	hosts, err := r.opts.Hosts(pattern)
	if err != nil {
		return nil, hcl.Diagnostics{{Severity: hcl.DiagError, Summary: "Cannot select hosts", Detail: fmt.Sprintf("Play %q: %v.", pl.Name, err), Subject: pl.Hosts.Range().Ptr()}}
	}
	var out []*inventory.Host
	r.mu.Lock()
	for _, h := range hosts {
		if _, dead := r.dead[h.Name]; !dead {
			out = append(out, h)
		}
	}
	r.mu.Unlock()
	return out, nil
}

// patternString accepts a pattern string or a list of patterns (joined with
// ":" meaning union).
func patternString(v cty.Value) (string, error) {
	v, _ = v.UnmarkDeep()
	if !v.IsWhollyKnown() {
		return "", errors.New("hosts must be known before any host is contacted: use only literals, var.* and local.*")
	}
	if s, err := convert.Convert(v, cty.String); err == nil && !s.IsNull() {
		return s.AsString(), nil
	}
	if l, err := convert.Convert(v, cty.List(cty.String)); err == nil && !l.IsNull() {
		var parts []string
		for _, e := range l.AsValueSlice() {
			parts = append(parts, e.AsString())
		}
		return strings.Join(parts, ":"), nil
	}
	return "", fmt.Errorf("hosts must be an inventory pattern such as \"web:&prod\", or a list of them, not %s", friendly(v))
}

// globals evaluates what is the same for every host: variables without
// inventory values and locals that do not use host.*, for selecting hosts.
func (r *runner) globals() (map[string]cty.Value, map[string]cty.Value, hcl.Diagnostics) {
	vars, diags := globalVars(r.pb, r.opts.Inputs)
	s := &lang.Scope{Vars: vars, Host: lang.UnknownHost(), Functions: r.funcs}
	locals, ds := evalLocals(r.pb, s)
	return vars, locals, append(diags, ds...)
}

// hostRun is one play on one host.
type hostRun struct {
	r    *runner
	play *config.Play
	host *inventory.Host
	conn transport.Conn
	// become is the play's setting (nil: the inventory's); conns are the
	// connections of tasks that set their own.
	become *Become
	conns  map[string]transport.Conn
	e      *evaluator
	g      *graph.Graph[*config.Task]
	// order is the walk order with inferred edges.
	order []*config.Task
	// changes are what the tasks that changed something touched, in order:
	// see stale.
	changes  []changeRec
	notified map[string]bool
	// batched are results of instances applied ahead of the walk, in one
	// round trip with an earlier instance (see applyPlan).
	batched map[*instance]modules.BatchResult
}

// prepare connects, evaluates every task that can be evaluated, reads the
// state of all of them in one round trip and diffs each.
func (r *runner) prepare(ctx context.Context, pl *config.Play, h *inventory.Host) (*hostRun, hcl.Diagnostics, error) {
	hr := &hostRun{r: r, play: pl, host: h, notified: map[string]bool{}}
	evalDone := false
	vars, diags := hostVars(r.pb, r.opts.Inputs, h.Name, h.Vars, false)
	for _, v := range vars {
		for _, s := range lang.SensitiveStrings(v) {
			r.opts.Masker.Add(s)
		}
	}
	if diags.HasErrors() {
		return hr, diags, nil
	}
	base := &lang.Scope{Vars: vars, Functions: r.funcs}
	hinfo := lang.HostInfo{Name: h.Name, Address: h.Address, Vars: h.Vars, Groups: h.Groups}
	var become *Become
	// Until facts are gathered they are unknown, so that locals using them
	// evaluate (to unknown) for the play's become settings.
	hinfo.Facts = cty.UnknownVal(facts.Type)
	base.Host = lang.HostValue(hinfo)
	if pl.Become != nil || pl.BecomeUser != nil {
		locals, ds := evalLocals(r.pb, base)
		diags = append(diags, ds...)
		base.Locals = locals
		b, ds := evalBecome(pl.Become, pl.BecomeUser, base)
		diags = append(diags, ds...)
		become = b
	}
	if diags.HasErrors() {
		return hr, diags, nil
	}
	var conn transport.Conn
	if !r.offline {
		c, err := r.opts.Connect(ctx, h, become)
		if err != nil {
			return hr, nil, err
		}
		conn = c
	}
	hr.conn = conn
	hr.become = become
	var fv *facts.Facts
	switch {
	case r.offline:
		// Facts stay unknown: what depends on them is deferred.
	case r.needsFacts(pl):
		gather := r.opts.Facts
		if gather == nil {
			gather = func(ctx context.Context, _ *inventory.Host, conn transport.Conn) (*facts.Facts, error) {
				return facts.Gather(ctx, conn)
			}
		}
		f, err := gather(ctx, h, conn)
		if err != nil {
			return hr, nil, fmt.Errorf("gathering facts: %w", err)
		}
		fv, hinfo.Facts = f, lang.FactsValue(f)
	default:
		hinfo.Facts = cty.NilVal
	}
	base.Host = lang.HostValue(hinfo)
	// Evaluating is CPU work: a few hosts at a time do it, so that the
	// intermediate values (and the stack depth) of hundreds of hosts are
	// not alive at once while they wait for their cores. Waiting for the
	// network (connecting, reading state) stays parallel for all hosts.
	r.evalSlots <- struct{}{}
	defer func() {
		if !evalDone {
			<-r.evalSlots
		}
	}()
	locals, ds := evalLocals(r.pb, base)
	diags = append(diags, ds...)
	if diags.HasErrors() {
		return hr, diags, nil
	}
	e := newEvaluator(r.pb, pl, r.funcs, r.tmplFuncs, vars, locals, base.Host, h.Name)
	e.facts = fv
	e.offline = r.offline
	hr.e = e
	g, ds := config.PlayGraph(pl)
	if ds.HasErrors() {
		return hr, ds, nil
	}
	static, _ := g.TopoOrder()
	for _, t := range static {
		known, ds := e.expandTask(t)
		diags = append(diags, ds...)
		if known {
			for _, in := range e.insts[t] {
				diags = append(diags, e.configure(in)...)
				hr.addSecrets(in)
			}
		}
		e.refreshTaskValue(t)
	}
	if diags.HasErrors() {
		return hr, diags, nil
	}
	hr.g = g
	hr.inferEdges()
	hr.order, _ = g.TopoOrder()
	<-r.evalSlots
	evalDone = true
	if r.offline {
		return hr, nil, nil
	}
	// One round trip for the state of every task known now.
	var batch []*instance
	for _, t := range hr.order {
		for _, in := range e.insts[t] {
			if in.mtask != nil && !in.skip && !in.deferred {
				batch = append(batch, in)
			}
		}
	}
	if err := hr.checkAll(ctx, batch); err != nil {
		return hr, nil, err
	}
	return hr, nil, nil
}

func (hr *hostRun) addSecrets(in *instance) {
	for _, s := range in.secrets {
		hr.r.opts.Masker.Add(s)
	}
}

// evalBecome evaluates become and become_user (of a play or a task).
func evalBecome(become, becomeUser hcl.Expression, s *lang.Scope) (*Become, hcl.Diagnostics) {
	b := &Become{}
	ctx := s.EvalContext()
	var diags hcl.Diagnostics
	if become != nil {
		v, ds := become.Value(ctx)
		diags = append(diags, ds...)
		if !ds.HasErrors() {
			v, _ = v.UnmarkDeep()
			bv, err := convert.Convert(v, cty.Bool)
			if err != nil || bv.IsNull() || !bv.IsKnown() {
				diags = append(diags, &hcl.Diagnostic{Severity: hcl.DiagError, Summary: "Invalid become value", Detail: "become must be true or false.", Subject: become.Range().Ptr()})
			} else {
				b.Enabled = bv.True()
			}
		}
	}
	if becomeUser != nil {
		v, ds := becomeUser.Value(ctx)
		diags = append(diags, ds...)
		if !ds.HasErrors() {
			v, _ = v.UnmarkDeep()
			sv, err := convert.Convert(v, cty.String)
			if err != nil || sv.IsNull() || !sv.IsKnown() {
				diags = append(diags, &hcl.Diagnostic{Severity: hcl.DiagError, Summary: "Invalid become_user value", Detail: "become_user must be a user name.", Subject: becomeUser.Range().Ptr()})
			} else {
				b.User = sv.AsString()
				if become == nil {
					b.Enabled = true
				}
			}
		}
	}
	return b, diags
}

// checkAll reads the state of the instances in one round trip and diffs each.
func (hr *hostRun) checkAll(ctx context.Context, ins []*instance) error {
	if len(ins) == 0 {
		return nil
	}
	// One batch per connection: tasks that become another user than the
	// play's are read through that user's connection.
	byConn := map[transport.Conn][]*instance{}
	var order []transport.Conn
	for _, in := range ins {
		c, err := hr.connFor(ctx, in)
		if err != nil {
			return err
		}
		if _, ok := byConn[c]; !ok {
			order = append(order, c)
		}
		byConn[c] = append(byConn[c], in)
	}
	for _, c := range order {
		if err := hr.checkBatch(ctx, c, byConn[c]); err != nil {
			return err
		}
	}
	return nil
}

// connFor returns the connection an instance runs over: the play's, or one
// with the task's own become setting.
func (hr *hostRun) connFor(ctx context.Context, in *instance) (transport.Conn, error) {
	b := in.become
	if b == nil || (hr.become != nil && *b == *hr.become) || (hr.become == nil && !b.Enabled) {
		return hr.conn, nil
	}
	key := fmt.Sprintf("%v/%s", b.Enabled, b.User)
	if c, ok := hr.conns[key]; ok {
		return c, nil
	}
	c, err := hr.r.opts.Connect(ctx, hr.host, b)
	if err != nil {
		return nil, err
	}
	if hr.conns == nil {
		hr.conns = map[string]transport.Conn{}
	}
	hr.conns[key] = c
	return c, nil
}

func (hr *hostRun) checkBatch(ctx context.Context, conn transport.Conn, ins []*instance) error {
	tasks := make([]modules.Task, len(ins))
	for i, in := range ins {
		tasks[i] = in.mtask
	}
	outs, err := modules.CheckAll(ctx, conn, tasks)
	if err != nil {
		return err
	}
	hr.diffAll(ins, outs, len(hr.changes))
	return nil
}

// taskError is a failure of one task (as opposed to the connection).
type taskError struct {
	addr string
	err  error
}

func (e *taskError) Error() string { return e.addr + ": " + e.err.Error() }
func (e *taskError) Unwrap() error { return e.err }

// inferEdges adds the ordering that modules' Relations imply: a task using
// a resource runs after the task providing it (a file after the directory it
// is in). An inferred edge that would close a cycle with the playbook's own
// order is left out: what the playbook says wins.
func (hr *hostRun) inferEdges() {
	type provider struct {
		t    *config.Task
		addr string
	}
	provides := map[modules.Resource][]provider{}
	for _, t := range hr.play.Tasks {
		for _, in := range hr.e.insts[t] {
			if rel, ok := in.mtask.(modules.Relations); ok && !in.skip {
				for _, res := range rel.Provides() {
					provides[res] = append(provides[res], provider{t, in.addr})
				}
			}
		}
	}
	if len(provides) == 0 {
		return
	}
	for _, t := range hr.play.Tasks {
		for _, in := range hr.e.insts[t] {
			rel, ok := in.mtask.(modules.Relations)
			if !ok || in.skip {
				continue
			}
			for _, use := range rel.Uses() {
				for _, res := range expandUse(use) {
					for _, p := range provides[res] {
						if p.t == t || hr.g.Has(p.t) && containsTask(hr.g.Descendants(t), p.t) {
							continue
						}
						reason := fmt.Sprintf("inferred: uses %s %s, provided by %s", res.Kind, res.Name, p.addr)
						if own := ownPath(rel, use.Name); res.Kind == "path" && strings.HasPrefix(own, strings.TrimSuffix(res.Name, "/")+"/") {
							reason = fmt.Sprintf("inferred: %s is inside %s, managed by %s", own, res.Name, p.addr)
						}
						hr.g.AddEdge(p.t, t, reason)
					}
				}
			}
		}
	}
}

// ownPath is the path a task manages (its first provided path), or the
// used path when it provides none.
func ownPath(rel modules.Relations, used string) string {
	for _, r := range rel.Provides() {
		if r.Kind == "path" {
			return r.Name
		}
	}
	return used
}

// expandUse returns the resources a use depends on: for a path, the path
// and every parent directory.
func expandUse(r modules.Resource) []modules.Resource {
	out := []modules.Resource{r}
	if r.Kind != "path" {
		return out
	}
	p := r.Name
	for {
		i := strings.LastIndexByte(strings.TrimRight(p, "/"), '/')
		if i <= 0 {
			break
		}
		p = p[:i]
		out = append(out, modules.Resource{Kind: "path", Name: p})
	}
	return out
}

func containsTask(ts []*config.Task, t *config.Task) bool {
	for _, x := range ts {
		if x == t {
			return true
		}
	}
	return false
}

// hostPlan is the plan of a prepared host, for display.
func (hr *hostRun) hostPlan() *report.HostPlan {
	hp := &report.HostPlan{Play: hr.play.Name}
	for _, t := range hr.order {
		if !hr.e.expand[t] {
			hp.Tasks = append(hp.Tasks, report.TaskPlan{Task: t.Addr(), Module: t.Type, Deferred: true})
			continue
		}
		for _, in := range hr.e.insts[t] {
			tp := report.TaskPlan{Task: in.addr, Module: t.Type}
			switch {
			case in.skip:
				tp.Skipped = "when is false"
			case in.deferred:
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
// (modules.NeedsError) that a task before it in the play provides and will
// change (or may: its plan is known only after apply).
func (hr *hostRun) providedEarlier(in *instance) bool {
	var ne *modules.NeedsError
	if !errors.As(in.checkErr, &ne) {
		return false
	}
	for _, t := range hr.order {
		for _, p := range hr.e.insts[t] {
			if p == in {
				return false // only tasks before it count
			}
			if p.skip || p.checkErr != nil {
				continue
			}
			if !p.deferred && !p.plan.Changed() {
				continue
			}
			rel, ok := p.mtask.(modules.Relations)
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

// sensitiveAttrs names the attributes whose values are sensitive, or nil
// when the instance holds no sensitive value.
func (in *instance) sensitiveAttrs() map[string]bool {
	if !in.sensitive {
		return nil
	}
	m := map[string]bool{}
	for _, a := range in.task.Module.Spec().Attributes {
		if a.Sensitive {
			m[a.Name] = true
		}
	}
	if in.values != cty.NilVal && in.values.Type().IsObjectType() && !in.values.IsNull() {
		for it := in.values.ElementIterator(); it.Next(); {
			k, v := it.Element()
			if lang.IsSensitive(v) {
				m[k.AsString()] = true
			}
		}
	}
	if len(m) == 0 {
		m["(task)"] = true // sensitive through an output or a marked module value
	}
	return m
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
	for _, pl := range r.pb.Plays {
		hosts, ds := r.playHosts(pl, vars, locals)
		if ds.HasErrors() {
			res.Diagnostics = append(res.Diagnostics, ds...)
			continue
		}
		plans := make([]HostPlan, len(hosts))
		outs := fanout.Run(ctx, hosts, opts.Forks, func(ctx context.Context, h *inventory.Host) error {
			i := indexOf(hosts, h)
			hr, ds, err := r.prepare(ctx, pl, h)
			hp := HostPlan{Host: h.Name, Status: report.StatusOK}
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
				r.dead[h.Name] = hp.Status
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

func failureStatus(err error) report.Status {
	if transport.Unreachable(err) {
		return report.StatusUnreachable
	}
	if errors.Is(err, context.Canceled) {
		return report.StatusCancelled
	}
	return report.StatusFailed
}

func errorKind(err error) string {
	if err == nil {
		return ""
	}
	if k := transport.KindOf(err); k != transport.ErrOther {
		return k.String()
	}
	return ""
}

// needsFactsModule reports whether a task's module needs host facts to
// configure (modules.Spec.NeedsFacts).
func needsFactsModule(t *config.Task) bool {
	return t.Module != nil && t.Module.Spec().NeedsFacts
}

// needsFacts reports whether a play needs the host's facts: it refers to
// host.facts (directly or through a local) or uses a module that needs them.
// Other plays skip the extra round trip.
func (r *runner) needsFacts(pl *config.Play) bool {
	r.mu.Lock()
	defer r.mu.Unlock()
	if v, ok := r.factsNeeded[pl]; ok {
		return v
	}
	need := false
	var trs []hcl.Traversal
	for _, l := range r.pb.Locals {
		trs = append(trs, l.Expr.Variables()...)
	}
	for _, t := range append(append([]*config.Task(nil), pl.Tasks...), pl.Handlers...) {
		if needsFactsModule(t) {
			need = true
		}
		trs = append(trs, hcldec.Variables(t.Body, t.Spec)...)
		for _, e := range []hcl.Expression{t.When, t.ForEach, t.Count, t.Sensitive, t.Become, t.BecomeUser} {
			if e != nil {
				trs = append(trs, e.Variables()...)
			}
		}
	}
	for _, e := range []hcl.Expression{pl.Become, pl.BecomeUser} {
		if e != nil {
			trs = append(trs, e.Variables()...)
		}
	}
	for _, tr := range trs {
		if tr.RootName() == "host" && len(tr) > 1 {
			if a, ok := tr[1].(hcl.TraverseAttr); ok && a.Name == "facts" {
				need = true
			}
		}
	}
	if r.factsNeeded == nil {
		r.factsNeeded = map[*config.Play]bool{}
	}
	r.factsNeeded[pl] = need
	return need
}

// PlayGraph is one play's task graph on one host.
type PlayGraph struct {
	Play  *config.Play
	Graph *graph.Graph[*config.Task]
}

// HostGraphs returns the task graph of every play that selects host h, with
// the edges the modules infer from h's values (a file inside a directory
// another task manages), as apply would walk it. Nothing connects to h:
// values that need the host (facts, other tasks' outputs) stay unknown, and
// tasks depending on them contribute no inferred edges.
func HostGraphs(opts Options, h *inventory.Host) ([]PlayGraph, hcl.Diagnostics) {
	r := newRunner(opts, nil)
	r.offline = true
	vars, locals, diags := r.globals()
	if diags.HasErrors() {
		return nil, diags
	}
	var out []PlayGraph
	for _, pl := range r.pb.Plays {
		hosts, ds := r.playHosts(pl, vars, locals)
		diags = append(diags, ds...)
		if indexOfName(hosts, h.Name) < 0 {
			continue
		}
		hr, ds, _ := r.prepare(context.Background(), pl, h)
		diags = append(diags, ds...)
		if hr.g != nil {
			out = append(out, PlayGraph{Play: pl, Graph: hr.g})
		}
	}
	return out, diags
}

func indexOfName(hosts []*inventory.Host, name string) int {
	for i, x := range hosts {
		if x.Name == name {
			return i
		}
	}
	return -1
}
