package run

import (
	"bytes"
	"context"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"

	"github.com/hashicorp/hcl/v2"
	"github.com/hashicorp/hcl/v2/hclparse"
	"github.com/hashicorp/hcl/v2/hclsyntax"
	"github.com/zclconf/go-cty/cty"

	"github.com/drover-cm/drover/engine/config"
	"github.com/drover-cm/drover/engine/facts"
	"github.com/drover-cm/drover/engine/lang"
	"github.com/drover-cm/drover/engine/report"
	"github.com/drover-cm/drover/engine/transport"
	"github.com/drover-cm/drover/inventory"
	"github.com/drover-cm/drover/modules"
)

// crossFixture is a playbook run with the local transport on hosts web1,
// web2, web3 (group web) and lb1 (group lb): one machine, so tests tell
// hosts apart by the paths they write ($ROOT/HOST/...) and by which
// host's connection was used.
type crossFixture struct {
	*fixture
	mu sync.Mutex
	// dials counts Connect calls per host; down are hosts that refuse.
	dials map[string]int
	down  map[string]bool
	// noRoot: the playbook declares no variable "root".
	noRoot bool
}

func loadCross(t *testing.T, src string) *crossFixture {
	t.Helper()
	return loadCrossTree(t, map[string]string{"site.hcl": src})
}

// loadCrossTree is loadCross with more files (stacks) beside site.hcl.
func loadCrossTree(t *testing.T, files map[string]string) *crossFixture {
	t.Helper()
	dir := writeTree(t, files)
	f := loadFixture(t, filepath.Join(dir, "site.hcl"))
	f.hosts = nil
	for i, name := range []string{"web1", "web2", "web3", "lb1"} {
		g := "web"
		if name == "lb1" {
			g = "lb"
		}
		f.hosts = append(f.hosts, &inventory.Host{Name: name, Address: "10.0.0." + string(rune('1'+i)), Port: 22 + i, User: "u" + name,
			Connection: inventory.ConnLocal, Groups: []string{"all", g}, Vars: map[string]cty.Value{"http_port": cty.NumberIntVal(int64(8081 + i))}})
	}
	return &crossFixture{fixture: f, dials: map[string]int{}, down: map[string]bool{}}
}

func (f *crossFixture) opts(sink report.Sink) Options {
	var o Options
	if f.noRoot {
		o = Options{Playbook: f.pb, Sink: sink, Masker: f.masker}
	} else {
		o = f.options(sink)
	}
	o.Hosts = func(pattern string) ([]*inventory.Host, error) {
		var out []*inventory.Host
		for _, h := range f.hosts {
			if pattern == "all" || h.InGroup(pattern) || h.Name == pattern {
				out = append(out, h)
			}
		}
		return out, nil
	}
	o.Fleet = func() []*inventory.Host { return f.hosts }
	o.Connect = func(ctx context.Context, h *inventory.Host, _ *Become) (transport.Conn, error) {
		f.mu.Lock()
		f.dials[h.Name]++
		down := f.down[h.Name]
		f.mu.Unlock()
		if down {
			return nil, &transport.Error{Kind: transport.ErrRefused, Host: h.Name, Err: errors.New("connection refused")}
		}
		return transport.Local{}.Connect(ctx, transport.Target{Name: h.Name, Local: true})
	}
	return o
}

func (f *crossFixture) applyEvents() (*ApplyResult, *events) {
	var ev events
	res, err := Apply(context.Background(), f.opts(&ev))
	if err != nil {
		f.t.Fatal(err)
	}
	if res.Diagnostics.HasErrors() {
		f.t.Fatalf("apply: %s", f.diagText(res.Diagnostics))
	}
	return res, &ev
}

