// Package examples_test runs every example playbook as a user would: the
// local one on this machine in a scratch directory, the web one on a fleet of
// real sshd hosts (skipped when the fleet cannot run here).
package examples_test

import (
	"bytes"
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/hashicorp/hcl/v2"
	"github.com/hashicorp/hcl/v2/hclparse"

	"github.com/drover-cm/drover/engine/config"
	"github.com/drover-cm/drover/engine/connect"
	"github.com/drover-cm/drover/engine/report"
	"github.com/drover-cm/drover/engine/run"
	"github.com/drover-cm/drover/engine/transport"
	"github.com/drover-cm/drover/integration"
	"github.com/drover-cm/drover/inventory"
	"github.com/drover-cm/drover/modules"
)

// example is one playbook directory run with one inventory.
type example struct {
	t         *testing.T
	dir       string
	inventory string
	vars      []string
	known     string // known_hosts file for SSH hosts
}

func (x *example) run(apply bool) (string, *run.PlanResult, *run.ApplyResult) {
	t := x.t
	t.Helper()
	p := hclparse.NewParser()
	diagText := func(diags hcl.Diagnostics) string {
		var b bytes.Buffer
		hcl.NewDiagnosticTextWriter(&b, p.Files(), 0, false).WriteDiagnostics(diags)
		return b.String()
	}
	inv, diags := inventory.Load([]string{x.inventory}, inventory.LoadOptions{Parser: p})
	if diags.HasErrors() {
		t.Fatalf("inventory: %s", diagText(diags))
	}
	pb, diags := config.LoadFiles(p, modules.Catalog(), x.dir)
	if diags.HasErrors() {
		t.Fatalf("playbook: %s", diagText(diags))
	}
	in, diags := run.ParseInputs(p, pb, nil, nil, x.vars)
	if diags.HasErrors() {
		t.Fatalf("inputs: %s", diagText(diags))
	}
	if diags := run.Validate(pb, in); diags.HasErrors() {
		t.Fatalf("validate: %s", diagText(diags))
	}
	dialer := transport.NewDialer(transport.Options{KnownHostsFile: x.known, NoAgent: true, ConnectTimeout: 10 * time.Second})
	defer dialer.Close()
	pool := connect.NewPool(dialer)
	defer pool.Close()
	masker := report.NewMasker()
	var out bytes.Buffer
	term := report.NewTerminal(&out, &out, report.TerminalOptions{Masker: masker})
	opts := run.Options{
		Playbook: pb, Inputs: in, Sink: term, Masker: masker,
		Hosts: func(pattern string) ([]*inventory.Host, error) { return inv.Select(pattern) },
		Fleet: inv.Hosts,
		Connect: func(ctx context.Context, h *inventory.Host, _ *run.Become) (transport.Conn, error) {
			tg, err := connect.Target(inv, h, nil)
			if err != nil {
				return nil, err
			}
			return pool.Conn(ctx, tg)
		},
	}
	ctx := context.Background()
	if !apply {
		res, err := run.Plan(ctx, opts)
		term.Close()
		if err != nil || len(res.Diagnostics) > 0 {
			t.Fatalf("plan: %v %s\n%s", err, diagText(res.Diagnostics), out.String())
		}
		return out.String(), res, nil
	}
	res, err := run.Apply(ctx, opts)
	term.Close()
	if err != nil || len(res.Diagnostics) > 0 {
		t.Fatalf("apply: %v %s\n%s", err, diagText(res.Diagnostics), out.String())
	}
	return out.String(), nil, res
}

// applyTwice applies, expects every host changed, applies again and expects
// nothing changed, then plans and expects no change.
func (x *example) applyTwice(secret string) {
	t := x.t
	out, _, res := x.run(true)
	if !res.Recap.OK() {
		t.Fatalf("first apply failed:\n%s", out)
	}
	if secret != "" && strings.Contains(out, secret) {
		t.Errorf("the sensitive value appears in the output")
	}
	out, _, res = x.run(true)
	for _, h := range res.Recap.Hosts {
		if h.Status != report.StatusOK || h.Tasks.Changed != 0 {
			t.Errorf("second apply changed %s: %+v\n%s", h.Host, h, out)
		}
	}
	out, plan, _ := x.run(false)
	if plan.Summary.Changed() {
		t.Errorf("plan after apply shows changes:\n%s", out)
	}
}

