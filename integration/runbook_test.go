package integration_test

import (
	"bytes"
	"context"
	"net"
	"os"
	"path/filepath"
	"strconv"
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
	"github.com/drover-cm/drover/modules/contract"
)

// runbookOn runs a runbook file against the fleet as `drover run` does and
// returns its first report. become records the settings probes connected with.
func runbookOn(t *testing.T, f *integration.Fleet, path string, vars []string, become *[]drun.Become) *report.RunbookReport {
	t.Helper()
	return runbookWith(t, f, f.InventoryFile(), path, vars, become, nil)
}

// runbookWith is runbookOn with an inventory file and the options adjusted
// by opt.
func runbookWith(t *testing.T, f *integration.Fleet, invFile, path string, vars []string, become *[]drun.Become, opt func(*drun.RunbookOptions)) *report.RunbookReport {
	t.Helper()
	p := hclparse.NewParser()
	rf, diags := config.LoadRunbookFiles(p, modules.Catalog(), path)
	if diags.HasErrors() {
		t.Fatalf("runbook: %s", diagString(p, diags))
	}
	in, diags := drun.ParseInputs(p, rf.Playbook, nil, nil, vars)
	if diags.HasErrors() {
		t.Fatalf("inputs: %s", diagString(p, diags))
	}
	if diags := drun.ValidateRunbooks(rf, in); diags.HasErrors() {
		t.Fatalf("validate: %s", diagString(p, diags))
	}
	inv, diags := inventory.Load([]string{invFile}, inventory.LoadOptions{Parser: p})
	if diags.HasErrors() {
		t.Fatalf("inventory: %s", diags)
	}
	dialer := transport.NewDialer(transport.Options{KnownHostsFile: f.KnownHostsFile, NoAgent: true, ConnectTimeout: 10 * time.Second})
	// A pool per become setting: a pool keeps one connection per host.
	pools := map[drun.Become]*connect.Pool{}
	defer func() {
		for _, p := range pools {
			p.Close()
		}
		dialer.Close()
	}()
	var mu sync.Mutex
	opts := drun.RunbookOptions{
		File:   rf,
		Inputs: in,
		Hosts:  func(p string) ([]*inventory.Host, error) { return inv.Select(p) },
		Connect: func(ctx context.Context, h *inventory.Host, b *drun.Become) (transport.Conn, error) {
			mu.Lock()
			if become != nil {
				*become = append(*become, *b)
			}
			pool := pools[*b]
			if pool == nil {
				pool = connect.NewPool(dialer)
				pools[*b] = pool
			}
			mu.Unlock()
			tg, err := connect.Target(inv, h, nil)
			if err != nil {
				return nil, err
			}
			tg.Become = transport.BecomeConfig{Enabled: b.Enabled, User: b.User}
			return pool.Conn(ctx, tg)
		},
		Masker: report.NewMasker(),
	}
	if opt != nil {
		opt(&opts)
	}
	reps, diags, err := drun.RunRunbooks(context.Background(), opts)
	if err != nil || diags.HasErrors() {
		t.Fatalf("run: %v %s", err, diagString(p, diags))
	}
	return reps[0]
}

func diagString(p *hclparse.Parser, diags hcl.Diagnostics) string {
	var b bytes.Buffer
	config.WriteDiagnostics(&b, p.Files(), diags, 0, false)
	return b.String()
}

func freePort(t *testing.T) int {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port
}

