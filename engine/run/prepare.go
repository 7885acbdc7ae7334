package run

import (
	"context"
	"fmt"
	"strings"

	"github.com/hashicorp/hcl/v2"
	"github.com/zclconf/go-cty/cty"
	"github.com/zclconf/go-cty/cty/convert"

	"github.com/drover-cm/drover/engine/config"
	"github.com/drover-cm/drover/engine/facts"
	"github.com/drover-cm/drover/engine/graph"
	"github.com/drover-cm/drover/engine/lang"
	"github.com/drover-cm/drover/engine/remote"
	"github.com/drover-cm/drover/engine/report"
	"github.com/drover-cm/drover/engine/transport"
	"github.com/drover-cm/drover/inventory"
	"github.com/drover-cm/drover/modules/contract"
)

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
	// order is the walk order with inferred edges, of the tasks the
	// selection chose (all without one).
	order []*config.Task
	// shown is what a plan shows: order and, in their places, the
	// dependencies the selection left out, with why (unselected).
	shown      []*config.Task
	unselected map[*config.Task]string
	// changes are what the tasks that changed something touched, in order:
	// see stale.
	changes  []changeRec
	notified map[string]bool
}

// prepare connects, evaluates every task that can be evaluated, reads the
// state of all of them in one round trip and diffs each.
func (r *runner) prepare(ctx context.Context, pl *config.Play, h *inventory.Host) (*hostRun, hcl.Diagnostics, error) {
	hr := &hostRun{r: r, play: pl, host: h, notified: map[string]bool{}}
	base, fv, diags, err := hr.connect(ctx)
	if diags.HasErrors() || err != nil {
		return hr, diags, err
	}
	if diags = append(diags, hr.evaluate(base, fv)...); diags.HasErrors() {
		return hr, diags, nil
	}
	if r.offline {
		return hr, nil, nil
	}
	// The plan is computed from state no other run is changing: the run
	// lock, taken beside facts and evaluation, is held before it is read.
	if err := hr.waitLock(ctx); err != nil {
		return hr, nil, err
	}
	// One round trip for the state of every task known now.
	var batch []*instance
	for _, t := range hr.order {
		for _, in := range hr.e.insts[t] {
			if in.state == instConfigured {
				batch = append(batch, in)
			}
		}
	}
	if len(batch) > 0 {
		hr.phase(report.PhaseReading, len(batch))
	}
	return hr, nil, hr.checkAll(ctx, batch)
}

// connect evaluates what connecting to the host needs (its variables, the
// play's become), connects (unless offline) and gathers the host's facts
// when the play needs them. It returns the scope the play's locals and
// tasks are evaluated in, and the facts.
func (hr *hostRun) connect(ctx context.Context) (*lang.Scope, *facts.Facts, hcl.Diagnostics, error) {
	r, pl, h := hr.r, hr.play, hr.host
	vars, diags := hostVars(r.pb, r.opts.Inputs, h.Name, h.Vars, false)
	for _, v := range vars {
		for _, s := range lang.SensitiveStrings(v) {
			r.opts.Masker.Add(s)
		}
	}
	if diags.HasErrors() {
		return nil, nil, diags, nil
	}
	base := &lang.Scope{Vars: vars, Functions: r.funcs}
	if r.playUse(pl).any {
		base.Inventory = lang.UnknownInventory() // until connected
	}
	hinfo := lang.HostInfo{Name: h.Name, Address: h.Address, Vars: h.Vars, Groups: h.Groups}
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
		hr.become = b
	}
	if diags.HasErrors() {
		return nil, nil, diags, nil
	}
	if !r.offline {
		hr.phase(report.PhaseConnecting, 0)
		c, err := r.opts.Connect(ctx, h, hr.become)
		if err != nil {
			return nil, nil, nil, err
		}
		hr.conn = c
		hr.startLock(ctx)
	}
	var fv *facts.Facts
	switch {
	case r.offline:
		// Facts stay unknown: what depends on them is deferred.
	case r.needsFacts(pl):
		// Other hosts reading this one's facts share the result.
		hr.phase(report.PhaseFacts, 0)
		f, err := r.gatherFacts(pl, h.Name, func() (*facts.Facts, error) { return r.factsGatherer()(ctx, h, hr.conn) })
		if err != nil {
			return nil, nil, nil, fmt.Errorf("gathering facts: %w", err)
		}
		fv, hinfo.Facts = f, lang.FactsValue(f)
	default:
		hinfo.Facts = cty.NilVal
	}
	base.Host = lang.HostValue(hinfo)
	if r.offline {
		if r.playUse(pl).any {
			base.Inventory = lang.UnknownInventory()
		}
	} else {
		base.Inventory = r.inventoryValue(ctx, pl)
	}
	return base, fv, diags, nil
}

