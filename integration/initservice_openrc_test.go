package integration_test

import (
	"strings"
	"testing"

	"github.com/drover-cm/drover/integration"
)

// TestInitServiceOpenRC runs examples/services on a host that booted
// sysvinit and OpenRC: the generated OpenRC script and its instance links
// start the instances, and a handler that only names the service refuses a
// broken configuration (same pids) and restarts on a good one.
func TestInitServiceOpenRC(t *testing.T) {
	f := integration.StartOpenRC(t, 1)
	h := f.Hosts[0]
	if got := strings.TrimSpace(h.Exec(t, "test -d /run/openrc && cat /run/openrc/softlevel")); got != "default" {
		t.Fatalf("not an OpenRC host: softlevel %q", got)
	}
	pid := func(in string) string {
		out, _ := h.Run("cat /run/drover-demo." + in + ".pid")
		return strings.TrimSpace(out)
	}
	e := guardEngine(t, f, nameOnlyHandler)
	if n := applyOK(t, e); n == 0 {
		t.Fatal("the first apply changed nothing")
	}
	if n := applyOK(t, e); n != 0 {
		t.Fatalf("the second apply changed %d tasks", n)
	}
	for _, in := range []string{"alpha", "beta"} {
		p := pid(in)
		if st := waitState(t, h, in, p+" hello"); st != p+" hello" {
			t.Fatalf("%s: state %q, want %q", in, st, p+" hello")
		}
		if got := h.Exec(t, "rc-service drover-demo."+in+" status >/dev/null && echo started; ps -o user= -p "+p+"; ls /etc/runlevels/default/ | grep -c '^drover-demo."+in+"$'"); got != "started\ndrover-demo\n1\n" {
			t.Errorf("%s: status, user, runlevel link:\n%s", in, got)
		}
	}
	guardedRestart(t, h, e, pid, []string{"alpha", "beta"})
	// reload signals the running process (dpkg's start-stop-daemon here).
	p := pid("alpha")
	h.Exec(t, "sed -i 's/^greeting=.*/greeting=reloaded/' /etc/drover-demo/alpha.conf && rc-service drover-demo.alpha reload")
	if st := waitState(t, h, "alpha", p+" reloaded"); st != p+" reloaded" {
		t.Errorf("alpha after rc-service reload: %q, want %q", st, p+" reloaded")
	}
	// The script's own restart refuses a broken configuration too.
	h.Exec(t, "sed -i 's/^greeting=.*/greeting=not valid/' /etc/drover-demo/alpha.conf")
	before := pid("alpha")
	if _, err := h.Run("rc-service drover-demo.alpha restart"); err == nil {
		t.Error("rc-service restart with a broken configuration succeeded")
	}
	if got := pid("alpha"); got != before {
		t.Errorf("alpha: pid %s after the refused rc-service restart, want %s", got, before)
	}
	h.Exec(t, "rc-service drover-demo.alpha status >/dev/null")
}
