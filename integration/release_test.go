package integration_test

import (
	"context"
	"fmt"
	"io"
	"net"
	"net/http"
	"sort"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/drover-cm/drover/engine/connect"
	"github.com/drover-cm/drover/engine/report"
	"github.com/drover-cm/drover/engine/transport"
	"github.com/drover-cm/drover/integration"
	"github.com/drover-cm/drover/modules"
)

// appRestart is the test service's switch action: it stops the previous
// python3 http.server of the host and starts one serving /srv/app/current on
// the port given. With /run/app-slow present it first marks that it is
// switching and sleeps (for the kill test).
const appRestart = `#!/bin/sh
port=$1
if [ -f /run/app-slow ]; then touch /run/app-switching; sleep 30; fi
if [ -f /run/app.pid ]; then
  p=$(cat /run/app.pid); kill "$p" 2>/dev/null || true
  i=0; while kill -0 "$p" 2>/dev/null && [ $i -lt 100 ]; do sleep 0.05; i=$((i+1)); done
fi
date +%s.%N >>/run/app-switches
setsid /usr/bin/python3 -m http.server "$port" --bind 127.0.0.1 --directory /srv/app/current </dev/null >/dev/null 2>&1 &
echo $! >/run/app.pid
`

// releaseFixture is a 5-host fleet, each host with its own service port.
type releaseFixture struct {
	t     *testing.T
	fleet *integration.Fleet
	ports map[string]int
}

func freePorts(t *testing.T, n int) []int {
	var ls []net.Listener
	var ports []int
	for range n {
		l, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			t.Fatal(err)
		}
		ls = append(ls, l)
		ports = append(ports, l.Addr().(*net.TCPAddr).Port)
	}
	for _, l := range ls {
		l.Close()
	}
	return ports
}

// artifacts: a good release has /health; "bad" has none (404).
var releaseFiles = map[string]string{
	"v1/health": "ok\n", "v1/VERSION": "v1\n",
	"v2/health": "ok\n", "v2/VERSION": "v2\n",
	"v3/health": "ok\n", "v3/VERSION": "v3\n",
	"bad/VERSION": "bad\n",
}

// playbook deploys source to the hosts pattern.
func (f *releaseFixture) playbook(hosts, source, serial, build string) map[string]string {
	var pm []string
	for _, h := range f.fleet.Hosts {
		pm = append(pm, fmt.Sprintf("%s = %d", h.Name, f.ports[h.Name]))
	}
	if serial != "" {
		serial = "serial = " + serial
	}
	files := map[string]string{"site.hcl": fmt.Sprintf(`
locals {
  ports = { %s }
}
play "deploy" {
  hosts = %q
  %s
  release "app" {
    path   = "/srv/app"
    source = %q
    shared = ["log"]
    build  = [%s]
    keep   = 3
    switch = { command = "sh /usr/local/bin/app-restart ${local.ports[host.name]}" }
    healthcheck {
      http     = "http://127.0.0.1:${local.ports[host.name]}/health"
      expect   = 200
      timeout  = "2s"
      interval = "100ms"
    }
  }
}
`, strings.Join(pm, ", "), hosts, serial, source, build)}
	for k, v := range releaseFiles {
		files[k] = v
	}
	return files
}

func (f *releaseFixture) apply(hosts, source, serial, build string) (string, *report.Recap) {
	f.t.Helper()
	e := newEngine(f.t, f.fleet, f.playbook(hosts, source, serial, build))
	out, res := e.apply(context.Background(), nil)
	if len(res.Diagnostics) > 0 {
		f.t.Fatalf("diagnostics:\n%s", out)
	}
	return out, res.Recap
}

func (f *releaseFixture) current(h *integration.Host) string {
	f.t.Helper()
	return strings.TrimPrefix(strings.TrimSpace(h.Exec(f.t, "readlink /srv/app/current")), "releases/")
}

