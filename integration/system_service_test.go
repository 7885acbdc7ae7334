package integration_test

import (
	"context"
	"fmt"
	"strings"
	"testing"

	"github.com/zclconf/go-cty/cty"

	"github.com/drover-cm/drover/engine/facts"
	"github.com/drover-cm/drover/engine/remote"
	"github.com/drover-cm/drover/engine/transport"
	"github.com/drover-cm/drover/integration"
	"github.com/drover-cm/drover/modules"
	"github.com/drover-cm/drover/modules/contract"
	"github.com/drover-cm/drover/modules/moduletest"
)

// svcHost is a fleet host, a root connection to it, and its facts.
type svcHost struct {
	h     *integration.Host
	conn  transport.Conn
	facts *facts.Facts
}

func (s *svcHost) cfg(attrs map[string]cty.Value) contract.Config {
	return contract.Config{Values: cty.ObjectVal(attrs), Facts: s.facts, Host: s.h.Name}
}

func (s *svcHost) module(t *testing.T, name string) contract.Module {
	t.Helper()
	m, ok := modules.Lookup(name)
	if !ok {
		t.Fatalf("module %s is not registered", name)
	}
	return m
}

// converge applies the task twice: the first apply must change something,
// the second plan nothing.
func (s *svcHost) converge(t *testing.T, mod string, attrs map[string]cty.Value) *contract.Plan {
	t.Helper()
	plan, _ := moduletest.ApplyTwice(t, s.conn, s.module(t, mod), s.cfg(attrs))
	if !plan.Changed() {
		t.Fatalf("%s %v: the first plan changes nothing; the test expects a change", mod, attrs)
	}
	return plan
}

// unchanged plans the task and fails unless the plan is empty.
func (s *svcHost) unchanged(t *testing.T, mod string, attrs map[string]cty.Value) {
	t.Helper()
	plan := moduletest.MustPlan(t, s.conn, moduletest.Configure(t, s.module(t, mod), s.cfg(attrs)))
	if plan.Changed() {
		t.Fatalf("%s %v: plan is not empty:\n%s", mod, attrs, moduletest.Describe(plan))
	}
}

// action applies a task that must report a change every time (restarted,
// reloaded), twice.
func (s *svcHost) action(t *testing.T, attrs map[string]cty.Value, between func(run int)) {
	t.Helper()
	for run := 1; run <= 2; run++ {
		task := moduletest.Configure(t, s.module(t, "service"), s.cfg(attrs))
		plan := moduletest.MustPlan(t, s.conn, task)
		if !plan.Changed() || plan.Changes[0].Action != contract.Run {
			t.Fatalf("run %d of %v: plan %s, want a run change", run, attrs, moduletest.Describe(plan))
		}
		moduletest.Apply(t, s.conn, plan)
		between(run)
	}
}

// initScript is an LSB init script for a daemon that sleeps, managed with
// start-stop-daemon and a pid file, as Debian packages write them.
const initScript = `#!/bin/sh
### BEGIN INIT INFO
# Provides:          drover-demo
# Required-Start:    $remote_fs
# Required-Stop:     $remote_fs
# Default-Start:     2 3 4 5
# Default-Stop:      0 1 6
# Short-Description: drover test daemon
### END INIT INFO
PIDFILE=/run/drover-demo.pid
case "$1" in
start) start-stop-daemon --start --quiet --oknodo --background --make-pidfile --pidfile $PIDFILE --startas /usr/local/bin/drover-demo ;;
stop) start-stop-daemon --stop --quiet --oknodo --retry TERM/5/KILL/5 --pidfile $PIDFILE --remove-pidfile ;;
restart|force-reload) "$0" stop && "$0" start ;;
status) start-stop-daemon --status --pidfile $PIDFILE ;;
*) echo "Usage: $0 {start|stop|restart|force-reload|status}" >&2; exit 3 ;;
esac
`

