package run

// Runbooks: read-only troubleshooting. This path is separate from plan and
// apply on purpose. It never calls remote.Apply: per host it evaluates the
// probes, runs all of them (and the fact gathering) as Check fragments in one
// batched round trip per connection, then evaluates the checks on what they
// returned. config.LoadRunbooks has already refused any module that is not
// ReadOnly, and probes connect without privilege escalation unless they set
// become themselves.

import (
	"context"
	"errors"
	"fmt"
	"sort"
	"strings"
	"time"

	"github.com/hashicorp/hcl/v2"
	"github.com/hashicorp/hcl/v2/hcldec"
	"github.com/zclconf/go-cty/cty"
	"github.com/zclconf/go-cty/cty/convert"
	"github.com/zclconf/go-cty/cty/function"

	"github.com/drover-cm/drover/engine/config"
	"github.com/drover-cm/drover/engine/facts"
	"github.com/drover-cm/drover/engine/fanout"
	"github.com/drover-cm/drover/engine/lang"
	"github.com/drover-cm/drover/engine/remote"
	"github.com/drover-cm/drover/engine/report"
	"github.com/drover-cm/drover/engine/transport"
	"github.com/drover-cm/drover/inventory"
	"github.com/drover-cm/drover/modules/contract"
)

// RunbookOptions configure a runbook run.
type RunbookOptions struct {
	File *config.RunbookFile
	// Pattern, when set, selects the hosts instead of the runbook's hosts
	// attribute (the command line's host argument).
	Pattern string
	Inputs  Inputs
	Hosts   func(pattern string) ([]*inventory.Host, error)
	// Fleet returns every host of the inventory: what inventory.* shows
	// (names, addresses, groups, vars; no facts: a runbook contacts only
	// the hosts it runs on). Nil: an empty inventory.
	Fleet func() []*inventory.Host
	// Connect returns a connection to a host. Probes pass a non-nil Become:
	// Enabled false unless the probe asks for privilege escalation.
	Connect func(ctx context.Context, h *inventory.Host, become *Become) (transport.Conn, error)
	Forks   int
	Masker  *report.Masker
	// RequireEnforced refuses to run a probe as root where the read-only
	// mount namespace cannot be set up (--require-enforced).
	RequireEnforced bool
	// Progress, when set, is called as each host finishes.
	Progress func(host string, status report.Status)
}

// RunbookFunctions are the language's functions plus num(), which reads the
// first number in a string ("93%" → 93), for parsed command output.
func RunbookFunctions(dir string, allow ...string) map[string]function.Function {
	funcs := lang.Functions(dir, allow...)
	funcs["num"] = numFunc
	return funcs
}

var numFunc = function.New(&function.Spec{
	Description: "The first number in a string (\"93%\" is 93, \"0.52,\" is 0.52); a number is returned as is; null when there is none.",
	Params:      []function.Parameter{{Name: "s", Type: cty.DynamicPseudoType, AllowNull: true, AllowMarked: true}},
	Type:        function.StaticReturnType(cty.Number),
	Impl: func(args []cty.Value, _ cty.Type) (cty.Value, error) {
		v, marks := args[0].Unmark()
		if v.IsNull() {
			return cty.NullVal(cty.Number).WithMarks(marks), nil
		}
		if v.Type() == cty.Number {
			return v.WithMarks(marks), nil
		}
		s, err := convert.Convert(v, cty.String)
		if err != nil {
			return cty.NilVal, fmt.Errorf("num needs a string or a number, not %s", v.Type().FriendlyName())
		}
		f, ok := contract.ParseNumber(s.AsString())
		if !ok {
			return cty.NullVal(cty.Number).WithMarks(marks), nil
		}
		return cty.NumberFloatVal(f).WithMarks(marks), nil
	},
})