// plan plans with the fleet's options and returns the terminal text.
func (f *crossFixture) plan() (string, *PlanResult) {
	var out bytes.Buffer
	term := report.NewTerminal(&out, &out, report.TerminalOptions{Masker: f.masker})
	res, err := Plan(context.Background(), f.opts(term))
	term.Close()
	if err != nil {
		f.t.Fatal(err)
	}
	out.WriteString(f.diagText(res.Diagnostics))
	return strings.ReplaceAll(out.String(), f.root, "$ROOT"), res
}

func (f *crossFixture) read(name string) string {
	b, err := os.ReadFile(filepath.Join(f.root, name))
	if err != nil {
		f.t.Errorf("%v", err)
	}
	return string(b)
}

// byHost are the task events of one task, per host.
func (e *events) byHost(task string) map[string]report.Event {
	out := map[string]report.Event{}
	for _, ev := range e.ev {
		if ev.Kind == report.KindTask && ev.Task == task {
			out[ev.Host] = ev
		}
	}
	return out
}

func TestInventoryDataInTasks(t *testing.T) {
	f := loadCross(t, `variable "root" {}
play "lb" {
  hosts = "lb"
  file "backends" {
    path    = "${var.root}/backends"
    content = join("\n", [for h in inventory.groups["web"] : "server ${h} ${inventory.hosts[h].address}:${inventory.hosts[h].port} # ${inventory.hosts[h].user}"])
  }
  file "mine" {
    path    = "${var.root}/lb-only"
    content = host.name
  }
}
`)
	res, _ := f.applyEvents()
	if !res.Recap.OK() {
		t.Fatalf("recap: %+v", res.Recap.Hosts)
	}
	want := "server web1 10.0.0.1:22 # uweb1\nserver web2 10.0.0.2:23 # uweb2\nserver web3 10.0.0.3:24 # uweb3"
	if got := f.read("backends"); got != want {
		t.Errorf("backends =\n%s\nwant\n%s", got, want)
	}
	out, pres := f.plan()
	if pres.Summary.Changed() {
		t.Errorf("second run would change:\n%s", out)
	}
	tp := pres.Hosts[0].Plan.Tasks
	if strings.Join(tp[0].Reads, ",") != "web1,web2,web3" || tp[1].Reads != nil {
		t.Errorf("reads = %v, %v", tp[0].Reads, tp[1].Reads)
	}
	if !strings.Contains(out, "reads inventory data of web1, web2, web3") {
		t.Errorf("plan does not say what it read:\n%s", out)
	}
	// Facts were not referenced: no host but lb1 was contacted.
	if f.dials["web1"] != 0 || f.dials["lb1"] == 0 {
		t.Errorf("dials = %v", f.dials)
	}
}

func TestOtherHostsFactsGathered(t *testing.T) {
	var mu sync.Mutex
	gathered := map[string]int{}
	f := loadCross(t, `variable "root" {}
play "lb" {
  hosts = "lb"
  file "arch" {
    path    = "${var.root}/arch"
    content = join(",", [for h in inventory.groups["web"] : "${h}=${inventory.hosts[h].facts.arch}"])
  }
}
play "web" {
  hosts = "web"
  file "x" {
    path    = "${var.root}/${host.name}"
    content = "x"
  }
}
`)
	o := f.opts(nil)
	o.Facts = func(ctx context.Context, h *inventory.Host, conn transport.Conn) (*facts.Facts, error) {
		mu.Lock()
		gathered[h.Name]++
		mu.Unlock()
		return &facts.Facts{Arch: "arm-" + h.Name}, nil
	}
	res, err := Apply(context.Background(), o)
	if err != nil || res.Diagnostics.HasErrors() || !res.Recap.OK() {
		t.Fatalf("apply: %v %s %+v", err, f.diagText(res.Diagnostics), res.Recap)
	}
	if got := f.read("arch"); got != "web1=arm-web1,web2=arm-web2,web3=arm-web3" {
		t.Errorf("arch = %q", got)
	}
	// Once per host of the run (the index is computed, so any may be
	// read), shared by every host reading them.
	for _, h := range []string{"web1", "web2", "web3", "lb1"} {
		if gathered[h] != 1 {
			t.Errorf("facts gathered: %v; want once per host", gathered)
		}
	}
}

