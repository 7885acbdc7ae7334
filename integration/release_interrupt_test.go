package integration_test

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/drover-cm/drover/integration"
	"github.com/drover-cm/drover/modules"
)

// appHealth is the cancel test's health check: with /run/app-hc-slow present
// it marks that it runs and hangs, else it asks the service for /health.
const appHealth = `#!/bin/sh
if [ -f /run/app-hc-slow ]; then touch /run/app-hc-running; sleep 30; fi
python3 -c 'import sys, urllib.request; urllib.request.urlopen(sys.argv[1], timeout=5)' "http://127.0.0.1:$1/health"
`

// TestReleaseInterrupted: a deploy whose host dies during the switch action,
// or whose run is cancelled during the health check, leaves current at the
// new, complete release, but not known healthy. The next plan says it runs
// the switch action and health check again (it used to plan nothing: "0
// changes" with the service down), the apply does and brings the service up,
// and the run after that changes nothing.
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

	if rs, err := modules.ListReleases(context.Background(), dialHost(t, fleet, h), "app"); err != nil || rs.Pending != v3 {
		t.Fatalf("drover releases after the interrupted switch: %+v, %v; want %s pending", rs, err, v3)
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
	if rs, err := modules.ListReleases(context.Background(), dialHost(t, fleet, h), "app"); err != nil || rs.Pending != "" {
		t.Fatalf("drover releases after the re-check: %+v, %v; want nothing pending", rs, err)
	}
	if log := h.Exec(t, "tail -n 1 /srv/app/.drover/deploys.log"); !strings.Contains(log, "\trecheck\tok") {
		t.Errorf("deploy record of the re-check: %q", log)
	}

	// Cancelled (Ctrl-C) during the health check of a switch back to v1.
	h.Exec(t, "cat >/usr/local/bin/app-health <<'EOF'\n"+appHealth+"EOF\ntouch /run/app-hc-slow")
	files := f.playbook("all", "v1", "", "")
	files["site.hcl"] = strings.Replace(files["site.hcl"], `http     = "http://127.0.0.1:${local.ports[host.name]}/health"
      expect   = 200`, `command  = "sh /usr/local/bin/app-health ${local.ports[host.name]}"`, 1)
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan string)
	go func() {
		out, _ := newEngine(t, fleet, files).apply(ctx, nil)
		done <- out
	}()
	for i := 0; ; i++ {
		if _, err := h.Run("test -e /run/app-hc-running"); err == nil {
			break
		}
		if i > 1000 {
			t.Fatal("the health check never started")
		}
		time.Sleep(20 * time.Millisecond)
	}
	cancel()
	out = <-done
	h.Exec(t, "rm -f /run/app-hc-slow")
	v1 := f.current(h)
	if v1 == v3 {
		t.Fatalf("the cancelled deploy did not switch:\n%s", out)
	}
	out, res = newEngine(t, fleet, files).plan()
	if res.Summary.Run != 1 || !strings.Contains(out, "interrupted") || !strings.Contains(out, v1) {
		t.Fatalf("plan after the cancelled health check: want it run again for %s\n%s", v1, out)
	}
	for i, want := range []int{1, 0} {
		out, rc := newEngine(t, fleet, files).apply(context.Background(), nil)
		if !rc.Recap.OK() || rc.Recap.Counts().Changed != want {
			t.Fatalf("apply %d after the cancelled health check: want %d changed\n%s", i+1, want, out)
		}
	}
	if got := f.serving(h); got != "v1" {
		t.Errorf("after the re-check: serving %q, want v1", got)
	}
}
