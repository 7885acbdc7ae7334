package examples_test

import (
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/drover-cm/drover/engine/report"
	"github.com/drover-cm/drover/integration"
)

// freePort returns a port nothing listens on now: the fleet's hosts share
// this machine's network, so every service needs its own.
func freePort(t *testing.T) int {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port
}

// buildWebapp builds the webapp stack's program (a static binary: the
// fleet's rootfs has no HTTP server of its own) where the stack copies it
// from.
func buildWebapp(t *testing.T) {
	t.Helper()
	cmd := exec.Command("go", "build", "-o", "stacks/webapp/files/webapp", "./stacks/webapp/server")
	cmd.Env = append(os.Environ(), "CGO_ENABLED=0")
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("building the webapp: %v\n%s", err, out)
	}
}

// load counts the requests a client loop makes through the balancer, and
// those that fail (an error or a status other than 200), each on a new
// connection as a fresh visitor's would be.
type load struct {
	url            string
	stop           chan struct{}
	wg             sync.WaitGroup
	total, failed  atomic.Int64
	mu             sync.Mutex
	firstFailures  []string
	versionsServed sync.Map
}

func startLoad(url string) *load {
	l := &load{url: url, stop: make(chan struct{})}
	client := &http.Client{Timeout: 5 * time.Second, Transport: &http.Transport{DisableKeepAlives: true}}
	l.wg.Add(1)
	go func() {
		defer l.wg.Done()
		for {
			select {
			case <-l.stop:
				return
			default:
			}
			l.total.Add(1)
			resp, err := client.Get(l.url)
			msg := ""
			if err != nil {
				msg = err.Error()
			} else {
				b, _ := io.ReadAll(resp.Body)
				resp.Body.Close()
				if resp.StatusCode != 200 {
					msg = fmt.Sprintf("%d %s", resp.StatusCode, b)
				} else {
					l.versionsServed.Store(strings.Fields(string(b))[1], true)
				}
			}
			if msg != "" {
				l.failed.Add(1)
				l.mu.Lock()
				if len(l.firstFailures) < 5 {
					l.firstFailures = append(l.firstFailures, time.Now().Format("15:04:05.000 ")+msg)
				}
				l.mu.Unlock()
			}
			time.Sleep(5 * time.Millisecond)
		}
	}()
	return l
}

func (l *load) end() (int64, int64) {
	close(l.stop)
	l.wg.Wait()
	return l.total.Load(), l.failed.Load()
}

// TestRecipesRollingDeploy applies examples/stacks/site.hcl on four
// systemd hosts (one haproxy balancer, three web hosts) and rolls out two
// releases while a client loop hits the balancer: the good release reaches
// every host, the broken one is rolled back on the first host and stops
// the rollout; the client sees no failed request during either.
func TestRecipesRollingDeploy(t *testing.T) {
	buildWebapp(t)
	f := integration.StartSystemd(t, 4)
	lbPort, statsPort := freePort(t), freePort(t)
	var b strings.Builder
	fmt.Fprintf(&b, "defaults {\n  user = \"root\"\n  identity_file = %q\n}\n", f.KeyFile)
	var web []string
	ports := map[string]int{}
	for i, h := range f.Hosts {
		vars := ""
		if i > 0 {
			ports[h.Name] = freePort(t)
			vars = fmt.Sprintf("  vars = { http_port = %d }\n", ports[h.Name])
			web = append(web, fmt.Sprintf("%q", h.Name))
		}
		fmt.Fprintf(&b, "host %q {\n  address = %q\n  port = %d\n%s}\n", h.Name, h.Addr, h.Port, vars)
	}
	fmt.Fprintf(&b, "group \"lb\" {\n  hosts = [%q]\n}\ngroup \"cache\" {\n  hosts = [%q]\n}\ngroup \"web\" {\n  hosts = [%s]\n}\n", f.Hosts[0].Name, f.Hosts[0].Name, strings.Join(web, ", "))
	invFile := filepath.Join(t.TempDir(), "inventory.hcl")
	if err := os.WriteFile(invFile, []byte(b.String()), 0o644); err != nil {
		t.Fatal(err)
	}
	cachePort := freePort(t)
	ports0 := []string{fmt.Sprintf("lb_port=%d", lbPort), fmt.Sprintf("stats_port=%d", statsPort), fmt.Sprintf("cache_port=%d", cachePort)}
	x := &example{t: t, dir: "stacks", inventory: invFile, known: f.KnownHostsFile, vars: append(ports0, "release=v1")}
	x.applyTwice("")

	// The cache host runs both Redis instances, and not Debian's default one.
	cache := fmt.Sprintf("redis-cli -p %d ping; redis-cli -p %d ping; systemctl is-active redis-server || true; systemctl is-active redis-stack@sessions redis-stack@jobs", cachePort, cachePort+1)
	if got := f.Hosts[0].Exec(t, cache); got != "PONG\nPONG\ninactive\nactive\nactive\n" {
		t.Errorf("redis instances on %s:\n%s", f.Hosts[0].Name, got)
	}

	versions := func() map[string]string {
		got := map[string]string{}
		for name, port := range ports {
			resp, err := http.Get(fmt.Sprintf("http://127.0.0.1:%d/version", port))
			if err != nil {
				t.Fatalf("%s: %v", name, err)
			}
			b, _ := io.ReadAll(resp.Body)
			resp.Body.Close()
			got[name] = strings.TrimSpace(string(b))
		}
		return got
	}
	for name, v := range versions() {
		if v != "v1" {
			t.Fatalf("%s serves %q after the first apply, want v1", name, v)
		}
	}

	lb := startLoad(fmt.Sprintf("http://127.0.0.1:%d/", lbPort))
	t0 := time.Now()
	x.vars = append(ports0, "release=v2")
	out, _, res := x.run(true)
	if !res.Recap.OK() {
		lb.end()
		t.Fatalf("rollout of v2 failed:\n%s", out)
	}
	for name, v := range versions() {
		if v != "v2" {
			t.Errorf("%s serves %q after the v2 rollout", name, v)
		}
	}
	good := time.Since(t0)

	x.vars = append(ports0, "release=broken")
	out, _, res = x.run(true)
	total, failed := lb.end()
	t.Logf("zero-downtime rollout (v1 -> v2 on 3 hosts in %s, then a broken release): %d requests through haproxy, %d failed", good.Round(100*time.Millisecond), total, failed)
	if failed != 0 || total < 100 {
		t.Errorf("%d of %d requests failed (want 0 of at least 100); first: %v", failed, total, lb.firstFailures)
	}
	if res.Recap.OK() {
		t.Fatalf("the broken release's rollout succeeded:\n%s", out)
	}
	for name, v := range versions() {
		if v != "v2" {
			t.Errorf("%s serves %q after the broken rollout, want v2 (rolled back or not reached)", name, v)
		}
	}
	// The first web host failed; the rollout stopped before the others.
	status := map[string]report.Status{}
	for _, h := range res.Recap.Hosts {
		status[h.Host] = h.Status
	}
	if status[f.Hosts[1].Name] != report.StatusFailed {
		t.Errorf("recap of the broken rollout: %+v, want %s failed\n%s", status, f.Hosts[1].Name, out)
	}
	if strings.Contains(out, f.Hosts[2].Name+" | play web | changed") {
		t.Errorf("the rollout went on after the failed host:\n%s", out)
	}
	if _, ok := lb.versionsServed.Load("v3-broken"); ok {
		t.Errorf("the balancer served the broken release")
	}
	t.Logf("broken rollout:\n%s", out)
}