func TestRunOnce(t *testing.T) {
	for _, c := range []struct {
		name, serial string
		runs         int
		tokens       []string
	}{
		{name: "one batch", runs: 1, tokens: []string{"tok-1", "tok-1", "tok-1"}},
		{name: "serial 1", serial: "serial = 1", runs: 3, tokens: []string{"tok-1", "tok-2", "tok-3"}},
		{name: "serial 2", serial: "serial = 2", runs: 2, tokens: []string{"tok-1", "tok-1", "tok-2"}},
	} {
		t.Run(c.name, func(t *testing.T) {
			f := loadCross(t, `variable "root" {}
play "web" {
  hosts = "web"
  `+c.serial+`
  command "token" {
    run      = ["sh", "-c", "echo $$ >> ${var.root}/runs; echo tok-$(wc -l < ${var.root}/runs | tr -d ' ')"]
    run_once = true
  }
  file "token" {
    path    = "${var.root}/${host.name}.token"
    content = command.token.stdout
  }
}
`)
			res, ev := f.applyEvents()
			if !res.Recap.OK() {
				t.Fatalf("recap: %+v", res.Recap.Hosts)
			}
			if n := strings.Count(f.read("runs"), "\n"); n != c.runs {
				t.Errorf("command ran %d times; want %d", n, c.runs)
			}
			for i, h := range []string{"web1", "web2", "web3"} {
				if got := f.read(h + ".token"); got != c.tokens[i] {
					t.Errorf("%s.token = %q; want %q", h, got, c.tokens[i])
				}
			}
			evs := ev.byHost("command.token")
			ran := 0
			for h, e := range evs {
				if e.Status != report.StatusChanged {
					t.Errorf("%s: %+v", h, e)
				}
				if strings.HasPrefix(e.Message, "ran on ") {
					continue
				}
				ran++
			}
			if ran != c.runs || evs["web2"].Message != map[int]string{1: "ran on web1", 2: "ran on web1", 3: ""}[c.runs] {
				t.Errorf("events: %+v", evs)
			}
		})
	}
}

func TestRunOnceFirstHostFails(t *testing.T) {
	f := loadCross(t, `variable "root" {}
play "web" {
  hosts = "web"
  command "first" {
    run = ["sh", "-c", "test ${host.name} != web1"]
  }
  command "once" {
    run        = ["touch", "${var.root}/once"]
    run_once   = true
    depends_on = [command.first]
  }
}
`)
	res, ev := f.applyEvents()
	evs := ev.byHost("command.once")
	if e := evs["web2"]; e.Status != report.StatusFailed || !strings.Contains(e.Message, "web1, which runs it once for its batch, stopped before it") {
		t.Errorf("web2: %+v", e)
	}
	if fileExists(filepath.Join(f.root, "once")) || res.Recap.OK() {
		t.Errorf("run_once ran without its first host")
	}
}

func TestDelegateTo(t *testing.T) {
	f := loadCross(t, `variable "root" {}
play "web" {
  hosts = "web"
  file "registered" {
    path        = "${var.root}/lb/${host.name}"
    content     = "${host.name} at ${host.address}"
    delegate_to = "lb1"
  }
}
`)
	os.Mkdir(filepath.Join(f.root, "lb"), 0o755)
	res, ev := f.applyEvents()
	if !res.Recap.OK() {
		t.Fatalf("recap %+v", res.Recap.Hosts)
	}
	for i, h := range []string{"web1", "web2", "web3"} {
		if got, want := f.read("lb/"+h), h+" at 10.0.0."+string(rune('1'+i)); got != want {
			t.Errorf("%s: %q; want %q", h, got, want)
		}
		if e := ev.byHost("file.registered")[h]; e.Status != report.StatusChanged || e.Message != "on lb1" {
			t.Errorf("%s: %+v", h, e)
		}
	}
	// The delegate's connection is opened for the delegating hosts, and
	// the second run changes nothing.
	if f.dials["lb1"] == 0 {
		t.Errorf("lb1 was never connected to: %v", f.dials)
	}
	res, _ = f.applyEvents()
	for _, h := range res.Recap.Hosts {
		if h.Tasks.Changed != 0 {
			t.Errorf("second apply: %+v", h)
		}
	}
	out, _ := f.plan()
	if !strings.Contains(out, "(on lb1)") {
		t.Errorf("plan does not say where the task runs:\n%s", out)
	}
}