func TestSystemServiceSysV(t *testing.T) {
	fleet := integration.Start(t, 1)
	h := fleet.Hosts[0]
	s := &svcHost{h: h, conn: osConn(t, fleet, h, "root")}
	s.facts = osGather(t, s.conn)

	h.Exec(t, `printf '#!/bin/sh\nexec sleep 86400\n' >/usr/local/bin/drover-demo && chmod 755 /usr/local/bin/drover-demo
cat >/etc/init.d/drover-demo <<'EOS'
`+initScript+`EOS
chmod 755 /etc/init.d/drover-demo`)
	t.Cleanup(func() { _, _ = h.Run("/etc/init.d/drover-demo stop") })

	running := func() bool {
		_, err := h.Run("start-stop-daemon --status --pidfile /run/drover-demo.pid")
		return err == nil
	}
	pid := func() string { return strings.TrimSpace(h.Exec(t, "cat /run/drover-demo.pid")) }
	startLinks := func() string {
		out, _ := h.Run("ls /etc/rc2.d /etc/rc3.d /etc/rc4.d /etc/rc5.d | grep '^S..drover-demo$'")
		return out
	}
	sv := func(kv ...any) map[string]cty.Value {
		m := map[string]cty.Value{"name": cty.StringVal("drover-demo"), "init_system": cty.StringVal("sysv")}
		for i := 0; i < len(kv); i += 2 {
			switch v := kv[i+1].(type) {
			case string:
				m[kv[i].(string)] = cty.StringVal(v)
			case bool:
				m[kv[i].(string)] = cty.BoolVal(v)
			}
		}
		return m
	}

	// The plain host runs no init, so facts say none and the task needs
	// init_system; without it Configure explains.
	if s.facts.InitSystem == "none" {
		_, err := s.module(t, "service").Configure(s.cfg(map[string]cty.Value{"name": cty.StringVal("drover-demo"), "state": cty.StringVal("started")}))
		if err == nil || !strings.Contains(err.Error(), "init_system") {
			t.Errorf("service without init_system on a host without init: %v", err)
		}
	}

	t.Run("started and enabled", func(t *testing.T) {
		s.converge(t, "service", sv("state", "started", "enabled", true))
		if !running() {
			t.Fatal("the daemon does not run after state = started")
		}
		if links := startLinks(); strings.Count(links, "drover-demo") != 4 {
			t.Errorf("start links in rc2.d..rc5.d: %q, want 4", links)
		}
	})
	t.Run("status", func(t *testing.T) {
		s.unchanged(t, "service", sv("state", "started", "enabled", true))
		s.unchanged(t, "service", sv("state", "started"))
		s.unchanged(t, "service", sv("enabled", true))
	})
	t.Run("restarted", func(t *testing.T) {
		before := pid()
		s.action(t, sv("state", "restarted"), func(run int) {
			if !running() {
				t.Fatalf("run %d: not running after restart", run)
			}
			now := pid()
			if now == before {
				t.Errorf("run %d: pid %s unchanged by restart", run, now)
			}
			before = now
		})
	})
	t.Run("stopped", func(t *testing.T) {
		s.converge(t, "service", sv("state", "stopped"))
		if running() {
			t.Fatal("the daemon still runs after state = stopped")
		}
		s.unchanged(t, "service", sv("state", "stopped"))
	})
	t.Run("disabled", func(t *testing.T) {
		s.converge(t, "service", sv("enabled", false))
		if links := startLinks(); links != "" {
			t.Errorf("start links left after enabled = false: %q", links)
		}
	})
	t.Run("links without update-rc.d", func(t *testing.T) {
		// Hosts without update-rc.d or chkconfig get rcN.d links directly.
		h.Exec(t, "mv /usr/sbin/update-rc.d /usr/sbin/update-rc.d.away")
		defer h.Exec(t, "mv /usr/sbin/update-rc.d.away /usr/sbin/update-rc.d")
		h.Exec(t, "rm -f /etc/rc?.d/[SK][0-9][0-9]drover-demo")
		s.converge(t, "service", sv("enabled", true))
		if links := startLinks(); strings.Count(links, "drover-demo") != 4 {
			t.Errorf("start links: %q, want 4", links)
		}
		s.converge(t, "service", sv("enabled", false))
		if links := startLinks(); links != "" {
			t.Errorf("start links left after enabled = false: %q", links)
		}
	})
	t.Run("failure carries stderr", func(t *testing.T) {
		task := moduletest.Configure(t, s.module(t, "service"), s.cfg(sv("name", "drover-missing", "state", "started")))
		plan := moduletest.MustPlan(t, s.conn, task)
		_, err := remote.Apply(context.Background(), s.conn, plan)
		if err == nil || !strings.Contains(err.Error(), "drover-missing") {
			t.Errorf("starting a missing init script: %v, want the shell's message naming it", err)
		}
		t.Logf("error as reported: %v", err)
	})
}

// applyOnce plans and applies once and returns the error of Diff or Apply.
func (s *svcHost) applyOnce(t *testing.T, mod string, attrs map[string]cty.Value) error {
	t.Helper()
	task := moduletest.Configure(t, s.module(t, mod), s.cfg(attrs))
	plan, err := moduletest.Plan(t, s.conn, task)
	if err != nil {
		return err
	}
	_, err = remote.Apply(context.Background(), s.conn, plan)
	return err
}