// ValidateRunbooks checks what can be checked without hosts: variable values,
// and every probe and check expression evaluated with unknown host values and
// probe results (types, functions, attribute names of known objects).
func ValidateRunbooks(rf *config.RunbookFile, in Inputs) hcl.Diagnostics {
	pb := rf.Playbook
	funcs := RunbookFunctions(pb.Dir, pb.AllowLocal...)
	vars, diags := hostVars(pb, in, "", nil, true)
	if diags.HasErrors() {
		return diags
	}
	scope := &lang.Scope{Vars: vars, Host: lang.UnknownHost(), Inventory: cty.DynamicVal, Functions: funcs}
	locals, ds := evalLocals(pb, scope)
	diags = append(diags, ds...)
	scope.Locals = locals
	for _, rb := range rf.Runbooks {
		ctx := scope.EvalContext()
		for _, t := range rb.Probes.Tasks {
			_, ds := hcldec.Decode(t.Body, t.Spec, ctx)
			diags = append(diags, ds...)
		}
		probes := map[string]cty.Value{}
		for _, t := range rb.Probes.Tasks {
			probes[t.Name] = cty.DynamicVal
			if pm, ok := t.Module.(contract.ProbeModule); ok {
				probes[t.Name] = cty.UnknownVal(pm.ValueType())
			}
		}
		cs := *scope
		cs.Tasks = map[string]map[string]cty.Value{"probe": probes}
		for _, c := range rb.Checks {
			s := &cs
			if c.ForEach != nil {
				s = cs.With(&lang.Each{Key: cty.UnknownVal(cty.String), Value: cty.DynamicVal}, cty.NilVal)
			}
			for _, e := range c.Exprs() {
				_, ds := e.Value(s.EvalContext())
				diags = append(diags, ds...)
			}
		}
	}
	return dedupe(diags)
}

// runbookInventory is inventory.* in a runbook: the inventory's own values,
// read-only and known before any host is contacted; facts are null (only
// the hosts the runbook runs on are contacted). Sensitive variables go to
// the masker, as in a playbook. No read marks: they serve a playbook's
// report of cross-host reads.
func runbookInventory(fleet func() []*inventory.Host, masker *report.Masker) cty.Value {
	var hosts []*inventory.Host
	if fleet != nil {
		hosts = fleet()
	}
	hs := make([]lang.FleetHost, len(hosts))
	for i, h := range hosts {
		if masker != nil {
			for _, v := range h.Vars {
				for _, s := range lang.SensitiveStrings(v) {
					masker.Add(s)
				}
			}
		}
		hs[i] = lang.FleetHost{Name: h.Name, Address: h.Address, Port: h.Port, User: h.User, Groups: h.Groups, Vars: h.Vars}
	}
	_, v := lang.HostsRead(lang.InventoryValue(hs))
	return v
}

// RunRunbooks runs every runbook of the file (in order) on its hosts and
// returns one report per runbook, sorted worst first. Diagnostics are
// evaluation errors, reported once with the hosts they happened on.
func RunRunbooks(ctx context.Context, opts RunbookOptions) ([]*report.RunbookReport, hcl.Diagnostics, error) {
	rr := &runbookRun{opts: opts, funcs: RunbookFunctions(opts.File.Dir, opts.File.Playbook.AllowLocal...)}
	rr.inventory = runbookInventory(opts.Fleet, opts.Masker)
	vars, diags := globalVars(opts.File.Playbook, opts.Inputs)
	if diags.HasErrors() {
		return nil, diags, nil
	}
	gs := &lang.Scope{Vars: vars, Host: lang.UnknownHost(), Inventory: rr.inventory, Functions: rr.funcs}
	locals, ds := evalLocals(opts.File.Playbook, gs)
	if ds.HasErrors() {
		return nil, append(diags, ds...), nil
	}
	var reports []*report.RunbookReport
	for _, rb := range opts.File.Runbooks {
		pattern := opts.Pattern
		if pattern == "" && rb.Hosts != nil {
			s := &lang.Scope{Vars: vars, Locals: locals, Functions: rr.funcs}
			v, ds := rb.Hosts.Value(s.EvalContext())
			if ds.HasErrors() {
				return reports, append(diags, ds...), nil
			}
			p, err := patternString(v)
			if err != nil {
				return reports, append(diags, &hcl.Diagnostic{Severity: hcl.DiagError, Summary: "Invalid hosts value", Detail: err.Error(), Subject: rb.Hosts.Range().Ptr()}), nil
			}
			pattern = p
		}
		if pattern == "" {
			pattern = "all"
		}
		if opts.Hosts == nil {
			return reports, append(diags, &hcl.Diagnostic{Severity: hcl.DiagError, Summary: "No inventory", Detail: "Give an inventory with -i to select hosts."}), nil
		}
		hosts, err := opts.Hosts(pattern)
		if err != nil {
			return reports, diags, err
		}
		rep := &report.RunbookReport{Runbook: rb.Name, Description: rb.Description, Started: time.Now()}
		for _, c := range rb.Checks {
			rep.Checks = append(rep.Checks, c.Name)
		}
		rep.Hosts = make([]report.RunbookHost, len(hosts))
		outs := fanout.Run(ctx, hosts, opts.Forks, func(ctx context.Context, h *inventory.Host) error {
			i := indexOf(hosts, h)
			rep.Hosts[i] = rr.host(ctx, rb, h)
			if opts.Progress != nil {
				opts.Progress(h.Name, rep.Hosts[i].Status)
			}
			return nil
		})
		for i, o := range outs {
			if !o.Started || o.Err != nil {
				msg := "not started: the run was interrupted"
				if o.Err != nil {
					msg = o.Err.Error()
				}
				rep.Hosts[i] = report.RunbookHost{Host: hosts[i].Name, Status: report.StatusFailed, Error: msg}
			}
		}
		// Extra columns for findings the engine makes (probe timeouts).
		seen := map[string]bool{}
		for _, c := range rep.Checks {
			seen[c] = true
		}
		for _, h := range rep.Hosts {
			for _, f := range h.Findings {
				if !seen[f.Check] {
					seen[f.Check] = true
					rep.Checks = append(rep.Checks, f.Check)
				}
			}
		}
		rep.Duration = time.Since(rep.Started)
		rep.Sort()
		reports = append(reports, rep)
	}
	return reports, append(diags, rr.diagnostics()...), nil
}