func TestDelegateUnreachable(t *testing.T) {
	f := loadCross(t, `variable "root" {}
play "web" {
  hosts = "web"
  file "registered" {
    path        = "${var.root}/${host.name}"
    content     = "x"
    delegate_to = "lb1"
  }
  file "after" {
    path    = "${var.root}/after-${host.name}"
    content = "x"
  }
}
`)
	f.down["lb1"] = true
	res, ev := f.applyEvents()
	for _, h := range res.Recap.Hosts {
		if h.Status != report.StatusFailed {
			t.Errorf("%s: %s; want failed (the delegate is unreachable, not the host)", h.Host, h.Status)
		}
	}
	e := ev.byHost("file.registered")["web1"]
	if e.Status != report.StatusFailed || !strings.Contains(e.Message, "delegate_to lb1 is unreachable") || !strings.Contains(e.Message, "connection refused") {
		t.Errorf("event: %+v", e)
	}
	if e := ev.byHost("file.after")["web1"]; e.Status != report.StatusSkipped {
		t.Errorf("the host went on after the failure: %+v", e)
	}
}

func TestDelegateToNoSuchHost(t *testing.T) {
	f := loadCross(t, `variable "root" {}
play "web" {
  hosts = "web"
  file "registered" {
    path        = "/tmp/x"
    content     = "x"
    delegate_to = "lb2"
  }
  file "lit" {
    path    = "/tmp/y"
    content = inventory.hosts["web9"].address
  }
}
`)
	res, err := Apply(context.Background(), f.opts(nil))
	if err != nil {
		t.Fatal(err)
	}
	got := f.diagText(res.Diagnostics)
	for _, want := range []string{`delegate_to names "lb2", which is no host of the inventory. Did you mean "lb1"?`, `line 7`, `inventory.hosts names "web9", which is no host of the inventory. Did you mean "web1"?`} {
		if !strings.Contains(got, want) {
			t.Errorf("diagnostics lack %q:\n%s", want, got)
		}
	}
	if len(f.dials) != 0 {
		t.Errorf("hosts were contacted: %v", f.dials)
	}
}

// TestDelegateSerializes: several hosts' commands delegated to one host
// never overlap there.
func TestDelegateSerializes(t *testing.T) {
	f := loadCross(t, `variable "root" {}
play "web" {
  hosts = "web"
  command "drain" {
    run         = ["sh", "-c", "if [ -e ${var.root}/busy ]; then echo overlap >> ${var.root}/log; fi; touch ${var.root}/busy; sleep 0.2; rm ${var.root}/busy; echo ${host.name} >> ${var.root}/log"]
    delegate_to = "lb1"
  }
}
`)
	res, _ := f.applyEvents()
	if !res.Recap.OK() {
		t.Fatalf("recap %+v", res.Recap.Hosts)
	}
	if log := f.read("log"); strings.Contains(log, "overlap") || strings.Count(log, "\n") != 3 {
		t.Errorf("log:\n%s", log)
	}
}