func TestLocalExample(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "demo")
	x := &example{t: t, dir: "local", inventory: "local/inventory.hcl", vars: []string{"dir=" + dir}}
	x.applyTwice("change-me")
	conf, err := os.ReadFile(filepath.Join(dir, "app", "app.conf"))
	if err != nil || !strings.Contains(string(conf), "port = 8080") || !strings.Contains(string(conf), `owner = "local operator"`) {
		t.Errorf("app.conf = %q, %v", conf, err)
	}
	if _, err := os.Stat(filepath.Join(dir, ".validated")); err != nil {
		t.Errorf("the handler did not run: %v", err)
	}
	if link, err := os.Readlink(filepath.Join(dir, "current")); err != nil || link != filepath.Join(dir, "app") {
		t.Errorf("current -> %q, %v", link, err)
	}
}

// webInventory writes an inventory of the fleet's hosts as group "web".
func webInventory(t *testing.T, f *integration.Fleet) string {
	var b strings.Builder
	var names []string
	for _, h := range f.Hosts {
		fmt.Fprintf(&b, "host %q {\n  address = %q\n  port = %d\n  user = \"root\"\n  identity_file = %q\n}\n", h.Name, h.Addr, h.Port, f.KeyFile)
		names = append(names, fmt.Sprintf("%q", h.Name))
	}
	fmt.Fprintf(&b, "group \"web\" {\n  hosts = [%s]\n}\n", strings.Join(names, ", "))
	invFile := filepath.Join(t.TempDir(), "inventory.hcl")
	os.WriteFile(invFile, []byte(b.String()), 0o644)
	return invFile
}

func TestWebExample(t *testing.T) {
	f := integration.Start(t, 2)
	x := &example{t: t, dir: "web", inventory: webInventory(t, f), known: f.KnownHostsFile}
	x.applyTwice("replace-me-with-a-real-token")
	for _, h := range f.Hosts {
		got := h.Exec(t, "readlink /srv/www/current; grep -c . /srv/www/reloads.log; grep '^listen' /etc/webapp/server.conf; grep -c 'example.test' /etc/hosts; cat /srv/www/current/index.html | grep Served")
		want := "/srv/www/releases/2025.01\n1\nlisten 8080;\n1\n<p>Served by " + h.Name + ", release 2025.01.</p>\n"
		if got != want {
			t.Errorf("%s:\n%s\nwant:\n%s", h.Name, got, want)
		}
	}
	// A new release: the link moves, the configuration does not change, so
	// no reload.
	x.vars = []string{"release=2025.02"}
	out, _, res := x.run(true)
	if !res.Recap.OK() {
		t.Fatalf("release apply failed:\n%s", out)
	}
	for _, h := range f.Hosts {
		if got := h.Exec(t, "readlink /srv/www/current; grep -c . /srv/www/reloads.log"); got != "/srv/www/releases/2025.02\n1\n" {
			t.Errorf("%s after release: %q", h.Name, got)
		}
	}
}

// TestServicesExample applies the multi-instance service example twice on a
// fleet host with SysV scripts (integration/initservice_test.go runs it
// further, and on systemd).
func TestServicesExample(t *testing.T) {
	f := integration.Start(t, 1)
	h := f.Hosts[0]
	t.Cleanup(func() { _, _ = h.Run("/etc/init.d/drover-demo-alpha stop; /etc/init.d/drover-demo-beta stop") })
	x := &example{t: t, dir: "services", inventory: f.InventoryFile(), known: f.KnownHostsFile, vars: []string{"init_system=sysv"}}
	x.applyTwice("")
	if got := h.Exec(t, "/etc/init.d/drover-demo-alpha status; /etc/init.d/drover-demo-beta status"); !strings.Contains(got, "alpha is running") || !strings.Contains(got, "beta is running") {
		t.Errorf("status after apply:\n%s", got)
	}
}
