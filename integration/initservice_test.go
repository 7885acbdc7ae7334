package integration_test

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/drover-cm/drover/engine/report"
	"github.com/drover-cm/drover/integration"
)

// The init_service tests run examples/services (a two-instance service, a
// configuration file per instance, a reload handler) on real hosts: SysV
// scripts on a plain fleet host, systemd units on a systemd-booted one.

func servicesEngine(t *testing.T, f *integration.Fleet, vars ...string) *engine {
	t.Helper()
	files := map[string]string{}
	for _, name := range []string{"site.hcl", "files/drover-demo-svc"} {
		b, err := os.ReadFile(filepath.Join("..", "examples", "services", filepath.FromSlash(name)))
		if err != nil {
			t.Fatal(err)
		}
		files[name] = string(b)
	}
	e := newEngine(t, f, files)
	e.vars = vars
	return e
}

// applyOK applies and fails the test unless every host ends ok; it returns
// the number of changed tasks.
func applyOK(t *testing.T, e *engine) int {
	t.Helper()
	out, res := e.apply(context.Background(), nil)
	if !res.Recap.OK() || len(res.Diagnostics) > 0 {
		t.Fatalf("apply failed:\n%s", out)
	}
	n := 0
	for _, h := range res.Recap.Hosts {
		n += h.Tasks.Changed
	}
	return n
}

// applyFails applies and returns the output, failing the test if the apply
// succeeded.
func applyFails(t *testing.T, e *engine) string {
	t.Helper()
	out, res := e.apply(context.Background(), nil)
	if res.Recap.OK() {
		t.Fatalf("apply succeeded, want a failure:\n%s", out)
	}
	for _, h := range res.Recap.Hosts {
		if h.Status == report.StatusUnreachable {
			t.Fatalf("host unreachable:\n%s", out)
		}
	}
	return out
}

// waitState waits until an instance's state is want (a reload or start is
// asynchronous: the signal or start returns before the service has acted),
// and returns the last state read.
func waitState(t *testing.T, h *integration.Host, instance, want string) string {
	t.Helper()
	var st string
	for i := 0; i < 300; i++ {
		out, _ := h.Run("cat /var/lib/drover-demo/" + instance + ".state")
		if st = strings.TrimSpace(out); st == want {
			break
		}
		time.Sleep(50 * time.Millisecond)
	}
	return st
}

// state is what an instance wrote: "PID GREETING" (and "saved" lines).
func demoState(t *testing.T, h *integration.Host, instance string) string {
	t.Helper()
	return strings.TrimSpace(h.Exec(t, "cat /var/lib/drover-demo/"+instance+".state"))
}

