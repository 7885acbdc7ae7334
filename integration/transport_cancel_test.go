package integration_test

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/drover-cm/drover/engine/transport"
	"github.com/drover-cm/drover/integration"
)

// TestTransportCancelKillsRemoteCommand checks that cancelling a Run stops the
// command on the host, children included, instead of waiting for it: sshd
// does not deliver signals to exec sessions, so the transport signals the
// session's process group itself. Checked as root and through sudo.
func TestTransportCancelKillsRemoteCommand(t *testing.T) {
	f := integration.Start(t, 1)
	h := f.Hosts[0]
	for _, c := range []struct {
		name, user string
		become     bool
	}{{"root", "root", false}, {"sudo", "deploy", true}} {
		t.Run(c.name, func(t *testing.T) {
			tgt := target(f, h, c.user)
			tgt.Become.Enabled = c.become
			conn := dial(t, tgt, options(f))
			marker := "drover-cancel-" + c.name
			ctx, cancel := context.WithTimeout(context.Background(), 500*time.Millisecond)
			defer cancel()
			start := time.Now()
			// A child in the background plus a foreground sleep: both must go.
			_, err := conn.Run(ctx, transportCmd("sleep 300 & sleep 301; echo "+marker))
			if err == nil {
				t.Fatal("Run returned no error after its context was cancelled")
			}
			if d := time.Since(start); d > 8*time.Second {
				t.Errorf("cancelled Run took %v; it should return within a few seconds", d)
			}
			deadline := time.Now().Add(5 * time.Second)
			for {
				ps := h.Exec(t, "ps -eo args | grep '^sleep 30[01]' || true")
				if strings.TrimSpace(ps) == "" {
					break
				}
				if time.Now().After(deadline) {
					t.Fatalf("remote commands still running after cancel:\n%s", ps)
				}
				time.Sleep(200 * time.Millisecond)
			}
		})
	}
}

func transportCmd(s string) transport.Cmd { return transport.Cmd{Command: s} }
