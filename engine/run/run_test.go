package run

import (
	"bytes"
	"context"
	"encoding/json"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"filippo.io/age"
	"github.com/hashicorp/hcl/v2"
	"github.com/hashicorp/hcl/v2/hclparse"
	"github.com/zclconf/go-cty/cty"

	"github.com/drover-cm/drover/engine/config"
	"github.com/drover-cm/drover/engine/lang"
	"github.com/drover-cm/drover/engine/report"
	"github.com/drover-cm/drover/engine/runlock"
	"github.com/drover-cm/drover/engine/secrets"
	"github.com/drover-cm/drover/engine/transport"
	"github.com/drover-cm/drover/internal/golden"
	"github.com/drover-cm/drover/inventory"
	"github.com/drover-cm/drover/modules"
)

// fixture is a playbook loaded from a directory, run against this machine
// with the local transport; $ROOT in it is a fresh temporary directory.
type fixture struct {
	t      *testing.T
	root   string
	pb     *config.Playbook
	parser *hclparse.Parser
	hosts  []*inventory.Host
	masker *report.Masker
	vars   []string
	// varFiles are opened with keys (encrypted ones too).
	varFiles []string
	keys     *secrets.Keys
	// sel is the run's selection (a golden case's selection.json).
	sel *Selection
}

func loadFixture(t *testing.T, dir string, hosts ...string) *fixture {
	t.Helper()
	f := &fixture{t: t, root: t.TempDir(), parser: hclparse.NewParser(), masker: report.NewMasker()}
	pb, diags := config.LoadFiles(f.parser, modules.Catalog(), dir)
	if diags.HasErrors() {
		t.Fatalf("load: %s", f.diagText(diags))
	}
	f.pb = pb
	if len(hosts) == 0 {
		hosts = []string{"local"}
	}
	for _, h := range hosts {
		f.hosts = append(f.hosts, &inventory.Host{Name: h, Address: "127.0.0.1", Connection: inventory.ConnLocal, Groups: []string{"all"},
			Vars: map[string]cty.Value{"role": cty.StringVal("primary")}})
	}
	if setup := filepath.Join(dir, "setup.sh"); fileExists(setup) {
		cmd := exec.Command("sh", setup)
		cmd.Env = append(os.Environ(), "ROOT="+f.root)
		if out, err := cmd.CombinedOutput(); err != nil {
			t.Fatalf("setup.sh: %v\n%s", err, out)
		}
	}
	return f
}

func fileExists(p string) bool { _, err := os.Stat(p); return err == nil }

func (f *fixture) diagText(diags hcl.Diagnostics) string {
	var b bytes.Buffer
	config.WriteDiagnostics(&b, f.parser.Files(), diags, 0, false)
	return b.String()
}

func (f *fixture) options(sink report.Sink) Options {
	in, diags := ParseInputsWithKeys(f.parser, f.pb, nil, f.varFiles, append([]string{"root=" + f.root}, f.vars...), f.keys)
	if diags.HasErrors() {
		f.t.Fatalf("inputs: %s", f.diagText(diags))
	}
	return Options{
		Playbook: f.pb,
		Inputs:   in,
		Hosts:    func(string) ([]*inventory.Host, error) { return f.hosts, nil },
		Connect: func(ctx context.Context, h *inventory.Host, _ *Become) (transport.Conn, error) {
			return transport.Local{}.Connect(ctx, transport.Target{Name: h.Name, Local: true})
		},
		Sink:      sink,
		Masker:    f.masker,
		Selection: f.sel,
	}
}

// plan runs a plan and returns its text as the terminal shows it, with the
// temporary root replaced by $ROOT.
func (f *fixture) plan() (string, *PlanResult) {
	var out bytes.Buffer
	term := report.NewTerminal(&out, &out, report.TerminalOptions{Masker: f.masker})
	res, err := Plan(context.Background(), f.options(term))
	term.Close()
	if err != nil {
		f.t.Fatal(err)
	}
	if len(res.Diagnostics) > 0 {
		out.WriteString(f.diagText(res.Diagnostics))
	}
	out.WriteString("\n" + res.Summary.Line() + "\n")
	return strings.ReplaceAll(out.String(), f.root, "$ROOT"), res
}

