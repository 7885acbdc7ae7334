package modules_test

import (
	"context"
	"fmt"
	"sync/atomic"
	"testing"
	"time"

	"github.com/drover-cm/drover/engine/shell"
	"github.com/drover-cm/drover/engine/transport"
	"github.com/drover-cm/drover/integration"
)

// On a real host over SSH: every scenario, checked inside the host with
// Exec, independently of drover's transport.
func TestScenariosFleet(t *testing.T) {
	fleet := integration.Start(t, 1)
	h := fleet.Hosts[0]
	var n atomic.Int64
	for _, login := range []struct {
		name   string
		user   string
		become bool
	}{
		{"root", "root", false},
		// A non-root login with sudo: uploads, chown and renames go through become.
		{"deploy with become", integration.DeployUser, true},
	} {
		t.Run(login.name, func(t *testing.T) {
			ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
			defer cancel()
			conn, err := transport.Dial(ctx, transport.Target{
				Name: h.Name, Address: h.Addr, Port: h.Port, User: login.user,
				Identities: []string{fleet.KeyFile}, ConnectTimeout: 10 * time.Second,
				Become: transport.BecomeConfig{Enabled: login.become},
			}, transport.Options{KnownHostsFile: fleet.KnownHostsFile, NoAgent: true})
			if err != nil {
				t.Fatalf("connect to %s: %v", h.Name, err)
			}
			t.Cleanup(func() { conn.Close() })
			fleetScenarios(t, h, conn, &n)
		})
	}
}

func fleetScenarios(t *testing.T, h *integration.Host, conn transport.Conn, n *atomic.Int64) {
	tg := target{
		conn: conn,
		root: true,
		base: func(t *testing.T, name string) string {
			b := fmt.Sprintf("/srv/drover-modules/%d/%s", n.Add(1), hostileDirName)
			h.Exec(t, "mkdir -p "+shell.Quote(b))
			return b
		},
		inspect: func(t *testing.T, script string) string {
			t.Helper()
			return h.Exec(t, script)
		},
	}
	t.Run("scenarios", func(t *testing.T) { runScenarios(t, tg) })
	t.Run("edge cases", func(t *testing.T) { runEdgeCases(t, tg) })
}