// One host of five has a full filesystem, a runaway process and a hostile
// listener: first-five-minutes ranks it first, its full disk on top.
func TestRunbookFleetFindsTheOddHostOut(t *testing.T) {
	f := integration.Start(t, 5)
	sick := f.Hosts[2]
	port := freePort(t)
	// A small tmpfs filled to the last block, a CPU burner (bounded: the
	// machine has 2 cores) and a listener on a port nobody expects.
	pids := sick.Exec(t, `set -e
cd /tmp
mkdir -p /srv/data
mount -t tmpfs -o size=512k tmpfs /srv/data
dd if=/dev/zero of=/srv/data/fill bs=64k 2>/dev/null || true
timeout 60 sh -c 'while :; do :; done' </dev/null >/dev/null 2>&1 &
echo $!
/usr/bin/python3 -m http.server `+strconv.Itoa(port)+` --bind 127.0.0.1 --directory /tmp </dev/null >/dev/null 2>&1 &
echo $!
`)
	t.Cleanup(func() {
		for _, pid := range strings.Fields(pids) {
			sick.Run("kill " + pid)
		}
	})
	// Let the listener bind and the burner accumulate CPU time.
	deadline := time.Now().Add(10 * time.Second)
	for {
		c, err := net.Dial("tcp", "127.0.0.1:"+strconv.Itoa(port))
		if err == nil {
			c.Close()
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("the planted listener did not come up: %v", err)
		}
		time.Sleep(100 * time.Millisecond)
	}
	time.Sleep(time.Second)

	var becomes []drun.Become
	// ps's %CPU is CPU time over elapsed time: on a loaded machine (a CI
	// run's parallel packages share 2 cores) the burner gets a share of a
	// core, so the threshold is low; the other hosts' findings are not
	// asserted for it.
	rep := runbookOn(t, f, filepath.Join("..", "examples", "runbooks", "first-five-minutes.hcl"), []string{"cpu_hog_pct=3"}, &becomes)
	for _, b := range becomes {
		if b.Enabled {
			t.Errorf("a probe connected with become %+v", b)
		}
	}
	if len(rep.Hosts) != 5 {
		t.Fatalf("%d hosts in the report", len(rep.Hosts))
	}
	top := rep.Hosts[0]
	var text bytes.Buffer
	report.WriteRunbookText(&text, rep, report.RunbookTextOptions{})
	if top.Host != sick.Name {
		t.Fatalf("the sick host %s must come first:\n%s", sick.Name, text.String())
	}
	if f0 := top.Findings[0]; f0.Check != "disk_full" || f0.Key != "/srv/data" || f0.Severity != report.SevCrit {
		t.Errorf("first finding %+v, want the full /srv/data (crit):\n%s", f0, text.String())
	}
	has := func(h report.RunbookHost, check, substr string) bool {
		for _, fd := range h.Findings {
			if fd.Check == check && strings.Contains(fd.Message, substr) {
				return true
			}
		}
		return false
	}
	// Root probes run read-only enforced, as uid 65534 that cannot read
	// other processes' fds: the listener is found by its port, unnamed.
	if !has(top, "unexpected_listener", "a process (name not readable) listens on 127.0.0.1:"+strconv.Itoa(port)) {
		t.Errorf("the hostile listener is not reported:\n%s", text.String())
	}
	if !has(top, "runaway_process", "sh (pid") {
		t.Errorf("the runaway process is not reported:\n%s", text.String())
	}
	for _, h := range rep.Hosts[1:] {
		if h.Status != report.StatusOK {
			t.Errorf("%s: %s %s", h.Host, h.Status, h.Error)
		}
		// Not the listener: fleet hosts share one network namespace, and
		// under enforcement no process name tells whose socket it is.
		if has(h, "disk_full", "/srv/data") {
			t.Errorf("%s reports the sick host's problems:\n%s", h.Host, text.String())
		}
	}
	for _, h := range rep.Hosts {
		if h.ReadOnly != contract.ReadOnlyEnforced {
			t.Errorf("%s: read-only %q, want enforced", h.Host, h.ReadOnly)
		}
		if has(h, "read_only_mount", "") {
			t.Errorf("%s: the probes' read-only namespace is reported as read-only mounts:\n%s", h.Host, text.String())
		}
	}
	// Tools the hosts lack are "not available", never failures.
	for _, p := range top.Probes {
		if p.Name == "failed_units" && p.Status != "not available" {
			t.Errorf("failed_units on a host without systemd: %+v", p)
		}
		if p.Name == "listening" && p.Status != "ok" {
			t.Errorf("listening: %+v", p)
		}
	}

	// The HTML report, checked in a real browser.
	var page bytes.Buffer
	if err := report.WriteRunbookHTML(&page, rep, report.NewMasker()); err != nil {
		t.Fatal(err)
	}
	checkHTMLInChromium(t, page.Bytes(), sick.Name, strconv.Itoa(port))
}