func (f *fixture) apply() (string, *ApplyResult) {
	var out bytes.Buffer
	term := report.NewTerminal(&out, &out, report.TerminalOptions{Masker: f.masker})
	res, err := Apply(context.Background(), f.options(term))
	term.Close()
	if err != nil {
		f.t.Fatal(err)
	}
	if len(res.Diagnostics) > 0 {
		out.WriteString(f.diagText(res.Diagnostics))
	}
	return strings.ReplaceAll(out.String(), f.root, "$ROOT"), res
}

// TestPlanGolden plans each testdata/plan/<case>/site.hcl (after its
// setup.sh, if any; with the Selection in its selection.json, if any) and
// compares the output with plan.txt. Run with -update
// to rewrite the golden files.
func TestPlanGolden(t *testing.T) {
	dirs, _ := filepath.Glob("testdata/plan/*")
	if len(dirs) == 0 {
		t.Fatal("no golden cases")
	}
	for _, dir := range dirs {
		t.Run(filepath.Base(dir), func(t *testing.T) {
			f := loadFixture(t, dir)
			if js, err := os.ReadFile(filepath.Join(dir, "selection.json")); err == nil {
				f.sel = &Selection{}
				if err := json.Unmarshal(js, f.sel); err != nil {
					t.Fatal(err)
				}
			}
			got, res := f.plan()
			// The JSON form (what --json consumers get in plan events).
			type hostJSON struct {
				Host   string           `json:"host"`
				Status report.Status    `json:"status"`
				Plan   *report.HostPlan `json:"plan"`
			}
			doc := struct {
				Hosts   []hostJSON         `json:"hosts"`
				Summary report.PlanSummary `json:"summary"`
			}{Summary: res.Summary}
			for _, h := range res.Hosts {
				doc.Hosts = append(doc.Hosts, hostJSON{h.Host, h.Status, h.Plan})
			}
			js, _ := json.MarshalIndent(doc, "", "  ")
			gotJSON := strings.ReplaceAll(string(js), f.root, "$ROOT") + "\n"
			for name, got := range map[string]string{"plan.txt": got, "plan.json": gotJSON} {
				golden.Check(t, filepath.Join(dir, name), got)
			}
			if strings.Contains(got, "\x1b[") {
				t.Errorf("colour codes in plan output")
			}
		})
	}
}

func TestApplyTwice(t *testing.T) {
	f := loadFixture(t, "testdata/apply")
	out, res := f.apply()
	if !res.Recap.OK() {
		t.Fatalf("first apply failed:\n%s", out)
	}
	h := res.Recap.Hosts[0]
	if h.Tasks.Changed != 3 || h.Status != report.StatusChanged {
		t.Errorf("first apply: %+v\n%s", h, out)
	}
	for name, want := range map[string]string{"a": "first\n", "b": "copy of a: first\n", "handler-ran": "yes\n"} {
		got, err := os.ReadFile(filepath.Join(f.root, name))
		if err != nil || string(got) != want {
			t.Errorf("%s = %q, %v; want %q", name, got, err, want)
		}
	}
	os.Remove(filepath.Join(f.root, "handler-ran"))
	out, res = f.apply()
	h = res.Recap.Hosts[0]
	if h.Tasks.Changed != 0 || h.Tasks.OK != 2 || h.Status != report.StatusOK {
		t.Errorf("second apply should change nothing: %+v\n%s", h, out)
	}
	if fileExists(filepath.Join(f.root, "handler-ran")) {
		t.Errorf("handler ran although nothing notified it")
	}
	_, pres := f.plan()
	if pres.Summary.Changed() {
		t.Errorf("plan after apply shows changes: %+v", pres.Summary)
	}
}

// events collects events for assertions.
type events struct {
	mu sync.Mutex
	ev []report.Event
}