func TestPlayUse(t *testing.T) {
	cases := []struct {
		expr     string
		any, all bool
		factsOf  string
		// every: a computed index may reach any host, not only the run's
		// and the named groups'.
		every bool
	}{
		{expr: `"x"`},
		{expr: `host.facts.arch`},
		{expr: `inventory.groups["web"]`, any: true},
		{expr: `[for h in inventory.groups["web"] : inventory.hosts[h].address]`, any: true},
		{expr: `inventory.hosts["web1"].address`, any: true},
		{expr: `inventory.hosts["web1"].facts.arch`, any: true, factsOf: "web1"},
		{expr: `inventory.hosts["web1"]`, any: true, factsOf: "web1"},
		{expr: `[for h in inventory.groups["web"] : inventory.hosts[h].facts.arch]`, any: true, all: true},
		{expr: `[for n, h in inventory.hosts : h.facts.arch]`, any: true, all: true, every: true},
		{expr: `[for n, h in inventory.hosts : h.address]`, any: true, every: true},
		{expr: `jsonencode(inventory.hosts)`, any: true, all: true, every: true},
		{expr: `[for g in keys(inventory.groups) : inventory.hosts[inventory.groups[g][0]].facts.arch]`, any: true, all: true, every: true},
		{expr: `[for h in inventory.groups["web"] : jsonencode(inventory.hosts[h])]`, any: true, all: true},
		{expr: `[for h in inventory.groups["web"] : inventory.hosts[h]["facts"]]`, any: true, all: true},
		{expr: `[for h in inventory.groups["web"] : upper(inventory.hosts[h].user)]`, any: true},
	}
	for _, c := range cases {
		t.Run(c.expr, func(t *testing.T) {
			e, diags := hclsyntax.ParseExpression([]byte(c.expr), "x.hcl", hcl.InitialPos)
			if diags.HasErrors() {
				t.Fatal(diags)
			}
			pb := &config.Playbook{Locals: map[string]*config.Local{"x": {Name: "x", Expr: e}}, LocalOrder: []string{"x"}}
			r := newRunner(Options{Playbook: pb}, nil)
			u := r.playUse(&config.Play{})
			var of []string
			for h := range u.factsOf {
				of = append(of, h)
			}
			if u.any != c.any || u.allFacts != c.all || strings.Join(of, ",") != c.factsOf || u.anyGroup != c.every {
				t.Errorf("use = any %v, all facts %v, facts of %v, every host %v; want %v %v %q %v", u.any, u.allFacts, of, u.anyGroup, c.any, c.all, c.factsOf, c.every)
			}
			web1 := &inventory.Host{Name: "web1", Groups: []string{"all", "web"}}
			db1 := &inventory.Host{Name: "db1", Groups: []string{"all", "db"}}
			// Outside the run, db1's facts are wanted only when any host
			// is reachable; web1's when its group is named too.
			if got := u.factsWanted(db1, false); got != (c.all && c.every) {
				t.Errorf("factsWanted(db1) = %v", got)
			}
			if got := u.factsWanted(web1, true); got != (c.all || c.factsOf == "web1") {
				t.Errorf("factsWanted(web1 in the run) = %v", got)
			}
		})
	}
}

// TestNoInventoryCostsNothing: a playbook that reads no other host builds
// no inventory value and contacts no other host.
func TestNoInventoryCostsNothing(t *testing.T) {
	pb, diags := config.LoadFiles(hclparse.NewParser(), modules.Catalog(), "testdata/apply_batch")
	if diags.HasErrors() {
		t.Fatal(diags)
	}
	r := newRunner(Options{Playbook: pb}, nil)
	for _, pl := range pb.Plays {
		if r.playUse(pl).any || r.inventoryValue(context.Background(), pl) != cty.NilVal {
			t.Errorf("play %s builds the inventory", pl.Name)
		}
	}
}

