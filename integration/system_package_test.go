package integration_test

import (
	"strings"
	"testing"

	"github.com/zclconf/go-cty/cty"

	"github.com/drover-cm/drover/integration"
	"github.com/drover-cm/drover/modules/contract"
)

// TestSystemPackageApt installs and removes a real Debian package on a fleet
// host with apt, from the Debian mirrors: the host shares this machine's
// network and its apt sources.
func TestSystemPackageApt(t *testing.T) {
	fleet := integration.Start(t, 1)
	h := fleet.Hosts[0]
	s := &svcHost{h: h, conn: osConn(t, fleet, h, "root")}
	s.facts = osGather(t, s.conn)
	if s.facts.PackageManager != "apt" {
		t.Fatalf("facts say package manager %q on a Debian host", s.facts.PackageManager)
	}
	const pkg = "tree"
	if _, err := h.Run("dpkg -s " + pkg); err == nil {
		h.Exec(t, "DEBIAN_FRONTEND=noninteractive apt-get remove -y -q "+pkg)
	}
	// Age the index so that update_cache must refresh it.
	h.Exec(t, "mkdir -p /var/lib/apt/periodic && touch /var/lib/apt/periodic/update-success-stamp && touch -d '3 hours ago' /var/lib/apt/periodic/update-success-stamp /var/lib/apt/lists")
	names := cty.ListVal([]cty.Value{cty.StringVal(pkg)})
	installed := func() bool {
		out, err := h.Run("dpkg -s " + pkg)
		return err == nil && strings.Contains(out, "\nStatus: install ok installed\n")
	}

	t.Run("present with update_cache", func(t *testing.T) {
		plan := s.converge(t, "package", map[string]cty.Value{"names": names, "update_cache": cty.True})
		var refreshed, added bool
		for _, c := range plan.Changes {
			refreshed = refreshed || (c.Action == contract.Run && strings.Contains(c.Subject, "index"))
			added = added || (c.Action == contract.Create && c.Subject == "package "+pkg && len(c.Attrs) == 1 && c.Attrs[0].Old == "absent")
		}
		if !refreshed || !added {
			t.Errorf("plan does not refresh the 3h-old index and install %s:\n%+v", pkg, plan.Changes)
		}
		if !installed() {
			t.Fatalf("%s is not installed after apply: %s", pkg, h.Exec(t, "dpkg -s "+pkg+" 2>&1 || true"))
		}
		// The refresh left the index fresh: the stamp is new.
		if out := h.Exec(t, "find /var/lib/apt/periodic/update-success-stamp -mmin -5"); strings.TrimSpace(out) == "" {
			t.Error("the index refresh did not touch update-success-stamp")
		}
	})
	t.Run("latest", func(t *testing.T) {
		s.unchanged(t, "package", map[string]cty.Value{"names": names, "state": cty.StringVal("latest"), "update_cache": cty.True})
	})
	t.Run("absent", func(t *testing.T) {
		plan := s.converge(t, "package", map[string]cty.Value{"names": names, "state": cty.StringVal("absent")})
		if len(plan.Changes) != 1 || plan.Changes[0].Action != contract.Delete {
			t.Errorf("plan %+v, want one delete", plan.Changes)
		}
		if installed() {
			t.Fatalf("%s still installed after state = absent", pkg)
		}
	})
	t.Run("unknown package fails with apt's message", func(t *testing.T) {
		err := s.applyOnce(t, "package", map[string]cty.Value{"names": cty.ListVal([]cty.Value{cty.StringVal("drover-no-such-package")})})
		if err == nil || !strings.Contains(err.Error(), "Unable to locate package drover-no-such-package") {
			t.Errorf("installing an unknown package: %v, want apt-get's message", err)
		}
	})
}