func TestInitServiceSysV(t *testing.T) {
	f := integration.Start(t, 1)
	h := f.Hosts[0]
	t.Cleanup(func() {
		_, _ = h.Run("/etc/init.d/drover-demo-alpha stop; /etc/init.d/drover-demo-beta stop")
	})
	vars := []string{"init_system=sysv"}
	e := servicesEngine(t, f, vars...)
	if n := applyOK(t, e); n == 0 {
		t.Fatal("the first apply changed nothing")
	}
	if n := applyOK(t, e); n != 0 {
		t.Fatalf("the second apply changed %d tasks", n)
	}
	pids := map[string]string{}
	for _, in := range []string{"alpha", "beta"} {
		script := "/etc/init.d/drover-demo-" + in
		pidfile := strings.TrimSpace(h.Exec(t, "cat /run/drover-demo-"+in+".pid"))
		st := waitState(t, h, in, pidfile+" hello")
		pid, greeting, _ := strings.Cut(st, " ")
		if greeting != "hello" {
			t.Fatalf("%s state %q, want its pid and hello", in, st)
		}
		pids[in] = pid
		got := h.Exec(t, script+" status; cat /run/drover-demo-"+in+".pid; ps -o user= -p "+pid+"; ls /etc/rc2.d | grep -c 'drover-demo-"+in+"$'")
		want := "drover-demo-" + in + " is running (pid " + pid + ")\n" + pid + "\ndrover-demo\n1\n"
		if got != want {
			t.Errorf("%s: status, pid file, user, start link:\n%s\nwant:\n%s", in, got, want)
		}
	}

	// A good configuration change: the handler reloads (same pid, new
	// greeting).
	e.vars = append(vars, "greeting=hi")
	if n := applyOK(t, e); n == 0 {
		t.Fatal("changing the greeting changed nothing")
	}
	for _, in := range []string{"alpha", "beta"} {
		if st := waitState(t, h, in, pids[in]+" hi"); st != pids[in]+" hi" {
			t.Errorf("%s after the reload: %q, want %q", in, st, pids[in]+" hi")
		}
	}

	// A broken configuration through the handler: the apply fails with the
	// test's output and the instances keep running on the old one.
	e.vars = append(vars, "greeting=two words")
	out := applyFails(t, e)
	if !strings.Contains(out, "greeting must be one word") || !strings.Contains(out, "keeps running with its previous configuration") {
		t.Errorf("the failure does not show the config test's output:\n%s", out)
	}
	// The script's own restart refuses too, and the instance keeps running.
	_, err := h.Run("/etc/init.d/drover-demo-alpha restart")
	var xe *integration.ExecError
	if err == nil {
		t.Fatal("restart with a broken configuration succeeded")
	} else if !strings.Contains(err.Error(), "configuration test failed") && !(asExecError(err, &xe) && strings.Contains(xe.Stderr, "configuration test failed")) {
		t.Errorf("restart error does not name the config test: %v", err)
	}
	if _, err := h.Run("/etc/init.d/drover-demo-alpha reload"); err == nil {
		t.Error("reload with a broken configuration succeeded")
	}
	for _, in := range []string{"alpha", "beta"} {
		if st := demoState(t, h, in); st != pids[in]+" hi" {
			t.Errorf("%s after the refused reload and restart: %q, want it running on the old configuration", in, st)
		}
		h.Exec(t, "/etc/init.d/drover-demo-"+in+" status >/dev/null")
	}

	// Fixed again; then stop: before_stop runs, the pid file goes.
	e.vars = append(vars, "greeting=hi")
	applyOK(t, e)
	h.Exec(t, "/etc/init.d/drover-demo-alpha restart")
	newPid := strings.TrimSpace(h.Exec(t, "cat /run/drover-demo-alpha.pid"))
	if newPid == pids["alpha"] {
		t.Error("restart kept the pid")
	}
	if st := waitState(t, h, "alpha", newPid+" hi"); st != newPid+" hi" {
		t.Errorf("alpha after restart: %q, want %q", st, newPid+" hi")
	}
	for _, in := range []string{"alpha", "beta"} {
		h.Exec(t, "/etc/init.d/drover-demo-"+in+" stop")
		got := h.Exec(t, "tail -n 1 /var/lib/drover-demo/"+in+".state; test -e /run/drover-demo-"+in+".pid && echo pidfile || echo no-pidfile; /etc/init.d/drover-demo-"+in+" status || echo status=$?")
		if got != "saved\nno-pidfile\ndrover-demo-"+in+" is not running\nstatus=3\n" {
			t.Errorf("%s after stop:\n%s", in, got)
		}
	}
	if out := h.Exec(t, "pgrep -f '[d]rover-demo-svc' || true"); out != "" {
		t.Errorf("processes left after stop: %s", out)
	}

	// Without start-stop-daemon (hidden in this host's private overlay) the
	// script starts the program with su and stops it with kill.
	h.Exec(t, "mv /usr/sbin/start-stop-daemon /usr/sbin/start-stop-daemon.hidden")
	h.Exec(t, "/etc/init.d/drover-demo-alpha start")
	pid := strings.TrimSpace(h.Exec(t, "cat /run/drover-demo-alpha.pid"))
	var st string
	for i := 0; i < 100; i++ {
		out, _ := h.Run("pgrep -o -u drover-demo -f '[d]rover-demo-svc /etc/drover-demo/alpha.conf'")
		if st = strings.TrimSpace(out); st != "" {
			break
		}
		time.Sleep(50 * time.Millisecond)
	}
	if st == "" {
		t.Fatal("without start-stop-daemon: no drover-demo-svc process runs as drover-demo")
	}
	if got := waitState(t, h, "alpha", st+" hi"); got != st+" hi" {
		t.Errorf("without start-stop-daemon: state %q, want %q", got, st+" hi")
	}
	h.Exec(t, "/etc/init.d/drover-demo-alpha status >/dev/null")
	h.Exec(t, "/etc/init.d/drover-demo-alpha stop")
	for i := 0; i < 100; i++ {
		if out, _ := h.Run("pgrep -f '[d]rover-demo-svc'; kill -0 " + pid + " 2>/dev/null && echo pid"); out == "" {
			break
		}
		time.Sleep(50 * time.Millisecond)
	}
	if got := h.Exec(t, "pgrep -f '[d]rover-demo-svc' || true; test -e /run/drover-demo-alpha.pid && echo pidfile || true"); got != "" {
		t.Errorf("without start-stop-daemon, after stop: %q", got)
	}
}

func asExecError(err error, xe **integration.ExecError) bool {
	e, ok := err.(*integration.ExecError)
	if ok {
		*xe = e
	}
	return ok
}