// evaluate evaluates the play for the host: the locals, then, in the
// play's order, every task whose for_each, count and configuration are
// known before anything runs; and it builds the task graph with the edges
// the modules' relations infer (hr.order is its walk order).
//
// Evaluating is CPU work: a few hosts at a time do it, so that the
// intermediate values (and the stack depth) of hundreds of hosts are not
// alive at once while they wait for their cores. Waiting for the network
// (connecting, reading state) stays parallel for all hosts.
func (hr *hostRun) evaluate(base *lang.Scope, fv *facts.Facts) hcl.Diagnostics {
	r, pl := hr.r, hr.play
	r.evalSlots <- struct{}{}
	defer func() { <-r.evalSlots }()
	locals, diags := evalLocals(r.pb, base)
	if diags.HasErrors() {
		return diags
	}
	e := newEvaluator(r.pb, pl, r.funcs, r.tmplFuncs, base.Vars, locals, base.Host, base.Inventory, hr.host.Name)
	e.facts = fv
	e.offline = r.offline
	if !r.offline {
		e.fleet = r.fleetHosts()
	}
	e.stackFns, e.notified, e.secret = r.stackFns, hr.notified, r.opts.Masker.Add
	hr.e = e
	if diags = e.buildFrames(); diags.HasErrors() {
		return diags
	}
	g, ds := config.PlayGraph(pl)
	if ds.HasErrors() {
		return ds
	}
	static, _ := g.TopoOrder()
	for _, t := range static {
		known, ds := e.expandTask(t)
		diags = append(diags, ds...)
		if known {
			diags = append(diags, hr.markOnce(t)...)
			for _, in := range e.insts[t] {
				if in.onceFrom == "" { // another host runs it: nothing to evaluate here
					diags = append(diags, hr.configure(in)...)
				}
			}
		}
		e.refreshTaskValue(t)
	}
	if diags.HasErrors() {
		return diags
	}
	hr.g = g
	hr.inferEdges()
	hr.order, _ = g.TopoOrder()
	return hr.applySelection()
}

// configure evaluates an instance (evaluator.configure), hands its secrets
// to the masker and names the connection it runs over.
func (hr *hostRun) configure(in *instance) hcl.Diagnostics {
	diags := hr.e.configure(in)
	for _, s := range in.secrets {
		hr.r.opts.Masker.Add(s)
	}
	in.conn = hr.connKey(in.become)
	if in.delegate != nil {
		in.conn = delegateConnKey(in.delegate, in.become)
	}
	return diags
}

// connKey names the connection of a task with become setting b: "" for the
// play's, or the setting when the task sets another.
func (hr *hostRun) connKey(b *Become) string {
	if b == nil || (hr.become != nil && *b == *hr.become) || (hr.become == nil && !b.Enabled) {
		return ""
	}
	return fmt.Sprintf("%v/%s", b.Enabled, b.User)
}

