package main

// Saved plans: `drover plan -out FILE` writes what the plan showed and
// what it was computed from (engine/planfile); `drover apply FILE` checks
// that none of it moved and applies exactly that plan (engine/run's
// Saved). See docs/cli.md, "Saved plans".

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"time"

	"github.com/spf13/cobra"
	ctyjson "github.com/zclconf/go-cty/cty/json"

	"github.com/drover-cm/drover/engine/lang"
	"github.com/drover-cm/drover/engine/localpath"
	"github.com/drover-cm/drover/engine/planfile"
	"github.com/drover-cm/drover/engine/run"
	"github.com/drover-cm/drover/engine/stacksrc"
	"github.com/drover-cm/drover/inventory"
)

// planRecorder is a plan being recorded for -out.
type planRecorder struct {
	path  string
	plan  *planfile.Plan
	d     planfile.Digester
	watch *localpath.Watcher
}

// startPlanRecord begins recording a plan for -out: from here on, every
// local file the playbook reads is noted.
func startPlanRecord(path string) (*planRecorder, error) {
	p, err := planfile.New(versionString())
	if err != nil {
		return nil, err
	}
	d, err := p.Digester()
	if err != nil {
		return nil, err
	}
	return &planRecorder{path: path, plan: p, d: d.Skipping(path), watch: localpath.Watch()}, nil
}

// refuseUnsaveable refuses what a plan file cannot hold, before any host
// is contacted: provision blocks (their instances do not exist yet to
// plan), and a sensitive variable given with --var, which apply could not
// read again without writing it into the file.
func refuseUnsaveable(l *loaded) error {
	if l.flags.hosts != "" {
		return usageErrorf("plan -out: a stack applied directly (--hosts) is not saved in a plan file; call it from a playbook's play and plan that")
	}
	if len(l.pb.Provisions) > 0 {
		return usageErrorf("plan -out: the playbook has provision blocks, which a saved plan does not cover (the instances they create do not exist yet to be planned); run drover apply without a plan file")
	}
	for _, kv := range l.flags.vars {
		name, _, _ := strings.Cut(kv, "=")
		if v := l.pb.Variables[name]; v != nil && v.Sensitive {
			return usageErrorf("plan -out: --var %s sets a sensitive variable, which a plan file must not hold and apply could not read again; give it in an encrypted --var-file or as DROVER_VAR_%s instead", name, name)
		}
	}
	return nil
}

// write records what the plan was computed from and the hosts' plans, and
// writes the file (0600, through a temporary file and a rename).
func (pr *planRecorder) write(l *loaded, res *run.PlanResult) error {
	local := pr.watch.Stop()
	p := pr.plan
	abs := func(ps []string) []string {
		out := make([]string, len(ps))
		for i, x := range ps {
			out[i], _ = filepath.Abs(x)
		}
		return out
	}
	p.Command = planfile.Command{
		Playbooks:   abs(l.paths),
		Inventories: abs(global.inventories),
		Limit:       global.limit,
		AllowLocal:  abs(l.flags.allowLocal),
		VarFiles:    abs(l.flags.varFiles),
		Vars:        l.flags.vars,
		Overrides:   changedOverrides(l.cmd),
	}
	files, err := pr.files(l, local)
	if err != nil {
		return err
	}
	p.Files = files
	p.Inputs = planInputs(pr.d, l)
	p.Summary = res.Summary
	byName := map[string]int{}
	for _, hp := range res.Hosts {
		i, ok := byName[hp.Host]
		if !ok {
			i = len(p.Hosts)
			byName[hp.Host] = i
			p.Hosts = append(p.Hosts, planfile.Host{Name: hp.Host})
		}
		p.Hosts[i].Plays = append(p.Hosts[i].Plays, planfile.Play{Index: hp.Index, Name: hp.Plan.Play, Tasks: hp.Saved})
	}
	return writePlanFile(pr.path, p)
}

func writePlanFile(path string, p *planfile.Plan) error {
	data, err := planfile.Marshal(p)
	if err != nil {
		return err
	}
	return writeAtomic(path, data, 0o600)
}

