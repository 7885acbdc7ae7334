// Package release_test runs the release example on a real sshd host: the
// first apply deploys, the second changes nothing, and the site answers.
package release_test

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"net"
	"net/http"
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

func load(t *testing.T, invFile string, vars []string) (*hclparse.Parser, *config.Playbook, run.Inputs, *inventory.Inventory) {
	t.Helper()
	p := hclparse.NewParser()
	text := func(diags hcl.Diagnostics) string {
		var b bytes.Buffer
		hcl.NewDiagnosticTextWriter(&b, p.Files(), 0, false).WriteDiagnostics(diags)
		return b.String()
	}
	inv, diags := inventory.Load([]string{invFile}, inventory.LoadOptions{Parser: p})
	if diags.HasErrors() {
		t.Fatalf("inventory: %s", text(diags))
	}
	pb, diags := config.LoadFiles(p, modules.Catalog(), "site.hcl")
	if diags.HasErrors() {
		t.Fatalf("playbook: %s", text(diags))
	}
	in, diags := run.ParseInputs(p, pb, nil, nil, vars)
	if diags.HasErrors() {
		t.Fatalf("inputs: %s", text(diags))
	}
	if diags := run.Validate(pb, in); diags.HasErrors() {
		t.Fatalf("validate: %s", text(diags))
	}
	return p, pb, in, inv
}

func TestReleaseExampleValidates(t *testing.T) {
	load(t, "inventory.example.hcl", nil)
}

func TestReleaseExampleFleet(t *testing.T) {
	fleet := integration.Start(t, 1)
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	port := l.Addr().(*net.TCPAddr).Port
	l.Close()
	src, err := os.ReadFile(fleet.InventoryFile())
	if err != nil {
		t.Fatal(err)
	}
	invFile := filepath.Join(t.TempDir(), "inventory.hcl")
	os.WriteFile(invFile, append(src, "\ngroup \"web\" {\n  hosts = [\"host1\"]\n}\n"...), 0o644)
	vars := []string{fmt.Sprintf("port=%d", port)}

	apply := func() *report.Recap {
		_, pb, in, inv := load(t, invFile, vars)
		dialer := transport.NewDialer(transport.Options{KnownHostsFile: fleet.KnownHostsFile, NoAgent: true, ConnectTimeout: 10 * time.Second})
		defer dialer.Close()
		pool := connect.NewPool(dialer)
		defer pool.Close()
		var out bytes.Buffer
		term := report.NewTerminal(&out, &out, report.TerminalOptions{})
		res, err := run.Apply(context.Background(), run.Options{
			Playbook: pb, Inputs: in, Sink: term, Masker: report.NewMasker(),
			Hosts: func(pattern string) ([]*inventory.Host, error) { return inv.Select(pattern) },
			Connect: func(ctx context.Context, h *inventory.Host, _ *run.Become) (transport.Conn, error) {
				tg, err := connect.Target(inv, h, nil)
				if err != nil {
					return nil, err
				}
				return pool.Conn(ctx, tg)
			},
		})
		term.Close()
		if err != nil || !res.Recap.OK() || len(res.Diagnostics) > 0 {
			t.Fatalf("apply: %v %v\n%s", err, res.Diagnostics, out.String())
		}
		return res.Recap
	}
	if rc := apply(); rc.Counts().Changed != 1 {
		t.Fatalf("first apply: %s", rc.Line())
	}
	if rc := apply(); rc.Counts().Changed != 0 {
		t.Fatalf("second apply changed something: %s", rc.Line())
	}
	resp, err := http.Get(fmt.Sprintf("http://127.0.0.1:%d/built-at", port))
	if err != nil {
		t.Fatal(err)
	}
	b, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != 200 || !strings.HasPrefix(string(b), "20") {
		t.Fatalf("the site answers %d %q, want the build time", resp.StatusCode, b)
	}
}