func (e *events) Emit(ev report.Event) { e.mu.Lock(); e.ev = append(e.ev, ev); e.mu.Unlock() }
func (e *events) Close() error         { return nil }

func (e *events) tasks() map[string]report.Event {
	out := map[string]report.Event{}
	for _, ev := range e.ev {
		if ev.Kind == report.KindTask {
			out[ev.Task] = ev
		}
	}
	return out
}

func TestApplyFailureStopsHost(t *testing.T) {
	f := loadFixture(t, "testdata/apply_fail")
	var ev events
	res, err := Apply(context.Background(), f.options(&ev))
	if err != nil {
		t.Fatal(err)
	}
	h := res.Recap.Hosts[0]
	if h.Status != report.StatusFailed || h.Tasks.Failed != 1 || h.Tasks.Changed != 1 || h.Tasks.Skipped != 2 || h.Message != "stopped at command.fail" {
		t.Errorf("recap = %+v", h)
	}
	tasks := ev.tasks()
	// The exit status is the message; what the command printed stays in
	// its streams, not mixed.
	if e := tasks["command.fail"]; e.Status != report.StatusFailed || e.Message != "exit status 3" || strings.TrimSpace(e.Stderr) != "oops" ||
		e.ExitCode == nil || *e.ExitCode != 3 {
		t.Errorf("command.fail event = %+v", e)
	}
	if e := tasks["file.after"]; e.Status != report.StatusSkipped || !strings.Contains(e.Message, "depends on command.fail") {
		t.Errorf("file.after event = %+v", e)
	}
	if e := tasks["file.independent"]; e.Status != report.StatusSkipped || !strings.Contains(e.Message, "stopped after command.fail failed") {
		t.Errorf("file.independent event = %+v", e)
	}
	if fileExists(filepath.Join(f.root, "independent")) || fileExists(filepath.Join(f.root, "handler")) {
		t.Errorf("tasks ran after the failure")
	}
}

func TestApplyOutputsForEachWhen(t *testing.T) {
	f := loadFixture(t, "testdata/apply_outputs")
	out, res := f.apply()
	h := res.Recap.Hosts[0]
	if !res.Recap.OK() || h.Tasks.Changed != 5 || h.Tasks.Skipped != 1 {
		t.Fatalf("recap = %+v\n%s", h, out)
	}
	for name, want := range map[string]string{"etc/version": "version 1.2.3\n", "etc/a": "alpha\n", "etc/b": "beta\n"} {
		got, err := os.ReadFile(filepath.Join(f.root, name))
		if err != nil || string(got) != want {
			t.Errorf("%s = %q, %v; want %q", name, got, err, want)
		}
	}
	if fileExists(filepath.Join(f.root, "restarts")) {
		t.Errorf("a task whose when is false ran")
	}
	// The command runs every time; everything else is in place.
	out, res = f.apply()
	h = res.Recap.Hosts[0]
	if h.Tasks.Changed != 1 || h.Tasks.OK != 4 {
		t.Errorf("second apply: %+v\n%s", h, out)
	}
}

func TestApplyRereadsStaleState(t *testing.T) {
	f := loadFixture(t, "testdata/apply_stale")
	out, res := f.apply()
	if !res.Recap.OK() {
		t.Fatalf("apply failed:\n%s", out)
	}
	p := filepath.Join(f.root, "shared")
	b, _ := os.ReadFile(p)
	st, _ := os.Stat(p)
	if string(b) != "a\n" || st.Mode().Perm() != 0o600 {
		t.Errorf("shared = %q mode %o; want \"a\\n\" 0600\n%s", b, st.Mode().Perm(), out)
	}
	out, res = f.apply()
	if h := res.Recap.Hosts[0]; h.Tasks.Changed != 0 {
		t.Errorf("second apply changed: %+v\n%s", h, out)
	}
}

