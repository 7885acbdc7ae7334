package integration_test

import (
	"context"
	"os"
	"path/filepath"
	"runtime"
	"strings"
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

// TestApplyLeaksNothing: after an apply over real SSH (first run and
// no-change run) and closing the pool, the controller is back to the
// goroutines and open files (sockets included) it had before, and no host
// keeps an SSH session open. A control run that leaves its pool open must
// be caught by the same check, so the check can see a leak.
func TestApplyLeaksNothing(t *testing.T) {
	f := integration.Start(t, 3)
	dir := t.TempDir()
	os.WriteFile(filepath.Join(dir, "site.hcl"), []byte(`
play "leak" {
  hosts = "fleet"
  directory "d" {
    path = "/srv/leak"
  }
  file "f" {
    count   = 3
    path    = "/srv/leak/f${count.index}"
    content = "x\n"
  }
  command "c" {
    run     = ["touch", "/srv/leak/done"]
    creates = "/srv/leak/done"
  }
}
`), 0o644)
	p := hclparse.NewParser()
	inv, diags := inventory.Load([]string{f.InventoryFile()}, inventory.LoadOptions{Parser: p})
	if diags.HasErrors() {
		t.Fatal(diags)
	}
	pb, diags := config.LoadFiles(p, modules.Catalog(), filepath.Join(dir, "site.hcl"))
	if diags.HasErrors() {
		t.Fatal(diags)
	}
	in, _ := drun.ParseInputs(p, pb, nil, nil, nil)
	apply := func(keepOpen bool) (closeAll func()) {
		dialer := transport.NewDialer(transport.Options{KnownHostsFile: f.KnownHostsFile, NoAgent: true, ConnectTimeout: 30 * time.Second})
		pool := connect.NewPool(dialer)
		res, err := drun.Apply(context.Background(), drun.Options{
			Playbook: pb, Inputs: in, Masker: report.NewMasker(),
			Hosts: func(pat string) ([]*inventory.Host, error) { return inv.Select(pat) },
			Connect: func(ctx context.Context, h *inventory.Host, _ *drun.Become) (transport.Conn, error) {
				tg, err := connect.Target(inv, h, nil)
				if err != nil {
					return nil, err
				}
				return pool.Conn(ctx, tg)
			},
		})
		closeAll = func() {
			pool.Close()
			dialer.Close()
		}
		if !keepOpen {
			closeAll()
		}
		if err != nil || !res.Recap.OK() {
			t.Fatalf("apply: %v %+v", err, res.Recap)
		}
		return closeAll
	}
	openFiles := func() int {
		ents, _ := os.ReadDir("/proc/self/fd")
		return len(ents)
	}
	// settle returns the goroutines and open files once they stop falling
	// (connections closed a moment ago end their goroutines shortly after).
	settle := func() (int, int) {
		g, fd := runtime.NumGoroutine(), openFiles()
		for end := time.Now().Add(5 * time.Second); time.Now().Before(end); {
			time.Sleep(150 * time.Millisecond)
			g2, fd2 := runtime.NumGoroutine(), openFiles()
			if g2 >= g && fd2 >= fd {
				return g2, fd2
			}
			g, fd = g2, fd2
		}
		return g, fd
	}
	// Settle what the first use of the packages starts for good.
	apply(false)
	g0, fd0 := settle()
	for range 2 {
		apply(false)
	}
	if g, fd := settle(); g > g0 || fd > fd0 {
		buf := make([]byte, 1<<20)
		n := runtime.Stack(buf, true)
		t.Errorf("after two applies: %d goroutines (was %d), %d open files (was %d)\n%s", g, g0, fd, fd0, buf[:n])
	}
	// The control: connections left open are seen.
	closeAll := apply(true)
	if g, fd := settle(); g <= g0 || fd <= fd0 {
		t.Errorf("with %d connections left open: %d goroutines (was %d), %d open files (was %d): the check would not see a leak", len(f.Hosts), g, g0, fd, fd0)
	}
	closeAll()
	for _, h := range f.Hosts {
		// sshd names a session's process "sshd: root@notty"; only the
		// listener may be left, once sshd has seen the connection close.
		var out string
		for end := time.Now().Add(5 * time.Second); ; {
			o, err := h.Run("cat /proc/[0-9]*/cmdline 2>/dev/null | tr '\\0' ' '; true")
			if err != nil {
				t.Fatal(err)
			}
			out = o
			if !strings.Contains(out, "@notty") || time.Now().After(end) {
				break
			}
			time.Sleep(50 * time.Millisecond)
		}
		if !strings.Contains(out, "sshd") {
			t.Fatalf("%s: cannot see the host's processes: %q", h.Name, out)
		}
		if strings.Contains(out, "@notty") {
			t.Errorf("%s: an SSH session is still open after the run:\n%s", h.Name, out)
		}
	}
}