// TestOtherHostsSecretsMasked: a sensitive variable of another host stays
// masked in the host that reads it.
func TestOtherHostsSecretsMasked(t *testing.T) {
	f := loadCross(t, `variable "root" {}
play "lb" {
  hosts = "lb"
  file "auth" {
    path    = "${var.root}/auth"
    content = "web1 ${inventory.hosts["web1"].vars.token}"
  }
  command "echo" {
    run = ["echo", "token is ${inventory.hosts["web1"].vars.token}"]
  }
}
`)
	f.hosts[0].Vars["token"] = lang.Sensitive(cty.StringVal("tok-Vq93-secret"))
	out, res := f.plan()
	if res.Failed() || strings.Contains(out, "tok-Vq93-secret") || !strings.Contains(out, "(sensitive") {
		t.Errorf("plan:\n%s", out)
	}
	var ev events
	ares, err := Apply(context.Background(), f.opts(&ev))
	if err != nil || !ares.Recap.OK() {
		t.Fatalf("apply: %v %+v", err, ares.Recap)
	}
	if got := f.read("auth"); got != "web1 tok-Vq93-secret" {
		t.Errorf("auth = %q", got)
	}
	if f.masker.String("token is tok-Vq93-secret") == "token is tok-Vq93-secret" {
		t.Errorf("the masker does not know the other host's secret")
	}
}

// TestDelegatedChangesDoNotLoseUpdates: hosts delegating changes to one
// file on one host each keep theirs: every delegated change is made from
// the state read just before it, under the delegate's lock, not from the
// state read before another host changed the file.
func TestDelegatedChangesDoNotLoseUpdates(t *testing.T) {
	f := loadCross(t, `variable "root" {}
play "web" {
  hosts = "web"
  line "backend" {
    path        = "${var.root}/backends"
    line        = "server ${host.name}"
    delegate_to = "lb1"
  }
}
`)
	os.WriteFile(filepath.Join(f.root, "backends"), []byte("# backends\n"), 0o644)
	res, _ := f.applyEvents()
	if !res.Recap.OK() {
		t.Fatalf("recap %+v", res.Recap.Hosts)
	}
	got := f.read("backends")
	for _, h := range []string{"web1", "web2", "web3"} {
		if !strings.Contains(got, "server "+h+"\n") {
			t.Errorf("backends lost %s's line:\n%s", h, got)
		}
	}
	res, _ = f.applyEvents()
	for _, h := range res.Recap.Hosts {
		if h.Tasks.Changed != 0 {
			t.Errorf("second apply: %+v", h)
		}
	}
}

// TestCrossHostInStacks: a stack's tasks read inventory.* (in its locals
// and tasks), and take run_once and delegate_to, like a play's.
func TestCrossHostInStacks(t *testing.T) {
	f := loadCrossTree(t, map[string]string{
		"site.hcl": `variable "root" {}
play "web" {
  hosts = "web"
  stack "lb" {
    source   = "./stacks/lb"
    dir      = var.root
    balancer = "lb1"
  }
}
`,
		"stacks/lb/main.hcl": `variable "dir" { type = string }
variable "balancer" { type = string }
locals {
  backends = [for h in inventory.groups["web"] : "${h} ${inventory.hosts[h].address}"]
}
command "stamp" {
  run      = ["sh", "-c", "echo x >> ${var.dir}/stamps; echo once"]
  run_once = true
}
file "backends" {
  path        = "${var.dir}/backends-${host.name}"
  content     = "${join(",", local.backends)} ${command.stamp.stdout}"
  delegate_to = var.balancer
}
`,
	})
	res, ev := f.applyEvents()
	if !res.Recap.OK() {
		t.Fatalf("recap %+v", res.Recap.Hosts)
	}
	if n := strings.Count(f.read("stamps"), "\n"); n != 1 {
		t.Errorf("run_once ran %d times", n)
	}
	for _, h := range []string{"web1", "web2", "web3"} {
		if got := f.read("backends-" + h); got != "web1 10.0.0.1,web2 10.0.0.2,web3 10.0.0.3 once" {
			t.Errorf("%s: %q", h, got)
		}
		if e := ev.byHost("stack.lb.file.backends")[h]; e.Message != "on lb1" {
			t.Errorf("%s: %+v", h, e)
		}
	}
}
