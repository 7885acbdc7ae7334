package integration_test

import (
	"context"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/hashicorp/hcl/v2/hclparse"

	"github.com/drover-cm/drover/engine/config"
	"github.com/drover-cm/drover/engine/connect"
	"github.com/drover-cm/drover/engine/report"
	drun "github.com/drover-cm/drover/engine/run"
	"github.com/drover-cm/drover/engine/transport"
	"github.com/drover-cm/drover/integration"
	"github.com/drover-cm/drover/inventory"
	"github.com/drover-cm/drover/modules"
)

// TestBenchRoundTrips applies the speed benchmark's playbook (30 tasks: a
// group, a user owning files, directories, copies, two line edits of one
// file, templates, a symlink, cron, a command and a handler) to a fleet
// host and counts the SSH round trips after connecting. First run: the
// state read; then every change in one batch: the second line edit is
// planned from what the first writes (no read between them), the symlink
// is not stale after its target's directory was made (it reads only the
// link), and the handler goes last in the same script. A run with nothing
// to change is the state read alone.
func TestBenchRoundTrips(t *testing.T) {
	f := integration.Start(t, 1)
	p := hclparse.NewParser()
	inv, diags := inventory.Load([]string{f.InventoryFile()}, inventory.LoadOptions{Parser: p})
	if diags.HasErrors() {
		t.Fatal(diags)
	}
	pb, diags := config.LoadFiles(p, modules.Catalog(), filepath.Join("bench", "drover", "site.hcl"))
	if diags.HasErrors() {
		t.Fatal(diags)
	}
	in, diags := drun.ParseInputs(p, pb, nil, nil, nil)
	if diags.HasErrors() {
		t.Fatal(diags)
	}
	apply := func() (*drun.ApplyResult, int64) {
		res, trips, err := applyCountingTrips(f, inv, pb, in)
		if err != nil || !res.Recap.OK() || len(res.Diagnostics) > 0 {
			t.Fatalf("apply: %v %+v %s", err, res.Recap, res.Diagnostics)
		}
		return res, trips
	}

	res, trips := apply()
	// 30 tasks and the handler; the package is installed already.
	if h := res.Recap.Hosts[0]; h.Tasks.Changed != 30 || h.Tasks.OK != 1 {
		t.Errorf("first run: %+v; want 30 changed, 1 ok", h.Tasks)
	}
	if trips != 2 {
		t.Errorf("first run: %d round trips; want 2", trips)
	}
	h := f.Host("host1")
	out := h.Exec(t, "cat /srv/bench/conf/app.ini /srv/bench/.initialized /srv/bench/logs/reload.log; stat -c '%U:%G' /srv/bench/logs /srv/bench/secret.env")
	if want := "debug = false\nworkers = 8\ninitialized\nreloaded\nbenchsvc:benchgrp\nbenchsvc:benchgrp\n"; out != want {
		t.Errorf("host state:\n%s\nwant:\n%s", out, want)
	}

	res, trips = apply()
	if h := res.Recap.Hosts[0]; h.Tasks.Changed != 0 {
		t.Errorf("second run: %+v; want nothing changed", h.Tasks)
	}
	if trips != 1 {
		t.Errorf("second run: %d round trips; want 1", trips)
	}
	if out := h.Exec(t, "cat /srv/bench/logs/reload.log"); strings.Count(out, "reloaded") != 1 {
		t.Errorf("the handler ran again: %q", out)
	}
}

// applyCountingTrips applies pb to the fleet over a pool of its own and
// returns the result with the SSH round trips made after connecting, all
// hosts together.
func applyCountingTrips(f *integration.Fleet, inv *inventory.Inventory, pb *config.Playbook, in drun.Inputs) (*drun.ApplyResult, int64, error) {
	dialer := transport.NewDialer(transport.Options{KnownHostsFile: f.KnownHostsFile, NoAgent: true, ConnectTimeout: time.Minute})
	pool := connect.NewPool(dialer)
	defer dialer.Close()
	defer pool.Close()
	var mu sync.Mutex
	var conns []transport.Conn
	res, err := drun.Apply(context.Background(), drun.Options{
		Playbook: pb, Inputs: in, Masker: report.NewMasker(),
		Hosts: func(pat string) ([]*inventory.Host, error) { return inv.Select(pat) },
		Connect: func(ctx context.Context, h *inventory.Host, _ *drun.Become) (transport.Conn, error) {
			tg, err := connect.Target(inv, h, nil)
			if err != nil {
				return nil, err
			}
			c, err := pool.Conn(ctx, tg)
			if err == nil {
				mu.Lock()
				conns = append(conns, c)
				mu.Unlock()
			}
			return c, err
		},
	})
	var trips int64
	for _, c := range conns {
		trips += c.Stats().RoundTrips
	}
	return res, trips, err
}
