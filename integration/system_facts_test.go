package integration_test

import (
	"context"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/drover-cm/drover/engine/facts"
	"github.com/drover-cm/drover/engine/transport"
	"github.com/drover-cm/drover/integration"
)

// osConn connects to h over SSH as user with the fleet's key.
func osConn(t *testing.T, f *integration.Fleet, h *integration.Host, user string) transport.Conn {
	t.Helper()
	return osConnBecome(t, f, h, user, transport.BecomeConfig{})
}

// osConnBecome is osConn with privilege escalation.
func osConnBecome(t *testing.T, f *integration.Fleet, h *integration.Host, user string, become transport.BecomeConfig) transport.Conn {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	c, err := transport.Dial(ctx, transport.Target{
		Name: h.Name, Address: h.Addr, Port: h.Port, User: user,
		Identities: []string{f.KeyFile}, ConnectTimeout: 10 * time.Second, Become: become,
	}, transport.Options{KnownHostsFile: f.KnownHostsFile, NoAgent: true})
	if err != nil {
		t.Fatalf("connect to %s as %s: %v", h.Name, user, err)
	}
	t.Cleanup(func() { c.Close() })
	return c
}

// osGather gathers facts over conn and checks that it took one round trip.
func osGather(t *testing.T, conn transport.Conn) *facts.Facts {
	t.Helper()
	before := conn.Stats().RoundTrips
	f, err := facts.Gather(context.Background(), conn)
	if err != nil {
		t.Fatalf("facts.Gather: %v", err)
	}
	if n := conn.Stats().RoundTrips - before; n != 1 {
		t.Errorf("gathering facts took %d round trips, want 1", n)
	}
	return f
}

// wantFactsOf compares facts with what the host says through Exec,
// independently of drover's script and transport.
func wantFactsOf(t *testing.T, h *integration.Host, f *facts.Facts) {
	t.Helper()
	probe := strings.Split(h.Exec(t, `. /etc/os-release; printf '%s\n' "$(hostname)" "$ID" "$VERSION_ID" "$(uname -r)" "$(uname -m)" "$(nproc)" "$(hostname -I 2>/dev/null | cut -d' ' -f1)"`), "\n")
	want := map[string]string{
		"hostname": probe[0], "os_id": probe[1], "os_version": probe[2], "kernel": probe[3], "arch": probe[4], "cpus": probe[5],
	}
	got := map[string]string{
		"hostname": f.Hostname, "os_id": f.OSID, "os_version": f.OSVersion, "kernel": f.Kernel, "arch": f.Arch, "cpus": strconv.Itoa(f.CPUs),
	}
	for k, w := range want {
		if got[k] != w {
			t.Errorf("fact %s = %q, host says %q", k, got[k], w)
		}
	}
	if f.OSFamily != "debian" || f.PackageManager != "apt" || f.MemoryMB <= 0 {
		t.Errorf("facts of a Debian host: family %q, package manager %q, memory %d MiB", f.OSFamily, f.PackageManager, f.MemoryMB)
	}
	if first := probe[6]; first != "" && (len(f.Addresses) == 0 || !strings.Contains(strings.Join(f.Addresses, " "), first)) {
		t.Errorf("addresses %q do not include the host's %q", f.Addresses, first)
	}
}

func TestSystemFactsPlainHost(t *testing.T) {
	fleet := integration.Start(t, 1)
	h := fleet.Hosts[0]

	root := osGather(t, osConn(t, fleet, h, "root"))
	wantFactsOf(t, h, root)
	if root.User != "root" || root.EffectiveUser != "root" {
		t.Errorf("user %q, effective user %q; want root", root.User, root.EffectiveUser)
	}
	// sshd is PID 1 of a plain host: systemd is installed (/sbin/init links
	// to it) but not running, so the rules say "none".
	if h.Exec(t, "if [ -d /run/systemd/system ]; then echo yes; fi") == "" && root.InitSystem != "none" {
		t.Errorf("init system %q on a host without a running init, want none", root.InitSystem)
	}

	// A non-root login has no /sbin in PATH; the facts must not change.
	deploy := osGather(t, osConn(t, fleet, h, integration.DeployUser))
	wantFactsOf(t, h, deploy)
	if deploy.User != integration.DeployUser || deploy.InitSystem != root.InitSystem || deploy.PackageManager != root.PackageManager {
		t.Errorf("as %s: user %q, init %q, package manager %q; as root: init %q, package manager %q",
			integration.DeployUser, deploy.User, deploy.InitSystem, deploy.PackageManager, root.InitSystem, root.PackageManager)
	}
	if v := root.Value(); v.GetAttr("os_id").AsString() != root.OSID {
		t.Errorf("Value().os_id = %#v", v.GetAttr("os_id"))
	}

	// Through sudo the login user is still the one who logged in.
	sudo := osGather(t, osConnBecome(t, fleet, h, integration.DeployUser, transport.BecomeConfig{Enabled: true, User: "root"}))
	if sudo.User != integration.DeployUser || sudo.EffectiveUser != "root" {
		t.Errorf("with become: user %q, effective user %q; want %s and root", sudo.User, sudo.EffectiveUser, integration.DeployUser)
	}
}

// TestSystemFactsRootfsHost gathers facts on a host whose root is a
// debootstrap'd Debian, not this machine's.
func TestSystemFactsRootfsHost(t *testing.T) {
	fleet := integration.Start(t, 1, integration.WithRootfs())
	h := fleet.Hosts[0]
	f := osGather(t, osConn(t, fleet, h, "root"))
	wantFactsOf(t, h, f)
	if f.OSVersion != "12" || f.OSCodename != "bookworm" {
		t.Errorf("rootfs facts: version %q, codename %q; want Debian 12 bookworm", f.OSVersion, f.OSCodename)
	}
}