// evalBecome evaluates become and become_user (of a play or a task).
func evalBecome(become, becomeUser hcl.Expression, s *lang.Scope) (*Become, hcl.Diagnostics) {
	b := &Become{}
	ctx := s.EvalContext()
	var diags hcl.Diagnostics
	// become and become_user differ only in their type, their message and
	// what the value sets.
	for _, a := range []struct {
		expr       hcl.Expression
		ty         cty.Type
		name, want string
		set        func(cty.Value)
	}{
		{become, cty.Bool, "become", "true or false", func(v cty.Value) { b.Enabled = v.True() }},
		{becomeUser, cty.String, "become_user", "a user name", func(v cty.Value) {
			b.User = v.AsString()
			if become == nil {
				b.Enabled = true // become_user alone turns become on
			}
		}},
	} {
		if a.expr == nil {
			continue
		}
		v, ds := a.expr.Value(ctx)
		diags = append(diags, ds...)
		if ds.HasErrors() {
			continue
		}
		v, _ = v.UnmarkDeep()
		cv, err := convert.Convert(v, a.ty)
		if err != nil || cv.IsNull() || !cv.IsKnown() {
			diags = append(diags, &hcl.Diagnostic{Severity: hcl.DiagError, Summary: "Invalid " + a.name + " value",
				Detail: a.name + " must be " + a.want + ".", Subject: a.expr.Range().Ptr()})
			continue
		}
		a.set(cv)
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
		if isDelegateError(err) {
			in.plan, in.checkErr = nil, err // the task fails, not the host
			in.to(instChecked)
			continue
		}
		if err != nil {
			return err
		}
		if _, ok := byConn[c]; !ok {
			order = append(order, c)
		}
		byConn[c] = append(byConn[c], in)
	}
	for _, c := range order {
		err := hr.checkBatch(ctx, c, byConn[c])
		if d := byConn[c][0].delegate; d != nil && transport.Unreachable(err) {
			for _, in := range byConn[c] {
				in.plan, in.checkErr = nil, &delegateError{d.Name, err}
				in.to(instChecked)
			}
			continue
		}
		if err != nil {
			return err
		}
	}
	return nil
}

// connFor returns the connection an instance runs over: the play's, or one
// with the task's own become setting (dialled once, when first needed).
func (hr *hostRun) connFor(ctx context.Context, in *instance) (transport.Conn, error) {
	if in.conn == "" {
		return hr.conn, nil
	}
	if c, ok := hr.conns[in.conn]; ok {
		return c, nil
	}
	var c transport.Conn
	var err error
	if in.delegate != nil {
		// The delegate's connection of the run (with the play's become
		// unless the task sets its own), shared with every host.
		b := in.become
		if b == nil {
			b = hr.become
		}
		c, err = hr.r.opts.Connect(ctx, in.delegate, b)
		if err == nil {
			err = hr.r.lockDelegate(ctx, in.delegate.Name, c)
		}
		if err != nil {
			return nil, &delegateError{in.delegate.Name, err}
		}
	} else if c, err = hr.r.opts.Connect(ctx, hr.host, in.become); err != nil {
		return nil, err
	}
	if hr.conns == nil {
		hr.conns = map[string]transport.Conn{}
	}
	hr.conns[in.conn] = c
	return c, nil
}

func (hr *hostRun) checkBatch(ctx context.Context, conn transport.Conn, ins []*instance) error {
	outs, err := remote.CheckAll(ctx, conn, mtasks(ins))
	if err != nil {
		return err
	}
	hr.diffAll(ins, outs, len(hr.changes))
	return nil
}

// diffAll plans ins from the state read for them, fresh as of the
// changes logged up to checkedAt.
func (hr *hostRun) diffAll(ins []*instance, outs []contract.CheckOutput, checkedAt int) {
	for i, in := range ins {
		hr.noteState(in, outs[i])
		p, err := in.mtask.Diff(outs[i])
		in.plan, in.checkErr, in.checkedAt = p, nil, checkedAt
		if err != nil {
			// The task fails when it is reached (in a plan: it is shown
			// failed); tasks before it still run.
			in.plan, in.checkErr = nil, err
		}
		in.to(instChecked)
	}
}

// inferEdges adds the ordering that modules' Relations imply: a task using
// a resource runs after the task providing it (a file after the directory it
// is in). An inferred edge that would close a cycle with the playbook's own
// order is left out: what the playbook says wins.
func (hr *hostRun) inferEdges() {
	type provider struct {
		t    *config.Task
		addr string
	}
	provides := map[contract.Resource][]provider{}
	for _, t := range hr.play.Tasks {
		for _, in := range hr.e.insts[t] {
			if rel, ok := in.mtask.(contract.Relations); ok {
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
			rel, ok := in.mtask.(contract.Relations)
			if !ok {
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
func ownPath(rel contract.Relations, used string) string {
	for _, r := range rel.Provides() {
		if r.Kind == "path" {
			return r.Name
		}
	}
	return used
}

// expandUse returns the resources a use depends on: for a path, the path
// and every parent directory.
func expandUse(r contract.Resource) []contract.Resource {
	out := []contract.Resource{r}
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
		out = append(out, contract.Resource{Kind: "path", Name: p})
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