func TestInitServiceSystemd(t *testing.T) {
	f := integration.StartSystemd(t, 1)
	h := f.Hosts[0]
	e := servicesEngine(t, f)
	if n := applyOK(t, e); n == 0 {
		t.Fatal("the first apply changed nothing")
	}
	if n := applyOK(t, e); n != 0 {
		t.Fatalf("the second apply changed %d tasks", n)
	}
	units := "drover-demo@alpha.service drover-demo@beta.service"
	if got := h.Exec(t, "systemctl is-active "+units+"; systemctl is-enabled "+units); got != "active\nactive\nenabled\nenabled\n" {
		t.Fatalf("units after apply:\n%s", got)
	}
	mainPID := func(unit string) string {
		return strings.TrimSpace(h.Exec(t, "systemctl show -p MainPID --value "+unit))
	}
	pid := mainPID("drover-demo@alpha.service")
	if st := waitState(t, h, "alpha", pid+" hello"); st != pid+" hello" {
		t.Fatalf("alpha state %q, want %q", st, pid+" hello")
	}
	got := h.Exec(t, "ps -o user= -p "+pid+"; systemctl show -p NoNewPrivileges -p PrivateTmp -p LimitNOFILE drover-demo@alpha.service")
	for _, want := range []string{"drover-demo\n", "LimitNOFILE=4096\n", "NoNewPrivileges=yes\n", "PrivateTmp=yes\n"} {
		if !strings.Contains(got, want) {
			t.Errorf("user and hardening of alpha lack %q:\n%s", want, got)
		}
	}

	// systemctl reload with a good configuration: same process, new value.
	h.Exec(t, "sed -i 's/^greeting=.*/greeting=hey/' /etc/drover-demo/alpha.conf && systemctl reload drover-demo@alpha.service")
	if st := waitState(t, h, "alpha", pid+" hey"); st != pid+" hey" {
		t.Errorf("after a good reload: %q, want %q", st, pid+" hey")
	}
	// With a broken one: the reload fails, the service keeps running.
	h.Exec(t, "sed -i 's/^greeting=.*/greeting=not valid/' /etc/drover-demo/alpha.conf")
	if _, err := h.Run("systemctl reload drover-demo@alpha.service"); err == nil {
		t.Error("systemctl reload with a broken configuration succeeded")
	}
	if got := h.Exec(t, "systemctl is-active drover-demo@alpha.service"); got != "active\n" || mainPID("drover-demo@alpha.service") != pid {
		t.Errorf("after a refused reload: %s pid %s, want active with pid %s", got, mainPID("drover-demo@alpha.service"), pid)
	}
	if st := demoState(t, h, "alpha"); st != pid+" hey" {
		t.Errorf("after a refused reload: %q", st)
	}

	// Through drover: the file task puts the configuration back and the
	// handler reloads; a broken greeting fails the handler, nothing stops.
	applyOK(t, e)
	if st := waitState(t, h, "alpha", pid+" hello"); st != pid+" hello" {
		t.Errorf("after drover's reload: %q, want %q", st, pid+" hello")
	}
	e.vars = []string{"greeting=two words"}
	out := applyFails(t, e)
	if !strings.Contains(out, "greeting must be one word") {
		t.Errorf("the failure does not show the config test's output:\n%s", out)
	}
	if got := h.Exec(t, "systemctl is-active "+units); got != "active\nactive\n" || mainPID("drover-demo@alpha.service") != pid {
		t.Errorf("after the refused handler: %s", got)
	}
	e.vars = nil
	applyOK(t, e)

	// A changed unit with a broken configuration: the restart is refused
	// before the unit is written, so nothing changes and the next run tries
	// again; with the configuration fixed, daemon-reload and a restart after
	// the config test (run as the service's user).
	e.vars = []string{"open_files=8192", "greeting=two words"}
	out = applyFails(t, e)
	if !strings.Contains(out, "drover-demo@alpha.service: the configuration test failed, so it was not restarted") {
		t.Errorf("the refused restart is not explained:\n%s", out)
	}
	if got := h.Exec(t, "systemctl is-active "+units+"; grep -c LimitNOFILE=4096 /etc/systemd/system/drover-demo@.service"); got != "active\nactive\n1\n" || mainPID("drover-demo@alpha.service") != pid {
		t.Errorf("after the refused restart (want both active, the old unit, alpha's pid %s): %s", pid, got)
	}
	e.vars = []string{"open_files=8192"}
	applyOK(t, e)
	if mainPID("drover-demo@alpha.service") == pid {
		t.Error("alpha was not restarted after its unit changed")
	}
	if got := h.Exec(t, "systemctl show -p LimitNOFILE --value drover-demo@alpha.service; systemctl show -p LimitNOFILE --value drover-demo@beta.service"); got != "8192\n8192\n" {
		t.Errorf("LimitNOFILE after the restart: %q", got)
	}
	if n := applyOK(t, e); n != 0 {
		t.Errorf("the apply after the restart changed %d tasks", n)
	}

	// Enabled units come back after a reboot.
	boot := h.Boot()
	_, _ = h.Run("systemctl reboot")
	deadline := time.Now().Add(60 * time.Second)
	for h.Boot() == boot {
		if time.Now().After(deadline) {
			t.Fatal("the host did not reboot within 60 s")
		}
		time.Sleep(50 * time.Millisecond)
	}
	h.WaitBooted(t)
	for i := 0; i < 50; i++ {
		if got, _ = h.Run("systemctl is-active " + units); got == "active\nactive\n" {
			break
		}
		time.Sleep(100 * time.Millisecond)
	}
	if got != "active\nactive\n" {
		t.Errorf("after the reboot: %q, want both instances active", got)
	}
	e2 := servicesEngine(t, f, "open_files=8192")
	if n := applyOK(t, e2); n != 0 {
		t.Errorf("an apply after the reboot changed %d tasks", n)
	}
}