type runbookRun struct {
	opts  RunbookOptions
	funcs map[string]function.Function
	// inventory is inventory.* (runbookInventory).
	inventory cty.Value
	hostDiags
}

// probeRun is one probe on one host.
type probeRun struct {
	task   *config.Task
	mtask  contract.Prober
	become *Become
	out    report.ProbeOutput
	value  cty.Value
	result *contract.ProbeResult
	// sensitive hides the probe's output from the report (checks still
	// read it; put no secret in their messages).
	sensitive bool
}

// factsTask reads facts as a Check fragment, so that they come in the same
// round trip as the probes.
type factsTask struct{}

func (factsTask) Check() string                                     { return facts.Script() }
func (factsTask) Diff(contract.CheckOutput) (*contract.Plan, error) { return &contract.Plan{}, nil }

func (rr *runbookRun) host(ctx context.Context, rb *config.Runbook, h *inventory.Host) report.RunbookHost {
	start := time.Now()
	res := report.RunbookHost{Host: h.Name, Status: report.StatusOK, Findings: []report.Finding{}}
	defer func() { res.Duration = time.Since(start) }()
	pb := rr.opts.File.Playbook
	vars, diags := hostVars(pb, rr.opts.Inputs, h.Name, h.Vars, false)
	for _, v := range vars {
		for _, s := range lang.SensitiveStrings(v) {
			rr.opts.Masker.Add(s)
		}
	}
	if diags.HasErrors() {
		rr.addDiags(h.Name, diags)
		res.Status, res.Error = report.StatusFailed, "the runbook's variables are invalid for this host (see the errors)"
		return res
	}
	hinfo := lang.HostInfo{Name: h.Name, Address: h.Address, Vars: h.Vars, Groups: h.Groups}
	// Facts come in the probes' round trip: probes cannot depend on them.
	hinfo.Facts = cty.UnknownVal(facts.Type)
	scope := &lang.Scope{Vars: vars, Host: lang.HostValue(hinfo), Inventory: rr.inventory, Functions: rr.funcs}
	locals, ds := evalLocals(pb, scope)
	scope.Locals = locals
	// Locals that need facts are unknown for now; that is an error only
	// where a probe uses them.
	_ = ds

	// Evaluate every probe.
	var probes []*probeRun
	var evalDiags hcl.Diagnostics
	for _, t := range rb.Probes.Tasks {
		pr := &probeRun{task: t, out: report.ProbeOutput{Name: t.Name}}
		probes = append(probes, pr)
		ds := rr.configureProbe(scope, h, pr)
		if ds.HasErrors() {
			evalDiags = append(evalDiags, ds...)
			pr.out.Status, pr.out.Note = "error", diagSummary(ds)
		}
	}
	if len(evalDiags) > 0 {
		rr.addDiags(h.Name, evalDiags)
	}

	// One batch per connection: the unprivileged one (with facts), and one
	// per become setting probes ask for.
	type batch struct {
		become *Become
		probes []*probeRun
	}
	batches := []*batch{{become: &Become{}}}
	for _, pr := range probes {
		if pr.mtask == nil {
			continue
		}
		var b *batch
		for _, x := range batches {
			if *x.become == *pr.become {
				b = x
			}
		}
		if b == nil {
			b = &batch{become: pr.become}
			batches = append(batches, b)
		}
		b.probes = append(b.probes, pr)
	}
	var fv *facts.Facts
	for i, b := range batches {
		conn, err := rr.opts.Connect(ctx, h, b.become)
		if err != nil {
			if i == 0 {
				st, msg := failure(err)
				res.Status, res.Error = st, msg
				res.Probes = outputs(probes)
				return res
			}
			for _, pr := range b.probes {
				pr.out.Status, pr.out.Note = "failed", "could not connect with become: "+err.Error()
			}
			continue
		}
		tasks := make([]contract.Task, 0, len(b.probes)+1)
		if i == 0 {
			tasks = append(tasks, factsTask{})
		}
		for _, pr := range b.probes {
			tasks = append(tasks, pr.mtask)
		}
		outs, err := remote.CheckAll(ctx, conn, tasks)
		if err != nil {
			if i == 0 {
				st, msg := failure(err)
				res.Status, res.Error = st, msg
				res.Probes = outputs(probes)
				return res
			}
			for _, pr := range b.probes {
				pr.out.Status, pr.out.Note = "failed", err.Error()
			}
			continue
		}
		if i == 0 {
			if f, err := facts.Parse(outs[0].Stdout); err == nil {
				fv = f
			}
			outs = outs[1:]
		}
		for j, pr := range b.probes {
			r := pr.mtask.Result(outs[j])
			pr.result, pr.value = r, r.Value
			pr.out.Status, pr.out.ExitCode, pr.out.ReadOnly = r.Status, r.ExitCode, r.ReadOnly
			if r.Status == contract.ProbeRefused {
				pr.out.Note = "refused by --require-enforced: read-only " + r.ReadOnly
			}
			pr.out.Stdout, pr.out.Stderr, pr.out.Truncated, pr.out.Missing = r.Stdout, r.Stderr, r.Truncated, r.Missing
			if r.Ran != "" {
				pr.out.Command = r.Ran
			}
			if r.ParseError != "" {
				pr.out.Note = "could not parse the output: " + r.ParseError
			}
			if pr.sensitive {
				pr.out.Stdout, pr.out.Stderr = "(sensitive output hidden)", ""
			}
		}
	}
	res.Probes = outputs(probes)
	res.ReadOnly = readOnlySummary(res.Probes)
	if rr.opts.RequireEnforced && contract.ReadOnlyNotEnforced(res.ReadOnly) {
		res.Status, res.Error = report.StatusFailed, "probes were refused: read-only "+res.ReadOnly+" (--require-enforced)"
	}

	// Checks see every probe's value and the host's facts.
	if fv != nil {
		hinfo.Facts = lang.FactsValue(fv)
	} else {
		hinfo.Facts = cty.NilVal
	}
	scope.Host = lang.HostValue(hinfo)
	locals, ds = evalLocals(pb, scope)
	if ds.HasErrors() {
		rr.addDiags(h.Name, ds)
	}
	scope.Locals = locals
	values := map[string]cty.Value{}
	status := map[string]string{}
	for _, pr := range probes {
		status[pr.task.Name] = pr.out.Status
		if pr.value != cty.NilVal {
			values[pr.task.Name] = pr.value
		} else {
			values[pr.task.Name] = statusValue(pr.task, pr.out.Status)
		}
		if pr.out.Status == contract.ProbeTimeout && pr.mtask != nil {
			res.Findings = append(res.Findings, report.Finding{Check: "probe_timeout", Key: pr.task.Name, Severity: report.SevWarn, Probes: []string{pr.task.Name},
				Message: fmt.Sprintf("probe %s hung and was cut after %gs (a command that hangs is a symptom too: a dead NFS mount, a process in D state)", pr.task.Name, pr.mtask.TimeoutSeconds())})
		}
	}
	scope.Tasks = map[string]map[string]cty.Value{"probe": values}
	for _, c := range rb.Checks {
		res.Findings = append(res.Findings, rr.check(scope, c, status)...)
	}
	return res
}

