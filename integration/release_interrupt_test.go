package integration_test

import (
	"strings"
	"testing"

	"github.com/drover-cm/drover/integration"
)

// TestReleaseInterrupted: a deploy whose host dies during the switch action
// leaves current at the new, complete release, but not known healthy. The
// next plan says it runs the switch action and health check again (it used
// to plan nothing: "0 changes" with the service down), the apply does and
// brings the service up, and the run after that changes nothing.
func TestReleaseInterrupted(t *testing.T) {
	fleet := integration.Start(t, 1)
	h := fleet.Hosts[0]
	f := &releaseFixture{t: t, fleet: fleet, ports: map[string]int{h.Name: freePorts(t, 1)[0]}}
	h.Exec(t, "mkdir -p /usr/local/bin && cat >/usr/local/bin/app-restart <<'EOF'\n"+appRestart+"EOF\n")
	if out, rc := f.apply("all", "v1", "", ""); !rc.OK() || rc.Counts().Changed != 1 {
		t.Fatalf("v1:\n%s", out)
	}

	h.Exec(t, "touch /run/app-slow")
	killDuring(t, f, h, "/run/app-switching", "")
	h.Exec(t, "rm -f /run/app-slow /run/app-switching")
	v3 := f.current(h)
	if ver := h.Exec(t, "cat /srv/app/current/VERSION"); ver != "v3\n" {
		t.Fatalf("killed during the switch action: current %s holds %q, want the new release v3", v3, ver)
	}

	out, res := newEngine(t, fleet, f.playbook("all", "v3", "", "")).plan()
	if res.Summary.Run != 1 || !strings.Contains(out, "interrupted") || !strings.Contains(out, v3) {
		t.Fatalf("plan after the interrupted switch: want the switch action and health check of %s again\n%s", v3, out)
	}
	out, rc := f.apply("all", "v3", "", "")
	if !rc.OK() || rc.Counts().Changed != 1 {
		t.Fatalf("apply after the interrupted switch:\n%s", out)
	}
	if got := f.serving(h); got != "v3" || f.current(h) != v3 {
		t.Fatalf("after the re-check: serving %q, current %s; want v3 at %s", got, f.current(h), v3)
	}
	if out, rc := f.apply("all", "v3", "", ""); !rc.OK() || rc.Counts().Changed != 0 {
		t.Fatalf("the run after the re-check changed something:\n%s", out)
	}
	if log := h.Exec(t, "tail -n 1 /srv/app/.drover/deploys.log"); !strings.Contains(log, "\trecheck\tok") {
		t.Errorf("deploy record of the re-check: %q", log)
	}
}