// TestApplyStop: after Stop, no new task starts; the running one finishes.
func TestApplyStop(t *testing.T) {
	f := loadFixture(t, "testdata/apply_stop")
	var ev events
	opts := f.options(&ev)
	stop := make(chan struct{})
	opts.Stop = stop
	go func() {
		time.Sleep(300 * time.Millisecond) // inside the sleep
		close(stop)
	}()
	res, err := Apply(context.Background(), opts)
	if err != nil {
		t.Fatal(err)
	}
	if !res.Recap.Interrupted {
		t.Errorf("recap not interrupted")
	}
	h := res.Recap.Hosts[0]
	if h.Status != report.StatusCancelled || h.Tasks.Changed != 1 || h.Tasks.Skipped != 1 || !strings.Contains(h.Message, "stopped before file.later") {
		t.Errorf("recap = %+v", h)
	}
	if !fileExists(filepath.Join(f.root, "slow")) {
		t.Errorf("the running task was cut instead of finishing")
	}
	if fileExists(filepath.Join(f.root, "later")) {
		t.Errorf("a task started after the stop")
	}
}

// TestMaskedEverywhere: a sensitive value never appears in plan or apply
// output (text or JSON), even when a command prints it or it holds
// characters the encodings change (& < > " ' and unicode): variables
// declared sensitive, values from an age-encrypted -var-file, and an
// inventory variable from an Ansible Vault (which the inventory marks
// sensitive).
func TestMaskedEverywhere(t *testing.T) {
	dir := t.TempDir()
	os.WriteFile(filepath.Join(dir, "site.hcl"), []byte(`
variable "root" { type = string }
variable "pw" {
  type      = string
  default   = "hunter2-Secret"
  sensitive = true
}
variable "pw2" {
  type      = string
  default   = "hun&<>\"'ü-Tr9x"
  sensitive = true
}
variable "token" {
  type    = string
  default = "not-the-token"
}
variable "db" { type = object({ user = string, pass = string }) }
play "local" {
  hosts = "all"
  file "pw" {
    path    = "${var.root}/pw"
    content = "password=${var.pw} token=${var.token} db=${var.db.pass} vault=${host.vars.vault_pw}\n"
  }
  command "echo" {
    run = ["sh", "-c", "echo the secrets are $0 $1 $2 $3 $4; exit 1", var.pw, var.pw2, var.token, var.db.pass, host.vars.vault_pw]
  }
}
`), 0o644)
	id, _ := age.GenerateX25519Identity()
	enc, err := secrets.EncryptAge([]byte("token = \"age-Tok-77\"\ndb = { user = \"app\", pass = \"age-Db-88\" }\n"), id.Recipient())
	if err != nil {
		t.Fatal(err)
	}
	os.WriteFile(filepath.Join(dir, "secrets.hcl.age"), enc, 0o600)
	f := loadFixture(t, dir)
	f.varFiles = []string{filepath.Join(dir, "secrets.hcl.age")}
	f.keys = &secrets.Keys{IdentityEnv: id.String()}
	f.hosts[0].Vars["vault_pw"] = lang.Sensitive(cty.StringVal("vault-Pw-99"))
	planOut, _ := f.plan()
	applyOut, _ := f.apply()
	var js bytes.Buffer
	if _, err := Apply(context.Background(), f.options(report.NewJSON(&js, f.masker))); err != nil {
		t.Fatal(err)
	}
	for name, out := range map[string]string{"plan": planOut, "apply": applyOut, "apply --json": js.String()} {
		for _, secret := range []string{"hunter2-Secret", "Tr9x", "age-Tok-77", "age-Db-88", "vault-Pw-99"} {
			if strings.Contains(out, secret) {
				t.Errorf("%s output shows %s:\n%s", name, secret, out)
			}
		}
	}
	if !strings.Contains(applyOut, "exit status 1") {
		t.Errorf("apply output lacks the failure:\n%s", applyOut)
	}
	got, _ := os.ReadFile(filepath.Join(f.root, "pw"))
	if want := "password=hunter2-Secret token=age-Tok-77 db=age-Db-88 vault=vault-Pw-99\n"; string(got) != want {
		t.Errorf("file content %q, want %q", got, want)
	}
}