// statusValue is probe.NAME for a probe that gave no output to parse.
func statusValue(t *config.Task, status string) cty.Value {
	if pm, ok := t.Module.(contract.ProbeModule); ok {
		return pm.StatusValue(status)
	}
	return cty.DynamicVal // not a probe: configureProbe reported it
}

func outputs(probes []*probeRun) []report.ProbeOutput {
	out := make([]report.ProbeOutput, len(probes))
	for i, pr := range probes {
		out[i] = pr.out
	}
	return out
}

func failure(err error) (report.Status, string) {
	return failureStatus(err), err.Error()
}

// configureProbe evaluates a probe's when, become and attributes, and
// configures it. A probe skipped by when gets status "skipped".
func (rr *runbookRun) configureProbe(scope *lang.Scope, h *inventory.Host, pr *probeRun) hcl.Diagnostics {
	t := pr.task
	ctx := scope.EvalContext()
	pr.out.Command = "(not evaluated)"
	if t.When != nil {
		v, diags := t.When.Value(ctx)
		if diags.HasErrors() {
			return diags
		}
		v, _ = v.UnmarkDeep()
		if !v.IsKnown() {
			return factsDiag(t.When)
		}
		b, err := convert.Convert(v, cty.Bool)
		if err != nil || b.IsNull() {
			return hcl.Diagnostics{{Severity: hcl.DiagError, Summary: "Invalid when value", Detail: "when must be true or false.", Subject: t.When.Range().Ptr()}}
		}
		if b.False() {
			pr.out.Status, pr.out.Command = "skipped", ""
			return nil
		}
	}
	// No privilege escalation unless the probe asks for it.
	pr.become = &Become{}
	if t.Become != nil || t.BecomeUser != nil {
		b, diags := evalBecome(t.Become, t.BecomeUser, scope)
		if diags.HasErrors() {
			return diags
		}
		pr.become = b
	}
	if t.Sensitive != nil {
		ok, diags := evalBool(t.Sensitive, ctx)
		if diags.HasErrors() {
			return diags
		}
		pr.sensitive = ok
	}
	val, diags := hcldec.Decode(t.Body, t.Spec, ctx)
	if diags.HasErrors() {
		return diags
	}
	if !val.IsWhollyKnown() {
		return factsDiag(t.DeclRange)
	}
	for _, s := range lang.SensitiveStrings(val) {
		rr.opts.Masker.Add(s)
	}
	plain, _ := val.UnmarkDeep()
	if c := plain.GetAttr("command"); !c.IsNull() {
		pr.out.Command = c.AsString()
	}
	mt, err := t.Module.Configure(contract.Config{Values: plain, Dir: t.Dir, Host: h.Name, Functions: rr.funcs, Name: t.Name})
	if err != nil {
		subject := t.DeclRange
		var ae *contract.AttrError
		if errors.As(err, &ae) {
			if a, ok := attrRange(t, ae.Attr); ok {
				subject = a
			}
		}
		return hcl.Diagnostics{{Severity: hcl.DiagError, Summary: "Invalid probe", Detail: err.Error(), Subject: subject.Ptr()}}
	}
	pt, ok := mt.(contract.Prober)
	if !ok {
		// config.LoadRunbooks admits only read-only modules, and probe is
		// the only one the runbook engine knows how to report.
		return hcl.Diagnostics{{Severity: hcl.DiagError, Summary: "Not a probe", Detail: fmt.Sprintf("Runbooks run probe tasks only, not %s.", t.Type), Subject: t.TypeRange.Ptr()}}
	}
	if rr.opts.RequireEnforced {
		if rq, ok := pt.(interface{ RequireReadOnly() }); ok {
			rq.RequireReadOnly()
		}
	}
	pr.mtask = pt
	return nil
}