// TestSystemServiceSystemd drives a unit on a systemd-booted host with the
// init system the host's facts report.
func TestSystemServiceSystemd(t *testing.T) {
	fleet := integration.StartSystemd(t, 1)
	h := fleet.Hosts[0]
	s := &svcHost{h: h, conn: osConn(t, fleet, h, "root")}
	s.facts = osGather(t, s.conn)
	wantFactsOf(t, h, s.facts)
	if s.facts.InitSystem != "systemd" {
		t.Fatalf("facts say init system %q on a systemd-booted host", s.facts.InitSystem)
	}

	h.Exec(t, `cat >/etc/systemd/system/drover-demo.service <<'EOS'
[Unit]
Description=drover test service
[Service]
ExecStart=/bin/sh -c 'while :; do sleep 60; done'
ExecReload=/bin/true
[Install]
WantedBy=multi-user.target
EOS`)
	state := func() string {
		out, _ := h.Run("systemctl is-active drover-demo; systemctl is-enabled drover-demo")
		return strings.Join(strings.Fields(out), " ")
	}
	mainPID := func() string {
		return strings.TrimSpace(h.Exec(t, "systemctl show -p MainPID --value drover-demo"))
	}
	sv := func(attrs map[string]cty.Value) map[string]cty.Value {
		attrs["name"] = cty.StringVal("drover-demo")
		return attrs
	}

	t.Run("started and enabled", func(t *testing.T) {
		s.converge(t, "service", sv(map[string]cty.Value{"state": cty.StringVal("started"), "enabled": cty.True}))
		if got := state(); got != "active enabled" {
			t.Fatalf("after started+enabled: %q", got)
		}
	})
	t.Run("restarted", func(t *testing.T) {
		before := mainPID()
		s.action(t, sv(map[string]cty.Value{"state": cty.StringVal("restarted")}), func(run int) {
			now := mainPID()
			if now == before || now == "0" || state() != "active enabled" {
				t.Errorf("run %d: main pid %s (before %s), state %q", run, now, before, state())
			}
			before = now
		})
	})
	t.Run("reloaded", func(t *testing.T) {
		before := mainPID()
		s.action(t, sv(map[string]cty.Value{"state": cty.StringVal("reloaded")}), func(run int) {
			if now := mainPID(); now != before {
				t.Errorf("run %d: reload changed the main pid %s → %s", run, before, now)
			}
		})
	})
	t.Run("unit file changed on disk", func(t *testing.T) {
		h.Exec(t, `sed -i 's/^Description=.*/Description=drover test service, edited/' /etc/systemd/system/drover-demo.service`)
		plan := s.converge(t, "service", sv(map[string]cty.Value{"state": cty.StringVal("started")}))
		if len(plan.Changes) != 1 || len(plan.Changes[0].Attrs) != 1 || plan.Changes[0].Attrs[0].Name != "definition" {
			t.Errorf("plan %+v, want only a daemon-reload", plan.Changes)
		}
		if got := strings.TrimSpace(h.Exec(t, "systemctl show -p Description --value drover-demo")); got != "drover test service, edited" {
			t.Errorf("description after daemon-reload: %q", got)
		}
	})
	t.Run("stopped and disabled", func(t *testing.T) {
		s.converge(t, "service", sv(map[string]cty.Value{"state": cty.StringVal("stopped"), "enabled": cty.False}))
		if got := state(); got != "inactive disabled" {
			t.Fatalf("after stopped+disabled: %q", got)
		}
	})
	t.Run("one systemctl show for every unit", func(t *testing.T) {
		// Read together (one shared systemctl show), each task sees what it
		// sees read alone, whatever its unit's state; a unit name that
		// systemctl escapes stays one word.
		var tasks []contract.Task
		for _, a := range []map[string]cty.Value{
			{"name": cty.StringVal("drover-demo"), "state": cty.StringVal("started"), "enabled": cty.True},
			{"name": cty.StringVal("drover-missing"), "state": cty.StringVal("started")},
			{"name": cty.StringVal("ssh"), "state": cty.StringVal("started")},
			{"name": cty.StringVal("drover-demo"), "state": cty.StringVal("stopped")},
			{"name": cty.StringVal(`drover-x\x2dy@a'b$(touch${IFS}pwned);c.service`), "state": cty.StringVal("stopped")},
		} {
			tasks = append(tasks, moduletest.Configure(t, s.module(t, "service"), s.cfg(a)))
		}
		outs, err := remote.CheckAll(context.Background(), s.conn, tasks)
		if err != nil {
			t.Fatal(err)
		}
		for i, task := range tasks {
			batched, err1 := task.Diff(outs[i])
			alone, err2 := moduletest.Plan(t, s.conn, task)
			if fmt.Sprint(err1) != fmt.Sprint(err2) || moduletest.Describe(batched) != moduletest.Describe(alone) {
				t.Errorf("task %d: batched %s %v, alone %s %v", i, moduletest.Describe(batched), err1, moduletest.Describe(alone), err2)
			}
		}
		if out, _ := h.Run("ls -d /root/pwned /pwned /tmp/pwned 2>/dev/null"); strings.TrimSpace(out) != "" {
			t.Errorf("a unit name ran as a command: %s", out)
		}
		if p, _ := tasks[0].Diff(outs[0]); !p.Changed() {
			t.Error("drover-demo is stopped and disabled: the batched read says nothing changes")
		}
	})
	t.Run("missing unit fails with systemctl's message", func(t *testing.T) {
		err := s.applyOnce(t, "service", map[string]cty.Value{"name": cty.StringVal("drover-missing"), "state": cty.StringVal("started")})
		if err == nil || !strings.Contains(err.Error(), "drover-missing.service not found") {
			t.Errorf("starting a missing unit: %v, want systemctl's message", err)
		}
	})
}