func TestApplyGathersFactsWhenReferenced(t *testing.T) {
	f := loadFixture(t, "testdata/apply_facts")
	out, res := f.apply()
	if !res.Recap.OK() {
		t.Fatalf("apply failed:\n%s", out)
	}
	uname, _ := exec.Command("uname", "-m", "-r").Output() // "kernel arch"
	parts := strings.Fields(string(uname))
	got, _ := os.ReadFile(filepath.Join(f.root, "facts"))
	if len(parts) != 2 || string(got) != parts[1]+" "+parts[0]+"\n" {
		t.Errorf("facts file = %q, uname = %q", got, uname)
	}
}

func TestApplyFailFast(t *testing.T) {
	for _, failFast := range []bool{false, true} {
		f := loadFixture(t, "testdata/apply_failfast", "a", "b")
		opts := f.options(nil)
		opts.FailFast = failFast
		res, err := Apply(context.Background(), opts)
		if err != nil {
			t.Fatal(err)
		}
		a, b := res.Recap.Hosts[0], res.Recap.Hosts[1]
		if a.Status != report.StatusFailed {
			t.Errorf("fail-fast=%v: a = %+v", failFast, a)
		}
		ran := fileExists(filepath.Join(f.root, "after-b"))
		if failFast && (ran || b.Status == report.StatusChanged && b.Tasks.Skipped == 0) {
			t.Errorf("fail-fast: host b went on after a failed: %+v", b)
		}
		if !failFast && (!ran || b.Status != report.StatusChanged) {
			t.Errorf("without fail-fast host b should complete: %+v", b)
		}
	}
}

func TestHostGraphsInferredEdges(t *testing.T) {
	f := loadFixture(t, "testdata/plan/order_deferred")
	graphs, diags := HostGraphs(f.options(nil), f.hosts[0])
	if diags.HasErrors() || len(graphs) != 1 {
		t.Fatalf("graphs = %v, %s", graphs, f.diagText(diags))
	}
	g, pl := graphs[0].Graph, graphs[0].Play
	e, ok := g.Edge(pl.Task("directory", "etc"), pl.Task("file", "conf"))
	if !ok || len(e.Reasons) != 1 || e.Reasons[0] != "inferred: "+f.root+"/etc/app.conf is inside "+f.root+"/etc, managed by directory.etc" {
		t.Errorf("edge directory.etc -> file.conf: %v %+v", ok, e)
	}
	if _, ok := g.Edge(pl.Task("command", "version"), pl.Task("file", "version")); !ok {
		t.Errorf("no reference edge command.version -> file.version")
	}
}

// TestApplyRunsStepsWithoutChanges: a plan with Steps and no Changes
// (wait_for) runs, is reported ok, and notifies nothing.
func TestApplyRunsStepsWithoutChanges(t *testing.T) {
	f := loadFixture(t, "testdata/apply_steps")
	var ev events
	res, err := Apply(context.Background(), f.options(&ev))
	if err != nil {
		t.Fatal(err)
	}
	h := res.Recap.Hosts[0]
	if !res.Recap.OK() || h.Tasks.Changed != 1 || h.Tasks.OK != 1 {
		t.Fatalf("recap = %+v", h)
	}
	if e := ev.tasks()["wait_for.ready"]; e.Status != report.StatusOK {
		t.Errorf("wait_for.ready event = %+v", e)
	}
	got, _ := os.ReadFile(filepath.Join(f.root, "probes"))
	if string(got) != "probed\n" {
		t.Errorf("probes = %q; want the probe to have run once", got)
	}
	if fileExists(filepath.Join(f.root, "handler-ran")) {
		t.Errorf("a task without changes notified its handler")
	}
}