// readOnlySummary is the host's read-only guarantee: the weakest any probe
// ran under ("not enforced" first), each with the probes it held for when
// they differ.
func readOnlySummary(probes []report.ProbeOutput) string {
	var order []string
	by := map[string][]string{}
	for _, p := range probes {
		if p.ReadOnly == "" {
			continue
		}
		if by[p.ReadOnly] == nil {
			order = append(order, p.ReadOnly)
		}
		by[p.ReadOnly] = append(by[p.ReadOnly], p.Name)
	}
	if len(order) == 1 {
		return order[0]
	}
	sort.SliceStable(order, func(i, j int) bool {
		return contract.ReadOnlyNotEnforced(order[i]) && !contract.ReadOnlyNotEnforced(order[j])
	})
	parts := make([]string, len(order))
	for i, g := range order {
		parts[i] = fmt.Sprintf("%s (probes %s)", g, strings.Join(by[g], ", "))
	}
	return strings.Join(parts, "; ")
}

func attrRange(t *config.Task, name string) (hcl.Range, bool) {
	attrs, _ := t.Body.JustAttributes()
	if a, ok := attrs[name]; ok {
		return a.Expr.Range(), true
	}
	return hcl.Range{}, false
}

func factsDiag(where any) hcl.Diagnostics {
	var rng hcl.Range
	switch w := where.(type) {
	case hcl.Expression:
		rng = w.Range()
	case hcl.Range:
		rng = w
	}
	return hcl.Diagnostics{{Severity: hcl.DiagError, Summary: "Probes cannot use host.facts",
		Detail:  "Facts are read in the same round trip as the probes, so they are known only to checks. Let the command find out itself (command -v, a fallback), or move the condition to a check.",
		Subject: rng.Ptr()}}
}