func checkHTMLInChromium(t *testing.T, page []byte, sick, port string) {
	t.Helper()
	bin := integration.Chromium(t)
	dir := t.TempDir()
	file := filepath.Join(dir, "report.html")
	if err := os.WriteFile(file, page, 0o644); err != nil {
		t.Fatal(err)
	}
	dom := string(integration.Headless(t, bin, "--dump-dom", "file://"+file))
	for _, want := range []string{"Hosts × findings", `id="host-` + sick + `"`, "listens on 127.0.0.1:" + port, "/srv/data is 100% full", "read-only: enforced (mount namespace"} {
		if !strings.Contains(dom, want) {
			t.Errorf("the page chromium rendered lacks %q", want)
		}
	}
	// The sick host's section comes before every other host's.
	first := strings.Index(dom, `<section class="host`)
	if first < 0 || !strings.Contains(dom[first:first+200], `id="host-`+sick+`"`) {
		t.Errorf("the first host section is not %s", sick)
	}
	shot := filepath.Join(dir, "report.png")
	integration.Headless(t, bin, "--screenshot="+shot, "--window-size=1280,1400", "--hide-scrollbars", "file://"+file)
	png, err := os.ReadFile(shot)
	if err != nil || !bytes.HasPrefix(png, []byte("\x89PNG")) {
		t.Fatalf("no screenshot: %v", err)
	}
	if golden.Update() {
		if err := os.WriteFile(filepath.Join("..", "docs", "img", "runbook-report.png"), png, 0o644); err != nil {
			t.Fatal(err)
		}
	}
}

// A probe that hangs is cut at its timeout, with its process group, and
// reported as such; the other probes of the host are unaffected.
func TestRunbookFleetProbeTimeout(t *testing.T) {
	f := integration.Start(t, 1)
	dir := t.TempDir()
	rb := filepath.Join(dir, "hang.hcl")
	os.WriteFile(rb, []byte(`runbook "hang" {
  probe "hang" {
    command = "echo before; sleep 77; echo after"
    timeout = 1
  }
  probe "fine" { command = "echo fine" }
  check "never" {
    warn    = probe.hang.stdout == "after"
    message = "the hung probe finished"
  }
}`), 0o644)
	start := time.Now()
	rep := runbookOn(t, f, rb, nil, nil)
	if d := time.Since(start); d > 15*time.Second {
		t.Errorf("the runbook took %s; the probe's timeout is 1 s", d)
	}
	h := rep.Hosts[0]
	got := map[string]report.ProbeOutput{}
	for _, p := range h.Probes {
		got[p.Name] = p
	}
	if p := got["hang"]; p.Status != "timeout" || p.Stdout != "before\n" {
		t.Errorf("hang: %+v", p)
	}
	if p := got["fine"]; p.Status != "ok" || p.Stdout != "fine\n" {
		t.Errorf("fine: %+v", p)
	}
	if len(h.Findings) != 1 || h.Findings[0].Check != "probe_timeout" || h.Findings[0].Severity != report.SevWarn {
		t.Errorf("findings %+v, want one probe_timeout warning", h.Findings)
	}
	// Nothing of the probe is left running on the host.
	if out, err := f.Hosts[0].Run("ps -eo args | grep -v grep | grep 'sleep 77'"); err == nil {
		t.Errorf("the hung command still runs on the host:\n%s", out)
	}
}

// A runbook holding a task that can change state is refused when it is
// loaded: nothing reaches a host.
func TestRunbookWithMutatingTaskIsRejected(t *testing.T) {
	f := integration.Start(t, 1)
	dir := t.TempDir()
	rb := filepath.Join(dir, "bad.hcl")
	os.WriteFile(rb, []byte(`runbook "bad" {
  probe "motd" { command = "cat /etc/motd" }
  file "motd" {
    path    = "/etc/motd"
    content = "pwned"
  }
}`), 0o644)
	p := hclparse.NewParser()
	_, diags := config.LoadRunbookFiles(p, modules.Catalog(), rb)
	text := diagString(p, diags)
	if !diags.HasErrors() || !strings.Contains(text, "A runbook cannot change a host") || !strings.Contains(text, `Module "file" can change state`) {
		t.Fatalf("want the mutating task refused, got:\n%s", text)
	}
	if out := f.Hosts[0].Exec(t, "cat /etc/motd 2>/dev/null || true"); strings.Contains(out, "pwned") {
		t.Error("the host was changed")
	}
}