// TestApplyNeedsEarlierTask: a line task on a file an earlier task creates
// is planned as known after apply, and apply edits the file once it exists.
func TestApplyNeedsEarlierTask(t *testing.T) {
	dir := t.TempDir()
	os.WriteFile(filepath.Join(dir, "site.hcl"), []byte(`
variable "root" { type = string }
play "local" {
  hosts = "all"
  file "conf" {
    path    = "${var.root}/app.conf"
    content = "port=8080\n"
  }
  line "debug" {
    path = "${var.root}/app.conf"
    line = "debug=true"
  }
}
`), 0o644)
	f := loadFixture(t, dir)
	planOut, pres := f.plan()
	if pres.Failed() || pres.Summary.Deferred != 1 {
		t.Fatalf("plan: %+v\n%s", pres.Summary, planOut)
	}
	out, res := f.apply()
	if !res.Recap.OK() || res.Recap.Hosts[0].Tasks.Changed != 2 {
		t.Fatalf("apply: %+v\n%s", res.Recap.Hosts[0], out)
	}
	got, _ := os.ReadFile(filepath.Join(f.root, "app.conf"))
	if string(got) != "port=8080\ndebug=true\n" {
		t.Errorf("app.conf = %q", got)
	}
}

// TestNeedsFactsFromSpec: a play gathers facts when a module's Spec says it
// needs them, or when it refers to host.facts; otherwise not.
func TestNeedsFactsFromSpec(t *testing.T) {
	for _, tc := range []struct {
		body string
		want bool
	}{
		{`file "a" {
    path    = "/tmp/a"
    content = "x"
  }`, false},
		{`package "curl" {
    names = ["curl"]
  }`, false}, // finds the package manager on the host itself
		{`service "nginx" {
    name = "nginx"
  }`, true},
		{`file "a" {
    path    = "/tmp/a"
    content = host.facts.os.family
  }`, true},
	} {
		dir := t.TempDir()
		os.WriteFile(filepath.Join(dir, "site.hcl"), []byte("play \"p\" {\n  hosts = \"all\"\n  "+tc.body+"\n}\n"), 0o644)
		f := loadFixture(t, dir)
		r := newRunner(Options{Playbook: f.pb}, nil)
		if got := r.needsFacts(f.pb.Plays[0]); got != tc.want {
			t.Errorf("needsFacts(%s) = %v; want %v", tc.body, got, tc.want)
		}
	}
}

// countingConns records the connections a run opens, for round trips.
type countingConns struct {
	mu    sync.Mutex
	conns []transport.Conn
}

func (c *countingConns) connect(ctx context.Context, h *inventory.Host, _ *Become) (transport.Conn, error) {
	conn, err := transport.Local{}.Connect(ctx, transport.Target{Name: h.Name, Local: true})
	if err == nil {
		c.mu.Lock()
		c.conns = append(c.conns, conn)
		c.mu.Unlock()
	}
	return conn, err
}

func (c *countingConns) trips() int64 {
	c.mu.Lock()
	defer c.mu.Unlock()
	var n int64
	for _, conn := range c.conns {
		n += conn.Stats().RoundTrips
	}
	c.conns = nil
	return n
}

