package integration_test

import (
	"fmt"
	"strings"
	"testing"

	"github.com/drover-cm/drover/engine/shell"
	"github.com/drover-cm/drover/integration"
)

// batchPlaybook has five package tasks (present, latest, absent, the same
// name twice; no facts, so the shared read finds apt on the host) and three
// SysV services.
const batchPlaybook = `
play "batch" {
  hosts = "fleet"

  package "base" { names = ["coreutils", "bash"] }
  package "dpkg" { names = ["dpkg"] }
  package "sed" {
    names = ["sed"]
    state = "latest"
  }
  package "gone" {
    names = ["drover-no-such-package"]
    state = "absent"
  }
  package "again" { names = ["grep", "coreutils"] }

  service "one" {
    name        = "drover-batch-1"
    state       = "started"
    init_system = "sysv"
  }
  service "two" {
    name        = "drover-batch-2"
    state       = "stopped"
    init_system = "sysv"
  }
  service "three" {
    name        = "drover-batch-3"
    state       = "started"
    init_system = "sysv"
  }
}
`

// TestBatchedFactsOneQuery plans a host with five package tasks and three
// SysV services, with dpkg-query wrapped to count its runs and init scripts
// that count theirs: the plan runs dpkg-query once, and each init script's
// status action once; the plan is what the tasks' states say.
func TestBatchedFactsOneQuery(t *testing.T) {
	f := integration.Start(t, 1)
	h := f.Hosts[0]
	script := `#!/bin/sh
echo "$1" >>/run/drover-batch.log
case $1 in
start) touch /run/$(basename "$0").run ;;
stop) rm -f /run/$(basename "$0").run ;;
status) [ -e /run/$(basename "$0").run ] || exit 3 ;;
esac
`
	h.Exec(t, fmt.Sprintf(`set -e
mv /usr/bin/dpkg-query /usr/bin/dpkg-query.real
printf '#!/bin/sh\nprintf "%%%%s\\n" "$*" >>/run/drover-dpkg-query.log\nexec /usr/bin/dpkg-query.real "$@"\n' >/usr/bin/dpkg-query
chmod 755 /usr/bin/dpkg-query
for i in 1 2 3; do printf '%%s' %s >/etc/init.d/drover-batch-$i; chmod 755 /etc/init.d/drover-batch-$i; done
rm -f /run/drover-dpkg-query.log /run/drover-batch.log`, shell.Quote(script)))
	t.Cleanup(func() { _, _ = h.Run("mv /usr/bin/dpkg-query.real /usr/bin/dpkg-query") })

	out, res := newEngine(t, f, map[string]string{"site.hcl": batchPlaybook}).plan()
	if res.Summary.Failed > 0 {
		t.Fatalf("plan failed:\n%s", out)
	}
	if q := strings.Split(strings.TrimSpace(h.Exec(t, "cat /run/drover-dpkg-query.log")), "\n"); len(q) != 1 ||
		!strings.HasSuffix(q[0], " coreutils bash dpkg sed drover-no-such-package grep") {
		t.Errorf("dpkg-query runs: %q, want one for every package name", q)
	}
	if s := strings.Fields(h.Exec(t, "cat /run/drover-batch.log")); strings.Join(s, " ") != "status status status" {
		t.Errorf("init script runs: %q, want one status each", s)
	}
	for _, want := range []string{"service drover-batch-1", "service drover-batch-3", "state: not running → started"} {
		if !strings.Contains(out, want) {
			t.Errorf("plan lacks %q:\n%s", want, out)
		}
	}
	for _, never := range []string{"drover-batch-2", "package coreutils", "package bash", "package dpkg", "package grep", "drover-no-such-package"} {
		if strings.Contains(out, never) {
			t.Errorf("plan changes %s, which is as asked:\n%s", never, out)
		}
	}
}

// openrcBatchPlaybook drives three OpenRC services of one host, whose
// states the shared read gets.
const openrcBatchPlaybook = `
play "batch" {
  hosts = "fleet"
  service "a" {
    name    = "drover-batch-a"
    state   = "started"
    enabled = true
  }
  service "b" {
    name  = "drover-batch-b"
    state = "stopped"
  }
  service "c" {
    name    = "drover-batch-c"
    state   = "started"
    enabled = false
  }
}
`

// TestBatchedServicesOpenRC applies three service tasks twice on a host
// that booted OpenRC: the shared status read sees what the first apply did
// (the second changes nothing), and b, running before, is stopped.
func TestBatchedServicesOpenRC(t *testing.T) {
	f := integration.StartOpenRC(t, 1)
	h := f.Hosts[0]
	h.Exec(t, `set -e
for s in a b c; do
  printf '#!/sbin/openrc-run\ncommand=/bin/sleep\ncommand_args=86400\ncommand_background=yes\npidfile=/run/${RC_SVCNAME}.pid\n' >/etc/init.d/drover-batch-$s
  chmod 755 /etc/init.d/drover-batch-$s
done
rc-service drover-batch-b start >/dev/null 2>&1
rc-update add drover-batch-c default >/dev/null 2>&1`)
	t.Cleanup(func() {
		_, _ = h.Run("for s in a b c; do rc-service drover-batch-$s stop; done >/dev/null 2>&1")
	})
	if n := applyOK(t, newEngine(t, f, map[string]string{"site.hcl": openrcBatchPlaybook})); n != 3 {
		t.Errorf("the first apply changed %d tasks, want 3", n)
	}
	if n := applyOK(t, newEngine(t, f, map[string]string{"site.hcl": openrcBatchPlaybook})); n != 0 {
		t.Errorf("the second apply changed %d tasks", n)
	}
	got := h.Exec(t, `for s in a b c; do rc-service drover-batch-$s status >/dev/null 2>&1; echo "$s $? $(ls /etc/runlevels/default | grep -c "^drover-batch-$s$")"; done`)
	if got != "a 0 1\nb 3 0\nc 0 0\n" {
		t.Errorf("services (name, status, in default):\n%s", got)
	}
}