// files are the digests of every local file the plan was made from.
func (pr *planRecorder) files(l *loaded, local []string) ([]planfile.File, error) {
	var out []planfile.File
	seen := map[string]bool{}
	add := func(role, p string) error {
		a, err := filepath.Abs(p)
		if err != nil || seen[a] {
			return err
		}
		seen[a] = true
		dg, err := pr.d.Path(a)
		if err != nil {
			return fmt.Errorf("plan -out: reading %s for its digest: %w", a, err)
		}
		out = append(out, planfile.File{Path: a, Role: role, Digest: dg})
		return nil
	}
	var errs []error
	for _, f := range playbookFiles(l) {
		errs = append(errs, add("playbook", f))
	}
	for _, f := range l.flags.varFiles {
		errs = append(errs, add("var-file", f))
	}
	for _, f := range global.inventories {
		errs = append(errs, add("inventory", f))
		// group_vars/ and host_vars/ beside an inventory file apply too.
		if st, err := os.Stat(f); err == nil && !st.IsDir() {
			errs = append(errs, add("inventory", filepath.Join(filepath.Dir(f), "group_vars")), add("inventory", filepath.Join(filepath.Dir(f), "host_vars")))
		}
	}
	for _, t := range strings.Split(global.limit, ":") {
		if f, ok := strings.CutPrefix(strings.TrimLeft(t, "&!"), "@"); ok {
			errs = append(errs, add("limit", f))
		}
	}
	for _, f := range local {
		errs = append(errs, add("local", f))
	}
	// The stack lock pins the commits of git stack sources (the fetched
	// files themselves are parsed, so they are playbook files above).
	if len(l.paths) > 0 {
		dir := l.paths[0]
		if st, err := os.Stat(dir); err != nil || !st.IsDir() {
			dir = filepath.Dir(dir)
		}
		errs = append(errs, add("stack-lock", filepath.Join(dir, stacksrc.LockFile)))
	}
	return out, errors.Join(errs...)
}

// playbookFiles are the playbook's HCL files the run parsed (not the
// variable files, which the parser holds too).
func playbookFiles(l *loaded) []string {
	vf := map[string]bool{}
	for _, f := range l.flags.varFiles {
		vf[f] = true
	}
	var out []string
	for name := range l.parser.Files() {
		if !vf[name] {
			out = append(out, name)
		}
	}
	sort.Strings(out)
	return out
}

// planInputs are the variables given, each by digest, and in clear unless
// sensitive.
func planInputs(d planfile.Digester, l *loaded) []planfile.Input {
	names := make([]string, 0, len(l.inputs))
	for n := range l.inputs {
		names = append(names, n)
	}
	sort.Strings(names)
	var out []planfile.Input
	for _, n := range names {
		iv := l.inputs[n]
		v, _ := iv.Value.UnmarkDeep()
		js, err := ctyjson.Marshal(v, v.Type())
		if err != nil {
			js = []byte(fmt.Sprintf("%q", v.GoString()))
		}
		sensitive := lang.IsSensitive(iv.Value) || len(lang.SensitiveStrings(iv.Value)) > 0
		if dv := l.pb.Variables[n]; dv != nil && dv.Sensitive {
			sensitive = true
		}
		in := planfile.Input{Name: n, Source: iv.Source, Sensitive: sensitive, Digest: d.Sum([]byte(n), []byte(v.Type().FriendlyName()), js)}
		if !sensitive {
			in.Value = json.RawMessage(js)
		}
		out = append(out, in)
	}
	return out
}

// changedOverrides are the connection flags given on the command line.
func changedOverrides(cmd *cobra.Command) map[string]string {
	m := map[string]string{}
	for _, f := range inventory.Flags() {
		if fl := cmd.Flags().Lookup(f.Name); fl != nil && fl.Changed {
			m[f.Name] = fl.Value.String()
		}
	}
	if len(m) == 0 {
		return nil
	}
	return m
}

// isPlanFile reports whether path is a plan file (by its first bytes), so
// that `drover apply FILE` can tell it from a playbook.
func isPlanFile(path string) bool {
	f, err := os.Open(path)
	if err != nil {
		return false
	}
	defer f.Close()
	b := make([]byte, len(planfile.Magic))
	n, _ := f.Read(b)
	return bytes.Equal(b[:n], []byte(planfile.Magic))
}

// savedApply is `drover apply FILE`: the plan, and the file it is in.
type savedApply struct {
	path string
	plan *planfile.Plan
	d    planfile.Digester
}

// planFlags are the flags a plan file fixes: apply FILE takes them from the
// plan and refuses them on its command line.
func planFixedFlags() []string {
	fixed := []string{"inventory", "limit", "var", "var-file", "allow-local", "hosts"}
	for _, f := range inventory.Flags() {
		fixed = append(fixed, f.Name)
	}
	return fixed
}

