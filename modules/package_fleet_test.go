package modules_test

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/zclconf/go-cty/cty"

	"github.com/drover-cm/drover/engine/transport"
	"github.com/drover-cm/drover/integration"
	"github.com/drover-cm/drover/modules/contract"
	"github.com/drover-cm/drover/modules/moduletest"
)

// TestPackageWithoutFactsFleet installs and removes a real package on a
// debootstrap'd Debian fleet host with no facts and no package_manager: the
// check finds apt on the host. Each state is applied twice; the second plan
// must be empty. The host shares this machine's network (Debian mirrors).
func TestPackageWithoutFactsFleet(t *testing.T) {
	fleet := integration.Start(t, 1, integration.WithRootfs())
	h := fleet.Hosts[0]
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	conn, err := transport.Dial(ctx, transport.Target{
		Name: h.Name, Address: h.Addr, Port: h.Port, User: "root",
		Identities: []string{fleet.KeyFile}, ConnectTimeout: 10 * time.Second,
	}, transport.Options{KnownHostsFile: fleet.KnownHostsFile, NoAgent: true})
	if err != nil {
		t.Fatalf("connect to %s: %v", h.Name, err)
	}
	t.Cleanup(func() { conn.Close() })

	const pkg = "tree"
	h.Exec(t, "if dpkg -s "+pkg+" >/dev/null 2>&1; then DEBIAN_FRONTEND=noninteractive apt-get remove -y -q "+pkg+"; fi")
	m := psModule(t, "package")
	installed := func() bool {
		out, err := h.Run("dpkg -s " + pkg)
		return err == nil && strings.Contains(out, "\nStatus: install ok installed\n")
	}
	cfg := func(state string, names ...string) contract.Config {
		// No Facts: the play gathered none.
		return contract.Config{Values: cty.ObjectVal(map[string]cty.Value{
			"names": psStrings(names...), "state": cty.StringVal(state)})}
	}

	t.Run("present", func(t *testing.T) {
		plan, _ := moduletest.ApplyTwice(t, conn, m, cfg("present", pkg, "coreutils"))
		var added bool
		for _, c := range plan.Changes {
			if c.Subject == "package coreutils" {
				t.Errorf("plan changes coreutils, which is installed: %+v", c)
			}
			if c.Action == contract.Create && c.Subject == "package "+pkg {
				// The candidate came from apt-cache policy, asked about tree alone.
				added = len(c.Attrs) == 1 && c.Attrs[0].Old == "absent" && c.Attrs[0].New != "newest available"
			}
		}
		if !added {
			t.Errorf("plan does not install %s with its candidate version:\n%s", pkg, moduletest.Describe(plan))
		}
		if !installed() {
			t.Fatalf("%s is not installed after apply", pkg)
		}
	})
	t.Run("latest", func(t *testing.T) {
		// tree came from the mirror just now: its candidate is installed.
		task := moduletest.Configure(t, m, cfg("latest", pkg))
		if plan := moduletest.MustPlan(t, conn, task); plan.Changed() {
			t.Errorf("latest right after install changes something:\n%s", moduletest.Describe(plan))
		}
	})
	t.Run("absent", func(t *testing.T) {
		plan, _ := moduletest.ApplyTwice(t, conn, m, cfg("absent", pkg))
		if len(plan.Changes) != 1 || plan.Changes[0].Action != contract.Delete {
			t.Errorf("plan %s, want one delete", moduletest.Describe(plan))
		}
		if installed() {
			t.Fatalf("%s still installed after state = absent", pkg)
		}
	})
}