// serving returns what the host's service answers for /VERSION.
func (f *releaseFixture) serving(h *integration.Host) string {
	f.t.Helper()
	resp, err := http.Get(fmt.Sprintf("http://127.0.0.1:%d/VERSION", f.ports[h.Name]))
	if err != nil {
		f.t.Fatalf("%s: %v", h.Name, err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return strings.TrimSpace(string(b))
}

// poll watches /srv/app/current on a host until stop is called, and
// returns how often it looked and every moment it was not a link to an
// existing release directory.
func poll(t *testing.T, h *integration.Host) (stop func() (polls int, missing []string)) {
	h.Exec(t, "rm -f /run/stop-poll")
	var out string
	var err error
	done := make(chan struct{})
	go func() {
		defer close(done)
		out, err = h.RunContext(context.Background(), `n=0
while [ ! -e /run/stop-poll ]; do
  if [ -L /srv/app/current ] && [ -d /srv/app/current/ ]; then :; else echo "MISSING $(readlink /srv/app/current)"; fi
  n=$((n+1))
done
echo "polls $n"`, nil)
	}()
	return func() (int, []string) {
		h.Exec(t, "touch /run/stop-poll")
		<-done
		if err != nil {
			t.Fatalf("poller on %s: %v", h.Name, err)
		}
		var missing []string
		n := 0
		for _, l := range strings.Split(strings.TrimSpace(out), "\n") {
			if c, ok := strings.CutPrefix(l, "polls "); ok {
				n, _ = strconv.Atoi(c)
			} else if l != "" {
				missing = append(missing, l)
			}
		}
		return n, missing
	}
}

func TestReleaseFleet(t *testing.T) {
	fleet := integration.Start(t, 5)
	f := &releaseFixture{t: t, fleet: fleet, ports: map[string]int{}}
	ports := freePorts(t, len(fleet.Hosts))
	for i, h := range fleet.Hosts {
		f.ports[h.Name] = ports[i]
		h.Exec(t, "mkdir -p /usr/local/bin && cat >/usr/local/bin/app-restart <<'EOF'\n"+appRestart+"EOF\n")
	}
	h1, h3, h5 := fleet.Hosts[0], fleet.Hosts[2], fleet.Hosts[4]

	// A good release on 5 hosts, 2 at a time.
	out, rc := f.apply("fleet", "v1", "2", "")
	if !rc.OK() || rc.Counts().Changed != 5 {
		t.Fatalf("v1 rollout:\n%s", out)
	}
	v1 := map[string]string{}
	var firstSwitch []float64
	for _, h := range fleet.Hosts {
		v1[h.Name] = f.current(h)
		if got := f.serving(h); got != "v1" {
			t.Errorf("%s serves %q, want v1", h.Name, got)
		}
		ts, _ := strconv.ParseFloat(strings.Fields(h.Exec(t, "head -1 /run/app-switches"))[0], 64)
		firstSwitch = append(firstSwitch, ts)
	}
	// Batches: host1,2 switched before host3,4 started, and those before host5.
	if !(max(firstSwitch[0], firstSwitch[1]) < min(firstSwitch[2], firstSwitch[3]) && max(firstSwitch[2], firstSwitch[3]) < firstSwitch[4]) {
		t.Errorf("switch times do not follow batches of 2: %v", firstSwitch)
	}

	// The same artifact again: no change anywhere.
	out, rc = f.apply("fleet", "v1", "2", "")
	if !rc.OK() || rc.Counts().Changed != 0 {
		t.Fatalf("re-deploying v1 changed something:\n%s", out)
	}

	// v2, with current watched on two hosts the whole time: never missing.
	stop1, stop3 := poll(t, h1), poll(t, h3)
	out, rc = f.apply("fleet", "v2", "2", "")
	n1, miss1 := stop1()
	n3, miss3 := stop3()
	if !rc.OK() || rc.Counts().Changed != 5 {
		t.Fatalf("v2 rollout:\n%s", out)
	}
	if len(miss1)+len(miss3) > 0 || n1 < 10 || n3 < 10 {
		t.Fatalf("current went missing during the deploy (polled %d and %d times): %v %v", n1, n3, miss1, miss3)
	}
	v2 := map[string]string{}
	for _, h := range fleet.Hosts {
		v2[h.Name] = f.current(h)
		if v2[h.Name] == v1[h.Name] || f.serving(h) != "v2" {
			t.Fatalf("%s: v2 not live: current %s, serving %s", h.Name, v2[h.Name], f.serving(h))
		}
	}

	// A release whose health check fails: the first batch rolls back, the
	// rollout stops, the recap says who is where.
	out, rc = f.apply("fleet", "bad", "2", "")
	for i, h := range fleet.Hosts {
		hr := recapOf(t, rc, h.Name)
		if i < 2 {
			if hr.Status != report.StatusFailed {
				t.Errorf("%s: %s, want failed (rolled back)\n%s", h.Name, hr.Status, out)
			}
		} else if hr.Status != report.StatusNotStarted || !strings.Contains(hr.Message, "max_fail") {
			t.Errorf("%s: %s %q, want not started by max_fail\n%s", h.Name, hr.Status, hr.Message, out)
		}
		if got := f.current(h); got != v2[h.Name] {
			t.Errorf("%s: current %s after the failed rollout, want %s", h.Name, got, v2[h.Name])
		}
		if got := f.serving(h); got != "v2" {
			t.Errorf("%s serves %q after the failed rollout, want v2", h.Name, got)
		}
	}
	if !strings.Contains(out, "rolled back to "+v2["host1"]+", which is healthy") {
		t.Errorf("output does not say the hosts were rolled back:\n%s", out)
	}

	// A failing build step leaves current untouched.
	out, rc = f.apply("host1", "v3", "", `"exit 7"`)
	if rc.OK() || !strings.Contains(out, "build step 1 failed") {
		t.Fatalf("build failure:\n%s", out)
	}
	if got := f.current(h1); got != v2["host1"] {
		t.Fatalf("current %s after a failed build, want %s", got, v2["host1"])
	}

	// Rollback (to the previous release), then --to back to v2, over SSH
	// with the recorded switch action and health check.
	conn := dialHost(t, fleet, h1)
	from, to, err := modules.Rollback(context.Background(), conn, "app", "", "test")
	if err != nil || from != v2["host1"] || to != v1["host1"] || f.current(h1) != v1["host1"] || f.serving(h1) != "v1" {
		t.Fatalf("rollback: %s -> %s, %v (current %s)", from, to, err, f.current(h1))
	}
	if _, _, err := modules.Rollback(context.Background(), conn, "/srv/app", v2["host1"], "test"); err != nil || f.current(h1) != v2["host1"] || f.serving(h1) != "v2" {
		t.Fatalf("rollback --to %s: %v (current %s)", v2["host1"], err, f.current(h1))
	}
	rs, err := modules.ListReleases(context.Background(), conn, "app")
	if err != nil || rs.Current != v2["host1"] {
		t.Fatalf("releases: %+v %v", rs, err)
	}
	var ids []string
	for _, r := range rs.Releases {
		ids = append(ids, r.ID)
	}
	if !sort.StringsAreSorted(ids) || len(ids) > 3 {
		t.Errorf("releases after pruning with keep = 3: %v", ids)
	}

	// Kill the host in the middle of the switch: it is fully old or fully new.
	t.Run("kill", func(t *testing.T) {
		f.t = t
		// During the build (before the switch): stays on v2.
		killDuring(t, f, h5, "/run/app-building", `"touch /run/app-building; sleep 30"`)
		if got := f.current(h5); got != v2["host5"] {
			t.Errorf("killed during the build: current %s, want %s", got, v2["host5"])
		}
		// During the switch action (after the rename): on the new release, complete.
		h5.Exec(t, "touch /run/app-slow")
		killDuring(t, f, h5, "/run/app-switching", "")
		got := f.current(h5)
		h5.Exec(t, "test -e /srv/app/.drover/ready/"+got+" && test -f /srv/app/releases/"+got+"/VERSION")
		if ver := strings.TrimSpace(h5.Exec(t, "cat /srv/app/current/VERSION")); got == v2["host5"] && ver != "v2" || got != v2["host5"] && ver != "v3" {
			t.Errorf("killed during the switch: current %s holds %q", got, ver)
		}
	})
}

// killDuring deploys v3 to h with build, kills h once marker exists on it,
// and restarts it.
func killDuring(t *testing.T, f *releaseFixture, h *integration.Host, marker, build string) {
	h.Exec(t, "rm -f "+marker)
	var wg sync.WaitGroup
	var out string
	var rc *report.Recap
	wg.Add(1)
	go func() {
		defer wg.Done()
		out, rc = f.apply(h.Name, "v3", "", build)
	}()
	deadline := time.Now().Add(20 * time.Second)
	for {
		if _, err := h.Run("test -e " + marker); err == nil {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("%s never appeared on %s", marker, h.Name)
		}
		time.Sleep(20 * time.Millisecond)
	}
	h.Kill()
	wg.Wait()
	if hr := recapOf(t, rc, h.Name); hr.Status != report.StatusUnreachable {
		t.Errorf("%s after the kill: %s, want unreachable\n%s", h.Name, hr.Status, out)
	}
	h.Restart(t)
}

func dialHost(t *testing.T, fleet *integration.Fleet, h *integration.Host) transport.Conn {
	t.Helper()
	d := transport.NewDialer(transport.Options{KnownHostsFile: fleet.KnownHostsFile, NoAgent: true, ConnectTimeout: 10 * time.Second})
	pool := connect.NewPool(d)
	t.Cleanup(func() { pool.Close(); d.Close() })
	conn, err := pool.Conn(context.Background(), transport.Target{Name: h.Name, Address: h.Addr, Port: h.Port, User: "root", Identities: []string{fleet.KeyFile}})
	if err != nil {
		t.Fatal(err)
	}
	return conn
}