// openSavedPlan reads and checks a plan file for apply: its format, version
// and checksum, that it was not applied already, and that every local file
// it was made from is unchanged. It sets the command's flags to the plan's.
// A plan with nothing to do is said so, and returns nil.
func openSavedPlan(cmd *cobra.Command, args []string) (*savedApply, error) {
	path := args[0]
	if len(args) > 1 {
		return nil, usageErrorf("apply %s: a plan file is applied alone (it names its playbook and inventory); drop %s", path, strings.Join(args[1:], " "))
	}
	var given []string
	for _, name := range planFixedFlags() {
		if cmd.Flags().Changed(name) {
			given = append(given, "--"+name)
		}
	}
	if len(given) > 0 {
		return nil, usageErrorf("apply %s: the plan file fixes the inventory, playbook, --limit, variables and connection settings it was made with; drop %s (or make a new plan with them)", path, strings.Join(given, ", "))
	}
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("reading the plan: %w", err)
	}
	p, err := planfile.Unmarshal(path, data, versionString())
	if err != nil {
		return nil, &exitCodeError{code: exitError, err: err}
	}
	if a := p.Applied; a != nil {
		return nil, &exitCodeError{code: exitError, err: fmt.Errorf("%s was applied already, at %s by %s: a plan is applied once; make a new plan with drover plan -out", path, a.At.Format(time.RFC3339), a.By)}
	}
	u := newUI(cmd)
	if !p.Changed() {
		out := u.stdout
		if global.jsonOut {
			out = u.stderr
		}
		fmt.Fprintf(out, "No changes: %s (planned %s) has nothing to do; every host was in the state its playbook describes.\n", path, p.Created.Format(time.RFC3339))
		return nil, nil
	}
	d, err := p.Digester()
	if err != nil {
		return nil, &exitCodeError{code: exitError, err: fmt.Errorf("%s: %w", path, err)}
	}
	d = d.Skipping(path)
	if err := d.CheckFiles(p.Files); err != nil {
		return nil, &exitCodeError{code: exitError, err: fmt.Errorf("%s: %w", path, err)}
	}
	set := func(name string, values ...string) error {
		for _, v := range values {
			if err := cmd.Flags().Set(name, v); err != nil {
				return fmt.Errorf("%s: the plan's --%s %q: %w", path, name, v, err)
			}
		}
		return nil
	}
	c := p.Command
	errs := []error{set("inventory", c.Inventories...), set("var", c.Vars...), set("var-file", c.VarFiles...), set("allow-local", c.AllowLocal...)}
	if c.Limit != "" {
		errs = append(errs, set("limit", c.Limit))
	}
	for name, v := range c.Overrides {
		errs = append(errs, set(name, v))
	}
	if err := errors.Join(errs...); err != nil {
		return nil, &exitCodeError{code: exitError, err: err}
	}
	return &savedApply{path: path, plan: p, d: d}, nil
}

// verify checks, once the playbook is loaded again, that it is made of the
// files the plan read (no new one in a playbook directory) and that every
// variable is what it was, a sensitive one read again from its source.
func (sa *savedApply) verify(l *loaded) error {
	known := map[string]bool{}
	for _, f := range sa.plan.Files {
		known[f.Path] = true
	}
	for _, f := range playbookFiles(l) {
		if a, _ := filepath.Abs(f); !known[a] {
			return &exitCodeError{code: exitError, err: fmt.Errorf("%s: the plan is stale: playbook file %s is new since the plan; make the plan again (drover plan -out) and review it", sa.path, a)}
		}
	}
	now := map[string]planfile.Input{}
	for _, in := range planInputs(sa.d, l) {
		now[in.Name] = in
	}
	var moved []string
	for _, was := range sa.plan.Inputs {
		in, ok := now[was.Name]
		delete(now, was.Name)
		switch {
		case !ok:
			moved = append(moved, fmt.Sprintf("%s (from %s) is no longer given", was.Name, was.Source))
		case in.Source != was.Source:
			moved = append(moved, fmt.Sprintf("%s came from %s, now from %s", was.Name, was.Source, in.Source))
		case in.Digest != was.Digest:
			moved = append(moved, fmt.Sprintf("%s (from %s) has another value", was.Name, was.Source))
		}
	}
	for _, in := range now {
		moved = append(moved, fmt.Sprintf("%s is given now (from %s) and was not when the plan was made", in.Name, in.Source))
	}
	if len(moved) > 0 {
		sort.Strings(moved)
		return &exitCodeError{code: exitError, err: fmt.Errorf("%s: the plan is stale: its variables moved: %s; give them as when the plan was made (a sensitive one is read again from its source, never from the plan), or make a new plan", sa.path, strings.Join(moved, "; "))}
	}
	return nil
}

// markApplied records in the file that the plan is being applied, before
// any host is touched: a plan is applied once.
func (sa *savedApply) markApplied() error {
	sa.plan.Applied = &planfile.Applied{At: time.Now().UTC().Truncate(time.Second), By: operator()}
	if err := writePlanFile(sa.path, sa.plan); err != nil {
		return &exitCodeError{code: exitError, err: fmt.Errorf("%w; drover records in the plan file that it was applied (a plan is applied once): make the file and its directory writable", err)}
	}
	return nil
}

// announce says which plan is applied, and what it does, before the run's
// output.
func (sa *savedApply) announce(u *ui) {
	if global.jsonOut {
		return
	}
	hosts := fmt.Sprintf("%d hosts", len(sa.plan.Hosts))
	if len(sa.plan.Hosts) == 1 {
		hosts = "1 host"
	}
	fmt.Fprintf(u.stdout, "Applying %s (planned %s for %s): %s\n\n", sa.path, sa.plan.Created.Format(time.RFC3339), hosts, sa.plan.Summary.Line())
}

// options are what engine/run needs to apply the saved plan.
func (sa *savedApply) options(replan bool) *run.Saved {
	return &run.Saved{Digest: sa.d, Plan: sa.plan, Replan: replan}
}
