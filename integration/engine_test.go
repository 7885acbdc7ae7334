package integration_test

import (
	"bytes"
	"context"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/hashicorp/hcl/v2"
	"github.com/hashicorp/hcl/v2/hclparse"

	"github.com/drover-cm/drover/engine/config"
	"github.com/drover-cm/drover/engine/connect"
	"github.com/drover-cm/drover/engine/report"
	drun "github.com/drover-cm/drover/engine/run"
	"github.com/drover-cm/drover/engine/transport"
	"github.com/drover-cm/drover/integration"
	"github.com/drover-cm/drover/internal/golden"
	"github.com/drover-cm/drover/inventory"
	"github.com/drover-cm/drover/modules"
)

// engine runs playbooks against a fleet the way the CLI does: the fleet's
// inventory, one pooled SSH connection per host, known_hosts checked.
type engine struct {
	t      testing.TB
	fleet  *integration.Fleet
	inv    *inventory.Inventory
	parser *hclparse.Parser
	pb     *config.Playbook
	dir    string
	masker *report.Masker
	vars   []string
	forks  int
	stop   chan struct{}
	lock   *drun.RunLock
	// pools live as long as the engine: one connection per host per run is
	// checked by counting dials.
	dialer *transport.Dialer
	pool   *connect.Pool
}

func newEngine(t testing.TB, f *integration.Fleet, files map[string]string) *engine {
	t.Helper()
	return newEngineAs(t, f, "root", files)
}

