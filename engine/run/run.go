// Package run executes playbooks: per host it evaluates the play (variables,
// locals, tasks), reads the state of every task in one batched round trip,
// diffs, and either reports the plan or applies it in dependency order, then
// runs notified handlers. Hosts run in parallel; each has one connection.
//
// It prints nothing: everything it does is an event for engine/report, and
// Plan and Apply return values the caller inspects.
//
// A host goes through the files in this order: prepare.go connects,
// evaluates the play (eval.go; instance.go holds an instance's states) and
// reads the state of its tasks; plan.go shows what would change. To apply,
// segment.go decides without I/O which instances run together in one round
// trip and where a state must be read again (stale.go), and execute.go runs
// those segments and reports each instance; tally.go sums up each host, and
// apply.go runs the plays over the hosts (serial.go: rolling batches).
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
	"github.com/drover-cm/drover/engine/graph"
	"github.com/drover-cm/drover/engine/lang"
	"github.com/drover-cm/drover/engine/report"
	"github.com/drover-cm/drover/engine/runlock"
	"github.com/drover-cm/drover/engine/transport"
	"github.com/drover-cm/drover/inventory"
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
	// Fleet returns every host of the inventory, --limit not applied:
	// what inventory.* shows and the hosts delegate_to may name. Nil: an
	// empty inventory.
	Fleet func() []*inventory.Host
	Forks int
	// FailFast stops every host (no new task starts) after the first failure.
	FailFast bool
	Sink     report.Sink
	// Masker receives every sensitive value met, so that sinks hide them.
	Masker *report.Masker
	// Stop, when closed, makes apply start no new task: running tasks
	// finish (cancel ctx to cut them). Nil never stops.
	Stop <-chan struct{}
	// Lock, when set, takes each host's run lock (see RunLock).
	Lock *RunLock
	// Saved, when set, makes Plan record each host's plan for a plan file
	// and Apply apply a saved plan (saved.go).
	Saved *Saved
	// Selection, when set, runs only part of the playbook (see Selection;
	// check it first with CheckSelection).
	Selection *Selection
	// Instances are the changes of the playbook's provision blocks, made
	// before the plays: Plan's summary counts them with the tasks'.
	Instances report.PlanSummary
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
	// locks are the hosts' run locks, taken or being taken (lock.go).
	locks map[string]*runlock.Pending
	// shared is how the run's locks are shared by hosts of one machine
	// (lock.go), lockRun the run's id in their holder line.
	shared  lockShares
	lockRun string
	// delegatedTo are hosts whose run lock tasks delegated to them took
	// (lock.go).
	delegatedTo map[string]bool
	// fleetUses caches playUse per play; fleet is the inventory's data
	// (fleet.go).
	fleetUses map[*config.Play]*fleetUse
	fleet     fleet
	// globalVars and globalLocals are what globals computed.
	globalVars, globalLocals map[string]cty.Value
	// once holds the outcomes of run_once tasks (once.go); delegates the
	// locks of delegated hosts (delegate.go).
	once      onceBoard
	delegates delegateLocks
	// playChanges are what each host's earlier plays changed, for a saved
	// plan's later plays (saved.go).
	playChanges map[string][]changeRec
	// sel is opts.Selection resolved (selectTasks); nil runs everything.
	sel *selector
	// stackFns are the functions of the playbook's stacks.
	stackFns *stackFuncs
}

// selectTasks resolves the run's selection.
func (r *runner) selectTasks() error {
	s, _, err := newSelector(r.pb, r.opts.Selection)
	if err != nil {
		return fmt.Errorf("%w; fix the selection and try again", err)
	}
	r.sel = s
	return nil
}

func newRunner(opts Options, sink report.Sink) *runner {
	if sink == nil {
		sink = report.Multi()
	}
	return &runner{
		opts:        opts,
		pb:          opts.Playbook,
		funcs:       lang.Functions(opts.Playbook.Dir, opts.Playbook.AllowLocal...),
		tmplFuncs:   lang.TemplateFunctions(opts.Playbook.Dir, opts.Playbook.AllowLocal...),
		em:          report.NewEmitter(sink),
		dead:        map[string]report.Status{},
		evalSlots:   make(chan struct{}, runtime.GOMAXPROCS(0)),
		stackFns:    newStackFuncs(opts.Playbook.AllowLocal),
		playChanges: map[string][]changeRec{},
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
	return r.alive(hosts), nil
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
	s := &lang.Scope{Vars: vars, Host: lang.UnknownHost(), Inventory: lang.UnknownInventory(), Functions: r.funcs}
	locals, ds := evalLocals(r.pb, s)
	r.globalVars, r.globalLocals = vars, locals
	return vars, locals, append(diags, ds...)
}

// alive leaves out of hosts those dead in earlier plays.
func (r *runner) alive(hosts []*inventory.Host) []*inventory.Host {
	r.mu.Lock()
	defer r.mu.Unlock()
	var out []*inventory.Host
	for _, h := range hosts {
		if _, dead := r.dead[h.Name]; !dead {
			out = append(out, h)
		}
	}
	return out
}

// markDead leaves host out of later plays, having ended with status.
func (r *runner) markDead(host string, status report.Status) {
	r.mu.Lock()
	r.dead[host] = status
	r.mu.Unlock()
}

func (r *runner) isDead(host string) bool {
	r.mu.Lock()
	defer r.mu.Unlock()
	_, dead := r.dead[host]
	return dead
}

func failureStatus(err error) report.Status {
	if transport.Unreachable(err) {
		return report.StatusUnreachable
	}
	if errors.Is(err, context.Canceled) {
		return report.StatusCancelled
	}
	if runlock.IsBusy(err) {
		return report.StatusLocked
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
// configure (contract.Spec.NeedsFacts).
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
	trs = append(trs, callTraversals(pl)...)
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
