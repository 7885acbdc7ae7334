package integration_test

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/drover-cm/drover/integration"
)

// A handler written the natural way names the service and nothing else (no
// config_test): the test installed with the service must still guard its
// restart, or systemd stops the service and ExecStartPre refuses to start
// it again.

// guardEngine runs examples/services with its handler replaced by handler.
func guardEngine(t *testing.T, f *integration.Fleet, handler string, vars ...string) *engine {
	t.Helper()
	files := map[string]string{}
	for _, name := range []string{"site.hcl", "files/drover-demo-svc"} {
		b, err := os.ReadFile(filepath.Join("..", "examples", "services", filepath.FromSlash(name)))
		if err != nil {
			t.Fatal(err)
		}
		files[name] = string(b)
	}
	site := files["site.hcl"]
	i := strings.Index(site, "  handler \"reload\" {")
	if i < 0 {
		t.Fatal("examples/services/site.hcl has no handler \"reload\"")
	}
	files["site.hcl"] = site[:i] + "  handler \"reload\" {\n" + handler + "\n  }\n}\n"
	e := newEngine(t, f, files)
	e.vars = vars
	return e
}

// guardedRestart applies a broken and then a good greeting through e's
// handler: the broken one fails with the config test's output and leaves
// every instance on its pid; the good one restarts them (new pids).
func guardedRestart(t *testing.T, h *integration.Host, e *engine, pid func(string) string, instances []string, vars ...string) {
	t.Helper()
	before := map[string]string{}
	for _, in := range instances {
		before[in] = pid(in)
		if before[in] == "" || before[in] == "0" {
			t.Fatalf("%s does not run before the test (pid %q)", in, before[in])
		}
	}
	e.vars = append(vars, "greeting=two words")
	out := applyFails(t, e)
	for _, want := range []string{"greeting must be one word", "keeps running with its previous configuration"} {
		if !strings.Contains(out, want) {
			t.Errorf("the failed handler's output lacks %q:\n%s", want, out)
		}
	}
	for _, in := range instances {
		if got := pid(in); got != before[in] {
			t.Errorf("%s: pid %s after the refused restart, want it untouched (%s)", in, got, before[in])
		}
	}
	e.vars = append(vars, "greeting=fixed")
	applyOK(t, e)
	for _, in := range instances {
		p := pid(in)
		if p == before[in] || p == "" || p == "0" {
			t.Errorf("%s: pid %q after the good configuration, want a restarted instance (was %s)", in, p, before[in])
			continue
		}
		if st := waitState(t, h, in, p+" fixed"); st != p+" fixed" {
			t.Errorf("%s after the restart: %q, want %q", in, st, p+" fixed")
		}
	}
}

const nameOnlyHandler = `    init_service {
      name        = "drover-demo"
      instances   = var.instances
      init_system = var.init_system
      state       = "restarted"
    }`

func TestInitServiceHandlerNameOnlySystemd(t *testing.T) {
	f := integration.StartSystemd(t, 1)
	h := f.Hosts[0]
	mainPID := func(in string) string {
		return strings.TrimSpace(h.Exec(t, "systemctl show -p MainPID --value drover-demo@"+in+".service"))
	}
	e := guardEngine(t, f, nameOnlyHandler)
	applyOK(t, e)
	if got, _ := h.Run("/etc/systemd/system/drover-demo@alpha.service.configtest && echo ok"); got != "ok\n" {
		t.Errorf("the installed config test: %q", got)
	}
	guardedRestart(t, h, e, mainPID, []string{"alpha", "beta"})

	// A service task as the handler finds the same installed test.
	e = guardEngine(t, f, `    service {
      name  = "drover-demo@alpha"
      state = "restarted"
    }`, "greeting=fixed")
	applyOK(t, e)
	guardedRestart(t, h, e, mainPID, []string{"alpha"})

	// A test file someone else could have written is not run as root.
	helper := "/etc/systemd/system/drover-demo@alpha.service.configtest"
	h.Exec(t, "cp -p "+helper+" /root/helper.orig && echo 'touch /run/helper-ran' >>"+helper+" && chmod 0666 "+helper)
	t.Cleanup(func() { _, _ = h.Run("cp -p /root/helper.orig " + helper) })
	e.vars = []string{"greeting=after-chmod"}
	applyOK(t, e)
	if got := h.Exec(t, "test -e /run/helper-ran && echo ran || echo not-run"); got != "not-run\n" {
		t.Errorf("a group/world-writable config-test helper was run as root: %s", got)
	}
}

func TestInitServiceHandlerNameOnlySysV(t *testing.T) {
	f := integration.Start(t, 1)
	h := f.Hosts[0]
	t.Cleanup(func() {
		_, _ = h.Run("/etc/init.d/drover-demo-alpha stop; /etc/init.d/drover-demo-beta stop")
	})
	vars := []string{"init_system=sysv"}
	pid := func(in string) string {
		out, _ := h.Run("cat /run/drover-demo-" + in + ".pid")
		return strings.TrimSpace(out)
	}
	e := guardEngine(t, f, nameOnlyHandler, vars...)
	applyOK(t, e)
	guardedRestart(t, h, e, pid, []string{"alpha", "beta"}, vars...)
}