// TestApplyBatchesChanges: consecutive changes go in one round trip; what
// follows a command is read again (once, together, in the same script)
// before it acts; the
// result is the same as task by task, and the second run only reads.
func TestApplyBatchesChanges(t *testing.T) {
	f := loadFixture(t, "testdata/apply_batch")
	var cc countingConns
	var ev events
	opts := f.options(&ev)
	opts.Connect = cc.connect
	res, err := Apply(context.Background(), opts)
	if err != nil {
		t.Fatal(err)
	}
	h := res.Recap.Hosts[0]
	if !res.Recap.OK() || h.Tasks.Changed != 8 {
		t.Fatalf("recap = %+v", h)
	}
	// Read; directory, files and the command, then the re-read of line and
	// file together at the end of the same script; line, file and the
	// handler (folded into the last batch).
	if trips := cc.trips(); trips != 3 {
		t.Errorf("first apply: %d round trips; want 3", trips)
	}
	for name, want := range map[string]string{"etc/a.conf": "key a\n", "etc/c.conf": "key c\n", "etc/stamp": "stamped\nchecked\n", "etc/last": "last\n", "reloaded": ""} {
		got, err := os.ReadFile(filepath.Join(f.root, name))
		if err != nil || string(got) != want {
			t.Errorf("%s = %q, %v; want %q", name, got, err, want)
		}
	}
	if st, _ := os.Stat(filepath.Join(f.root, "etc/b.conf")); st == nil || st.Mode().Perm() != 0o640 {
		t.Errorf("b.conf mode: %v", st)
	}
	order := []string{}
	for _, e := range ev.ev {
		if e.Kind == report.KindTask {
			order = append(order, e.Task+"="+string(e.Status))
		}
	}
	want := `directory.etc=changed file.conf["a"]=changed file.conf["b"]=changed file.conf["c"]=changed command.stamp=changed line.stamp=changed file.last=changed handler.reload=changed`
	if got := strings.Join(order, " "); got != want {
		t.Errorf("events:\n got %s\nwant %s", got, want)
	}
	res, _ = Apply(context.Background(), opts)
	if h := res.Recap.Hosts[0]; h.Tasks.Changed != 0 {
		t.Errorf("second apply changed: %+v", h)
	}
	if trips := cc.trips(); trips != 1 {
		t.Errorf("second apply: %d round trips; want 1", trips)
	}
}

// stopSink closes stop at the first task event.
type stopSink struct {
	events
	once sync.Once
	stop chan struct{}
}

func (s *stopSink) Emit(ev report.Event) {
	s.events.Emit(ev)
	if ev.Kind == report.KindTask {
		s.once.Do(func() {
			close(s.stop)
			// Apply sees Stop asynchronously: give it time before the
			// walk goes on.
			time.Sleep(100 * time.Millisecond)
		})
	}
}

// TestApplyStopReportsBatchedWork: instances that ran ahead in a batch (a
// batch is one unit: once started, it finishes) are reported as having run
// even when the run is stopped before the walk reaches them; nothing after
// the batch starts.
func TestApplyStopReportsBatchedWork(t *testing.T) {
	f := loadFixture(t, "testdata/apply_batch")
	sink := &stopSink{stop: make(chan struct{})}
	opts := f.options(sink)
	opts.Stop = sink.stop
	res, err := Apply(context.Background(), opts)
	if err != nil {
		t.Fatal(err)
	}
	h := res.Recap.Hosts[0]
	// The directory, the files and the command ran in one batch.
	if h.Tasks.Changed != 5 || h.Status != report.StatusCancelled || !strings.Contains(h.Message, "stopped before line.stamp") {
		t.Errorf("recap = %+v", h)
	}
	tasks := sink.tasks()
	for _, a := range []string{`file.conf["c"]`, "command.stamp"} {
		if e := tasks[a]; e.Status != report.StatusChanged {
			t.Errorf("%s = %+v", a, e)
		}
	}
	if e := tasks["line.stamp"]; e.Status != report.StatusSkipped {
		t.Errorf("line.stamp = %+v", e)
	}
	if got, _ := os.ReadFile(filepath.Join(f.root, "etc/stamp")); string(got) != "stamped\n" || !fileExists(filepath.Join(f.root, "etc/c.conf")) || fileExists(filepath.Join(f.root, "etc/last")) {
		t.Errorf("wrong work done: etc/stamp = %q", got)
	}
}

