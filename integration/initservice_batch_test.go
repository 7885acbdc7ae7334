package integration_test

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"strings"
	"sync"
	"testing"

	"github.com/drover-cm/drover/engine/report"
	drun "github.com/drover-cm/drover/engine/run"
	"github.com/drover-cm/drover/engine/transport"
	"github.com/drover-cm/drover/integration"
	"github.com/drover-cm/drover/inventory"
)

// initBatchPlaybook has three init_service tasks (one with two instances)
// and a service task: their status is one shared read.
func initBatchPlaybook(initSystem string) string {
	sys := ""
	if initSystem != "" {
		sys = fmt.Sprintf("    init_system = %q\n", initSystem)
	}
	var b strings.Builder
	b.WriteString("play \"batch\" {\n  hosts = \"fleet\"\n")
	for _, s := range []struct{ name, extra string }{
		{"drover-ib-one", ""},
		{"drover-ib-two", "    instances   = [\"a\", \"b\"]\n"},
		{"drover-ib-three", ""},
	} {
		fmt.Fprintf(&b, "  init_service %q {\n    command     = \"/bin/sleep 86400\"\n    user        = \"root\"\n%s%s  }\n", s.name, sys, s.extra)
	}
	fmt.Fprintf(&b, "  service \"three\" {\n    name       = \"drover-ib-three\"\n    state      = \"started\"\n%s    depends_on = [init_service.drover-ib-three]\n  }\n}\n", sys)
	return b.String()
}

// scriptRecorder keeps every command (and stdin script) sent to the hosts.
type scriptRecorder struct {
	mu   sync.Mutex
	sent bytes.Buffer
}

type scriptConn struct {
	transport.Conn
	r *scriptRecorder
}

func (c scriptConn) Run(ctx context.Context, cmd transport.Cmd) (transport.Result, error) {
	c.r.mu.Lock()
	c.r.sent.WriteString(cmd.Command + "\n")
	if cmd.Stdin != nil {
		in, err := io.ReadAll(cmd.Stdin)
		if err != nil {
			c.r.mu.Unlock()
			return transport.Result{}, err
		}
		c.r.sent.Write(in)
		cmd.Stdin = bytes.NewReader(in)
	}
	c.r.mu.Unlock()
	return c.Conn.Run(ctx, cmd)
}

// planScripts plans and returns what was sent to the hosts.
func (e *engine) planScripts() (string, *drun.PlanResult, string) {
	e.t.Helper()
	rec := &scriptRecorder{}
	var out syncBuffer
	term := report.NewTerminal(&out, &out, report.TerminalOptions{Masker: e.masker})
	opts := e.options(term)
	inner := opts.Connect
	opts.Connect = func(ctx context.Context, h *inventory.Host, b *drun.Become) (transport.Conn, error) {
		c, err := inner(ctx, h, b)
		if err != nil {
			return nil, err
		}
		return scriptConn{Conn: c, r: rec}, nil
	}
	res, err := drun.Plan(context.Background(), opts)
	e.close()
	term.Close()
	if err != nil {
		e.t.Fatal(err)
	}
	return out.String(), res, rec.sent.String()
}

// TestBatchedInitServices applies three init_service tasks (four services)
// and a service task twice on a systemd, a SysV and an OpenRC host: the
// second apply changes nothing, and a plan reads the status of every
// service with one shared read (one systemctl show; one loop over the
// start links or runlevels), not one per task.
func TestBatchedInitServices(t *testing.T) {
	for _, tc := range []struct {
		name, init string
		start      func(testing.TB, int, ...integration.Option) *integration.Fleet
		read       string // what a status read runs once per read
		stop       string
	}{
		{"systemd", "", integration.StartSystemd, "if _so=$(systemctl show", "systemctl stop drover-ib-one drover-ib-two@a drover-ib-two@b drover-ib-three"},
		{"sysv", "sysv", integration.Start, "/etc/rc[2345].d/S[0-9][0-9]", "for s in one two-a two-b three; do /etc/init.d/drover-ib-$s stop; done"},
		{"openrc", "", integration.StartOpenRC, "/etc/runlevels/*/", "for s in one two.a two.b three; do rc-service drover-ib-$s stop; done"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			f := tc.start(t, 1)
			h := f.Hosts[0]
			t.Cleanup(func() { _, _ = h.Run(tc.stop + " >/dev/null 2>&1") })
			files := map[string]string{"site.hcl": initBatchPlaybook(tc.init)}
			if n := applyOK(t, newEngine(t, f, files)); n == 0 {
				t.Fatal("the first apply changed nothing")
			}
			if n := applyOK(t, newEngine(t, f, files)); n != 0 {
				t.Errorf("the second apply changed %d tasks", n)
			}
			out, res, sent := newEngine(t, f, files).planScripts()
			if res.Summary.Failed > 0 || res.Summary.Create+res.Summary.Update+res.Summary.Delete+res.Summary.Run > 0 {
				t.Fatalf("plan of the converged host:\n%s", out)
			}
			if n := strings.Count(sent, tc.read); n != 1 {
				t.Errorf("the plan's state read runs %q %d times, want once for the four services:\n%s", tc.read, n, sent)
			}
		})
	}
}
