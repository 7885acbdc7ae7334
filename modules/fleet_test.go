package modules_test

import (
	"context"
	"fmt"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/zclconf/go-cty/cty"

	"github.com/drover-cm/drover/engine/remote"
	"github.com/drover-cm/drover/engine/shell"
	"github.com/drover-cm/drover/engine/transport"
	"github.com/drover-cm/drover/integration"
	"github.com/drover-cm/drover/modules/contract"
	"github.com/drover-cm/drover/modules/moduletest"
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
			fleetScenarios(t, h, dialFleet(t, fleet, h, login.user, login.become), &n)
		})
	}
}

// dialFleet connects to fleet host h over SSH as user.
func dialFleet(t *testing.T, fleet *integration.Fleet, h *integration.Host, user string, become bool) transport.Conn {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	conn, err := transport.Dial(ctx, transport.Target{
		Name: h.Name, Address: h.Addr, Port: h.Port, User: user,
		Identities: []string{fleet.KeyFile}, ConnectTimeout: 10 * time.Second,
		Become: transport.BecomeConfig{Enabled: become},
	}, transport.Options{KnownHostsFile: fleet.KnownHostsFile, NoAgent: true})
	if err != nil {
		t.Fatalf("connect to %s: %v", h.Name, err)
	}
	t.Cleanup(func() { conn.Close() })
	return conn
}

// TestIniHostileUserFleet: ini running as root on a file in another user's
// directory never reads or writes through a link that user planted, before
// the plan or between plan and apply.
func TestIniHostileUserFleet(t *testing.T) {
	fleet := integration.Start(t, 1)
	h := fleet.Hosts[0]
	conn := dialFleet(t, fleet, h, "root", false)
	home := "/home/" + integration.AttackerUser
	shadow := h.Exec(t, "cat /etc/shadow")
	ini := func(p string, extra ...string) contract.Task {
		vals := map[string]cty.Value{"path": cty.StringVal(p), "section": cty.StringVal("s"), "key": cty.StringVal("k"), "value": cty.StringVal("v")}
		for i := 0; i < len(extra); i += 2 {
			vals[extra[i]] = cty.StringVal(extra[i+1])
		}
		return moduletest.Configure(t, mod(t, "ini"), contract.Config{Values: moduletest.Values(vals)})
	}
	unchanged := func(t *testing.T) {
		t.Helper()
		if h.Exec(t, "cat /etc/shadow") != shadow {
			t.Fatal("/etc/shadow changed")
		}
	}

	t.Run("a link planted before the plan", func(t *testing.T) {
		h.ExecAs(t, integration.AttackerUser, "ln -sf /etc/shadow ~/link.ini")
		task := ini(home + "/link.ini")
		outs, err := remote.CheckAll(context.Background(), conn, []contract.Task{task})
		if err != nil {
			t.Fatal(err)
		}
		if o := outs[0]; o.Path != nil && len(o.Path.Content) > 0 || strings.Contains(string(o.Stdout), "root:") {
			t.Errorf("the state read sent the link's target back: %+v", o)
		}
		if _, err := task.Diff(outs[0]); err == nil || !strings.Contains(err.Error(), "is a symbolic link") {
			t.Errorf("plan: %v, want a refusal of the link", err)
		}
	})

	for _, swap := range []struct{ name, script, want string }{
		{"the file swapped for a link after the plan", "rm ~/app.ini && ln -s /etc/shadow ~/app.ini", "was replaced since it was read"},
		{"its directory swapped for a link after the plan", "mv ~/conf ~/conf.old && ln -s /etc ~/conf", "symbolic link"},
	} {
		t.Run(swap.name, func(t *testing.T) {
			h.ExecAs(t, integration.AttackerUser, "rm -rf ~/conf ~/conf.old ~/app.ini; mkdir ~/conf; printf '[s]\\nk = old\\n' | tee ~/app.ini > ~/conf/shadow")
			p := home + "/app.ini"
			if strings.Contains(swap.name, "directory") {
				p = home + "/conf/shadow"
			}
			plan := moduletest.MustPlan(t, conn, ini(p, "owner", integration.AttackerUser))
			h.ExecAs(t, integration.AttackerUser, swap.script)
			if _, err := remote.Apply(context.Background(), conn, plan); err == nil || !strings.Contains(err.Error(), swap.want) {
				t.Errorf("apply: %v, want an error containing %q", err, swap.want)
			}
			unchanged(t)
		})
	}

	t.Run("owned by the user, applied twice", func(t *testing.T) {
		h.ExecAs(t, integration.AttackerUser, "rm -rf ~/own.ini")
		moduletest.ApplyTwice(t, conn, mod(t, "ini"), contract.Config{Values: moduletest.Values(map[string]cty.Value{
			"path": cty.StringVal(home + "/own.ini"), "key": cty.StringVal("k"), "value": cty.StringVal("v"),
			"owner": cty.StringVal(integration.AttackerUser), "mode": cty.StringVal("0600"),
		})})
		expect(t, "file", h.Exec(t, "stat -c '%U %a' "+home+"/own.ini; cat "+home+"/own.ini"), integration.AttackerUser+" 600\nk = v\n")
		unchanged(t)
	})
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