// TestApplyStopReportsBatchWhole: a stop while a batch runs lets it finish;
// every instance in it is reported as what it was (when = false included),
// and the host stops before the next task not begun.
func TestApplyStopReportsBatchWhole(t *testing.T) {
	dir := t.TempDir()
	os.WriteFile(filepath.Join(dir, "site.hcl"), []byte(`
variable "root" { type = string }
play "local" {
  hosts = "all"
  file "a" {
    path    = "${var.root}/a"
    content = "a\n"
  }
  file "b" {
    path    = "${var.root}/b"
    content = "b\n"
    when    = false
  }
  file "c" {
    path    = "${var.root}/c"
    content = "c\n"
  }
  # Its read is stale once file.c wrote the file: a batch ends before it.
  file "d" {
    path       = "${var.root}/c"
    mode       = "0600"
    depends_on = [file.c]
  }
}
`), 0o644)
	f := loadFixture(t, dir)
	sink := &stopSink{stop: make(chan struct{})}
	opts := f.options(sink)
	opts.Stop = sink.stop
	res, err := Apply(context.Background(), opts)
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	for _, e := range sink.ev {
		if e.Kind == report.KindTask {
			got = append(got, e.Task+"="+string(e.Status)+" "+e.Message)
		}
	}
	want := "file.a=changed |file.b=skipped when is false|file.c=changed |file.d=skipped not run: the run was stopped"
	if g := strings.Join(got, "|"); g != want {
		t.Errorf("events:\n got %s\nwant %s", g, want)
	}
	if h := res.Recap.Hosts[0]; h.Status != report.StatusCancelled || h.Message != "interrupted: stopped before file.d" {
		t.Errorf("recap = %+v", h)
	}
	if st, err := os.Stat(filepath.Join(f.root, "c")); err != nil || st.Mode().Perm() != 0o644 {
		t.Errorf("c: %v %v; want written by file.c alone", st, err)
	}
}

// TestApplyLocalHostsShareLock: three local hosts are one machine, one
// lock file; the run's first host holds it and the others share it
// (same run) instead of waiting for it, run_once follower included, and it
// is free after the run. Another run's lock is still waited for.
func TestApplyLocalHostsShareLock(t *testing.T) {
	runlock.TestDir = t.TempDir()
	t.Cleanup(func() { runlock.TestDir = "" })
	f := loadFixture(t, "testdata/apply_local_lock", "l1", "l2", "l3")
	holder := runlock.Holder{User: "me", Controller: "ctl", PID: 1, Start: time.Now()}
	for round := 1; round <= 2; round++ {
		var ev events
		opts := f.options(&ev)
		opts.Lock = &RunLock{Holder: holder, Wait: 20 * time.Second}
		res, err := Apply(context.Background(), opts)
		if err != nil {
			t.Fatal(err)
		}
		for _, h := range res.Recap.Hosts {
			if h.Status == report.StatusFailed || h.Status == report.StatusUnreachable {
				t.Errorf("apply %d: %s %s", round, h.Host, h.Status)
			}
			if round == 2 && h.Tasks.Changed != 0 {
				t.Errorf("apply %d: %s changed %d tasks", round, h.Host, h.Tasks.Changed)
			}
		}
		for _, e := range ev.ev {
			if e.Kind == report.KindWarning && strings.Contains(e.Message, "waiting up to") {
				t.Errorf("apply %d: a host waited for its own run's lock: %s", round, e.Message)
			}
		}
	}
	// Free after the run: another run takes it at once.
	conn, err := transport.Local{}.Connect(context.Background(), transport.Target{Name: "l1", Local: true})
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	other := runlock.Holder{User: "other", Controller: "ctl", PID: 2, Start: time.Now(), Run: "x"}
	l, err := runlock.StartShared(context.Background(), conn, other, 0).Wait()
	if err != nil || l.Shared() {
		t.Fatalf("after the run: %v", err)
	}
	// Held by another run: the hosts wait for it (here, past the timeout).
	var ev events
	opts := f.options(&ev)
	opts.Lock = &RunLock{Holder: holder, Wait: time.Second}
	res, err := Apply(context.Background(), opts)
	l.Release()
	if err != nil {
		t.Fatal(err)
	}
	for _, h := range res.Recap.Hosts {
		if h.Status == report.StatusOK || h.Status == report.StatusChanged {
			t.Errorf("%s: %s while another run held the lock", h.Host, h.Status)
		}
	}
	waited := 0
	for _, e := range ev.ev {
		if e.Kind == report.KindWarning && strings.Contains(e.Message, "held by other@ctl") {
			waited++
		}
	}
	if waited != 3 {
		t.Errorf("%d hosts waited for the other run's lock, want 3", waited)
	}
}