func newEngineAs(t testing.TB, f *integration.Fleet, user string, files map[string]string) *engine {
	t.Helper()
	e := &engine{t: t, fleet: f, dir: t.TempDir(), masker: report.NewMasker()}
	for name, content := range files {
		p := filepath.Join(e.dir, name)
		os.MkdirAll(filepath.Dir(p), 0o755)
		if err := os.WriteFile(p, []byte(content), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	e.parser = hclparse.NewParser()
	inv, diags := inventory.Load([]string{f.InventoryFileAs(user)}, inventory.LoadOptions{Parser: e.parser})
	if diags.HasErrors() {
		t.Fatalf("inventory: %s", diags)
	}
	e.inv = inv
	pb, diags := config.LoadFiles(e.parser, modules.Catalog(), filepath.Join(e.dir, "site.hcl"))
	if diags.HasErrors() {
		t.Fatalf("playbook: %s", e.diagText(diags))
	}
	e.pb = pb
	return e
}

func (e *engine) diagText(diags hcl.Diagnostics) string {
	var b bytes.Buffer
	config.WriteDiagnostics(&b, e.parser.Files(), diags, 0, false)
	return b.String()
}

func (e *engine) options(sink report.Sink) drun.Options {
	in, diags := drun.ParseInputs(e.parser, e.pb, nil, nil, e.vars)
	if diags.HasErrors() {
		e.t.Fatalf("inputs: %s", e.diagText(diags))
	}
	e.dialer = transport.NewDialer(transport.Options{KnownHostsFile: e.fleet.KnownHostsFile, NoAgent: true, ConnectTimeout: 10 * time.Second})
	e.pool = connect.NewPool(e.dialer)
	return drun.Options{
		Playbook: e.pb,
		Inputs:   in,
		Hosts:    func(p string) ([]*inventory.Host, error) { return e.inv.Select(p) },
		Fleet:    e.inv.Hosts,
		Connect: func(ctx context.Context, h *inventory.Host, b *drun.Become) (transport.Conn, error) {
			t, err := connect.Target(e.inv, h, nil)
			if err != nil {
				return nil, err
			}
			if b != nil && b.Enabled {
				// As the CLI does: a connection per become setting.
				t.Become = transport.BecomeConfig{Enabled: true, User: b.User}
				if t.Become.User == "" {
					t.Become.User = "root"
				}
				t.Name += "+become:" + t.Become.User
			}
			return e.pool.Conn(ctx, t)
		},
		Forks:  e.forks,
		Sink:   sink,
		Masker: e.masker,
		Stop:   e.stop,
		Lock:   e.lock,
	}
}

func (e *engine) close() {
	e.pool.Close()
	e.dialer.Close()
}

func (e *engine) plan() (string, *drun.PlanResult) {
	e.t.Helper()
	var out bytes.Buffer
	term := report.NewTerminal(&out, &out, report.TerminalOptions{Masker: e.masker})
	res, err := drun.Plan(context.Background(), e.options(term))
	e.close()
	term.Close()
	if err != nil {
		e.t.Fatal(err)
	}
	if len(res.Diagnostics) > 0 {
		out.WriteString(e.masker.String(e.diagText(res.Diagnostics)))
	}
	out.WriteString("\n" + res.Summary.Line() + "\n")
	return out.String(), res
}

func (e *engine) apply(ctx context.Context, extra report.Sink) (string, *drun.ApplyResult) {
	e.t.Helper()
	var out syncBuffer
	var sink report.Sink = report.NewTerminal(&out, &out, report.TerminalOptions{Masker: e.masker})
	if extra != nil {
		sink = report.Multi(sink, extra)
	}
	res, err := drun.Apply(ctx, e.options(sink))
	e.close()
	sink.Close()
	if err != nil {
		e.t.Fatal(err)
	}
	if len(res.Diagnostics) > 0 {
		out.WriteString(e.masker.String(e.diagText(res.Diagnostics)))
	}
	return out.String(), res
}

type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}
func (s *syncBuffer) WriteString(str string) { s.Write([]byte(str)) }
func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

type eventLog struct {
	mu sync.Mutex
	ev []report.Event
	on func(report.Event)
}

func (l *eventLog) Emit(e report.Event) {
	l.mu.Lock()
	l.ev = append(l.ev, e)
	on := l.on
	l.mu.Unlock()
	if on != nil {
		on(e)
	}
}
func (l *eventLog) Close() error { return nil }

func (l *eventLog) task(host, addr string) (report.Event, bool) {
	l.mu.Lock()
	defer l.mu.Unlock()
	for _, e := range l.ev {
		if e.Kind == report.KindTask && e.Host == host && e.Task == addr {
			return e, true
		}
	}
	return report.Event{}, false
}

func recapOf(t testing.TB, rc *report.Recap, host string) report.HostRecap {
	t.Helper()
	for _, h := range rc.Hosts {
		if h.Host == host {
			return h
		}
	}
	t.Fatalf("no recap row for %s", host)
	return report.HostRecap{}
}

const webPlaybook = `
variable "app_port" {
  type    = number
  default = 8080
}
variable "db_password" {
  type      = string
  default   = "pw-Zq81-secret"
  sensitive = true
}
locals { root = "/srv/app" }

play "web" {
  hosts = "fleet"

  directory "app" {
    path = local.root
    mode = "0755"
  }
  directory "conf" {
    path = "${directory.app.path}/conf"
  }
  template "site" {
    source = "templates/site.conf.tftpl"
    path   = "${directory.conf.path}/site.conf"
    vars   = { port = var.app_port, host = host.name }
    notify = [handler.reload]
  }
  file "db" {
    path    = "${directory.conf.path}/db.env"
    content = "DB_PASSWORD=${var.db_password}\n"
    mode    = "0600"
  }
  file "release" {
    path    = "${local.root}/RELEASE"
    content = "1.0\n"
  }
  command "migrate" {
    run     = ["sh", "-c", "echo migrated > /srv/app/.migrated"]
    creates = "/srv/app/.migrated"
  }
  handler "reload" {
    shell { run = "grep -q 'listen ' /srv/app/conf/site.conf && date +%s%N >> /srv/app/reloads" }
  }
}
`

const siteTemplate = "server {\n  listen ${port};\n  server_name ${host};\n}\n"

// TestEngineFleetApply: a playbook on 5 hosts, where one host fails a task
// (a directory sits where a file must go) while the others complete; then a
// second apply changes nothing on the healthy hosts.
func TestEngineFleetApply(t *testing.T) {
	f := integration.Start(t, 5)
	bad := f.Hosts[2]
	bad.Exec(t, "mkdir -p /srv/app/RELEASE")

	e := newEngine(t, f, map[string]string{"site.hcl": webPlaybook, "templates/site.conf.tftpl": siteTemplate})
	var log eventLog
	out, res := e.apply(context.Background(), &log)
	t.Log(out)
	if strings.Contains(out, "pw-Zq81-secret") {
		t.Errorf("the sensitive value appears in the output")
	}
	for _, h := range f.Hosts {
		row := recapOf(t, res.Recap, h.Name)
		if h == bad {
			if row.Status != report.StatusFailed || row.Tasks.Failed != 1 {
				t.Errorf("%s: recap %+v, want failed", h.Name, row)
			}
			if ev, _ := log.task(h.Name, "file.release"); ev.Status != report.StatusFailed {
				t.Errorf("%s: file.release = %+v, want failed", h.Name, ev)
			}
			continue
		}
		if row.Status != report.StatusChanged || row.Tasks.Failed != 0 || row.Tasks.Changed != 7 {
			t.Errorf("%s: recap %+v, want 7 changed (6 tasks and the handler)", h.Name, row)
		}
		got := h.Exec(t, "cat /srv/app/conf/site.conf; stat -c %a /srv/app/conf/db.env; cat /srv/app/conf/db.env /srv/app/RELEASE /srv/app/.migrated; wc -l < /srv/app/reloads")
		want := "server {\n  listen 8080;\n  server_name " + h.Name + ";\n}\n600\nDB_PASSWORD=pw-Zq81-secret\n1.0\nmigrated\n1\n"
		if got != want {
			t.Errorf("%s: state:\n%s\nwant:\n%s", h.Name, got, want)
		}
	}
	// Every host was dialled once, for the whole run.
	for _, h := range f.Hosts {
		if d, ok := e.pool.Dial(h.Name); !ok || d.Err != nil {
			t.Errorf("%s: dial %+v", h.Name, d)
		}
	}

	// Second run: nothing changes on the healthy hosts, the handler does not run.
	e2 := newEngine(t, f, map[string]string{"site.hcl": webPlaybook, "templates/site.conf.tftpl": siteTemplate})
	out, res = e2.apply(context.Background(), nil)
	for _, h := range f.Hosts {
		if h == bad {
			continue
		}
		row := recapOf(t, res.Recap, h.Name)
		if row.Status != report.StatusOK || row.Tasks.Changed != 0 || row.Tasks.OK != 6 {
			t.Errorf("second apply on %s: %+v\n%s", h.Name, row, out)
		}
		if n := strings.TrimSpace(h.Exec(t, "wc -l < /srv/app/reloads")); n != "1" {
			t.Errorf("%s: the handler ran again (%s reloads)", h.Name, n)
		}
	}
	// A plan now shows no changes on healthy hosts and the failure on the bad one.
	_, pres := newEngine(t, f, map[string]string{"site.hcl": webPlaybook, "templates/site.conf.tftpl": siteTemplate}).plan()
	for _, hp := range pres.Hosts {
		if hp.Host == bad.Name {
			continue
		}
		for _, tp := range hp.Plan.Tasks {
			if len(tp.Changes) > 0 || tp.Error != "" {
				t.Errorf("%s: %s still has changes after apply: %+v", hp.Host, tp.Task, tp)
			}
		}
	}
}

// TestEngineHostKilled: a host dies while its tasks run. It is reported
// unreachable with the tasks that had run; the other hosts complete.
func TestEngineHostKilled(t *testing.T) {
	f := integration.Start(t, 3)
	victim := f.Hosts[1]
	e := newEngine(t, f, map[string]string{"site.hcl": `
play "slow" {
  hosts = "fleet"
  file "before" {
    path    = "/tmp/before"
    content = "x\n"
  }
  shell "wait" {
    run = "sleep 5; echo done > /tmp/waited"
  }
  file "after" {
    path    = "/tmp/after"
    content = "y\n"
  }
}
`})
	log := &eventLog{}
	// Kill it once the shell task is running on it (file.before ran in the
	// same round trip, before it).
	go func() {
		for i := 0; i < 3000; i++ {
			if _, err := victim.Run("pgrep -x sleep"); err == nil {
				break
			}
			time.Sleep(20 * time.Millisecond)
		}
		victim.Kill()
	}()
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	out, res := e.apply(ctx, log)
	t.Log(out)
	row := recapOf(t, res.Recap, victim.Name)
	if row.Status != report.StatusUnreachable {
		t.Errorf("victim: %+v, want unreachable", row)
	}
	if !strings.Contains(row.Message, "file.before") {
		t.Errorf("victim's message should say which tasks ran: %q", row.Message)
	}
	if ev, _ := log.task(victim.Name, "file.after"); ev.Status != report.StatusSkipped {
		t.Errorf("victim: file.after = %+v, want skipped", ev)
	}
	for _, h := range f.Hosts {
		if h == victim {
			continue
		}
		if r := recapOf(t, res.Recap, h.Name); r.Status != report.StatusChanged || r.Tasks.Changed != 3 {
			t.Errorf("%s: %+v, want 3 changed", h.Name, r)
		}
	}
}

// TestEngineHostileContent: contents and paths that a shell would
// interpret arrive byte for byte.
func TestEngineHostileContent(t *testing.T) {
	f := integration.Start(t, 1)
	h := f.Hosts[0]
	content := "$(touch /tmp/pwned) `touch /tmp/pwned2` ${HOME} 'q' \"dq\" \\ \n; rm -rf / #\n\tüñí €\r\n--\n"
	e := newEngine(t, f, map[string]string{"site.hcl": `
variable "content" { type = string }
play "hostile" {
  hosts = "fleet"
  directory "d" {
    path = "/tmp/a dir; $(touch /tmp/pwned3)"
  }
  file "f" {
    path    = "${directory.d.path}/it's a \"file\" $x"
    content = var.content
  }
  command "args" {
    run = ["sh", "-c", "printf '%s' \"$1\" > /tmp/arg-out", "sh", "$(touch /tmp/pwned4); 'x'"]
  }
}
`})
	e.vars = []string{"content=" + content}
	out, res := e.apply(context.Background(), nil)
	if !res.Recap.OK() {
		t.Fatalf("apply failed:\n%s", out)
	}
	got := h.Exec(t, `cat "/tmp/a dir; \$(touch /tmp/pwned3)/it's a \"file\" \$x"`)
	if got != content {
		t.Errorf("content = %q, want %q", got, content)
	}
	if arg := h.Exec(t, "cat /tmp/arg-out"); arg != "$(touch /tmp/pwned4); 'x'" {
		t.Errorf("argument = %q", arg)
	}
	if pwned := h.Exec(t, "ls /tmp | grep pwned || true"); pwned != "" {
		t.Errorf("a value was executed by a shell: %s", pwned)
	}
	e2 := newEngine(t, f, map[string]string{"site.hcl": string(mustRead(t, filepath.Join(e.dir, "site.hcl")))})
	e2.vars = e.vars
	_, res = e2.apply(context.Background(), nil)
	if r := res.Recap.Hosts[0]; r.Tasks.Changed != 1 { // the command runs every time
		t.Errorf("second apply: %+v", r)
	}
}

func mustRead(t testing.TB, p string) []byte {
	b, err := os.ReadFile(p)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// TestEnginePlanGolden plans testdata/plan/<case>/site.hcl on a 2-host
// fleet after running its setup.sh on each host, and compares with
// plan.txt (-update rewrites it).
func TestEnginePlanGolden(t *testing.T) {
	dirs, _ := filepath.Glob("testdata/plan/*")
	if len(dirs) == 0 {
		t.Fatal("no golden cases")
	}
	f := integration.Start(t, 2)
	for _, dir := range dirs {
		t.Run(filepath.Base(dir), func(t *testing.T) {
			files := map[string]string{}
			filepath.Walk(dir, func(p string, info os.FileInfo, err error) error {
				if err == nil && !info.IsDir() {
					rel, _ := filepath.Rel(dir, p)
					files[rel] = string(mustRead(t, p))
				}
				return nil
			})
			if setup, ok := files["setup.sh"]; ok {
				for _, h := range f.Hosts {
					h.Exec(t, setup)
				}
			}
			e := newEngine(t, f, files)
			got, _ := e.plan()
			golden.Check(t, filepath.Join(dir, "plan.txt"), got)
			// A plan changes nothing.
			if again, _ := newEngine(t, f, files).plan(); again != got {
				t.Errorf("a second plan differs: the first one changed something")
			}
		})
	}
}

// TestEngineTaskBecome: a play logs in as an unprivileged user; one task
// becomes root (its own connection), the others stay the login user.
func TestEngineTaskBecome(t *testing.T) {
	f := integration.Start(t, 1)
	h := f.Hosts[0]
	e := newEngineAs(t, f, integration.DeployUser, map[string]string{"site.hcl": `
play "mixed" {
  hosts = "fleet"
  file "mine" {
    path    = "/tmp/deploy-owned"
    content = "mine\n"
  }
  file "roots" {
    path    = "/root/root-owned"
    content = "root\n"
    become  = true
  }
}
`})
	out, res := e.apply(context.Background(), nil)
	if !res.Recap.OK() {
		t.Fatalf("apply failed:\n%s", out)
	}
	got := h.Exec(t, "stat -c %U /tmp/deploy-owned /root/root-owned")
	if got != integration.DeployUser+"\nroot\n" {
		t.Errorf("owners = %q", got)
	}
}
