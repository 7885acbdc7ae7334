package integration_test

import (
	"os/exec"
	"strings"
	"testing"
	"time"

	"github.com/drover-cm/drover/integration"
)

// TestSystemdHosts boots two systemd hosts, runs a unit on one over SSH, and
// reboots it: the host comes back with its files and enabled unit, the other
// host untouched.
func TestSystemdHosts(t *testing.T) {
	f := integration.StartSystemd(t, 2)
	h1, h2 := f.Hosts[0], f.Hosts[1]
	for _, h := range f.Hosts {
		if got := strings.TrimSpace(h.Exec(t, "cat /proc/1/comm; hostname")); got != "systemd\n"+h.Name {
			t.Fatalf("%s: PID 1 and hostname %q, want systemd and %s", h.Name, got, h.Name)
		}
	}

	unit := `[Unit]
Description=drover fleet test unit
[Service]
ExecStart=/bin/sleep infinity
[Install]
WantedBy=multi-user.target
`
	h1.Exec(t, "cat > /etc/systemd/system/drover-test.service <<'EOF'\n"+unit+"EOF\n")
	ssh := func(h *integration.Host, cmd string) string {
		t.Helper()
		out, err := exec.Command("ssh", append(f.SSHArgs(h, "root"), cmd)...).CombinedOutput()
		if err != nil {
			t.Fatalf("ssh %s %q: %v: %s", h.Name, cmd, err, out)
		}
		return string(out)
	}
	ssh(h1, "systemctl daemon-reload && systemctl enable --now drover-test.service")
	if got := strings.TrimSpace(h1.Exec(t, "systemctl is-active drover-test.service; pgrep -x sleep >/dev/null && echo sleeping")); got != "active\nsleeping" {
		t.Fatalf("unit on host1: %q, want active and its sleep running", got)
	}
	if got := strings.TrimSpace(h2.Exec(t, "systemctl is-active drover-test.service || true")); got == "active" {
		t.Fatal("host1's unit runs on host2")
	}

	h1.Exec(t, "echo kept > /etc/drover-kept; echo gone > /run/drover-gone")
	boot := h1.Boot()
	// The SSH session may be cut by the reboot; that is not a failure.
	exec.Command("ssh", append(f.SSHArgs(h1, "root"), "systemctl reboot")...).Run()
	deadline := time.Now().Add(60 * time.Second)
	for h1.Boot() == boot {
		if time.Now().After(deadline) {
			t.Fatal("host1 did not reboot within 60 s")
		}
		time.Sleep(50 * time.Millisecond)
	}
	h1.WaitBooted(t)
	got := strings.TrimSpace(h1.Exec(t, "cat /etc/drover-kept; test -e /run/drover-gone && echo run-kept || echo run-fresh; systemctl is-active drover-test.service"))
	if got != "kept\nrun-fresh\nactive" {
		t.Errorf("after reboot: %q, want /etc kept, a fresh /run and the enabled unit active", got)
	}
	if strings.TrimSpace(ssh(h1, "hostname")) != "host1" {
		t.Error("ssh to host1 after reboot does not reach host1")
	}
	if h2.Boot() != 1 {
		t.Errorf("host2 rebooted too (boot %d)", h2.Boot())
	}

	// A power cut and a cold start keep the files too.
	h2.Exec(t, "echo kept > /etc/drover-kept")
	h2.Kill()
	h2.Restart(t)
	if got := strings.TrimSpace(h2.Exec(t, "cat /etc/drover-kept; systemctl is-system-running || true")); got != "kept\nrunning" && got != "kept\ndegraded" {
		t.Errorf("host2 after kill and restart: %q", got)
	}
}
