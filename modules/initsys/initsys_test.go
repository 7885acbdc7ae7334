package initsys

import (
	"fmt"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/drover-cm/drover/internal/golden"
)

// TestGoldenCommands pins the fragments each init system generates, for a
// plain name and one that needs quoting.
func TestGoldenCommands(t *testing.T) {
	for _, name := range Names() {
		t.Run(name, func(t *testing.T) {
			sys, err := Lookup(name)
			if err != nil {
				t.Fatal(err)
			}
			var b strings.Builder
			for _, svc := range []string{"nginx", "odd name's@x"} {
				ops := []struct {
					op, frag string
				}{
					{"status", sys.Status(svc)},
					{"start", sys.Start(svc)},
					{"stop", sys.Stop(svc)},
					{"restart", sys.Restart(svc)},
					{"reload", sys.Reload(svc)},
					{"enable", sys.Enable(svc)},
					{"disable", sys.Disable(svc)},
				}
				for _, o := range ops {
					fmt.Fprintf(&b, "## %s %s\n%s\n", o.op, svc, strings.TrimRight(o.frag, "\n"))
				}
			}
			fmt.Fprintf(&b, "## daemon-reload\n%s\n", sys.DaemonReload())
			golden.Check(t, filepath.Join("testdata", name+".golden"), b.String())
			checkSyntax(t, b.String())
		})
	}
}

// checkSyntax parses the fragments with dash -n (no execution), and lints
// them with shellcheck as POSIX sh when it is installed.
func checkSyntax(t *testing.T, script string) {
	t.Helper()
	if dash, err := exec.LookPath("dash"); err == nil {
		if out, err := exec.Command(dash, "-n", "-c", script).CombinedOutput(); err != nil {
			t.Errorf("dash -n: %v: %s", err, out)
		}
	}
	if sc, err := exec.LookPath("shellcheck"); err == nil {
		cmd := exec.Command(sc, "-s", "sh", "-")
		cmd.Stdin = strings.NewReader(script)
		if out, err := cmd.CombinedOutput(); err != nil {
			t.Errorf("shellcheck: %v\n%s", err, out)
		}
	}
}

func TestLookup(t *testing.T) {
	for _, n := range []string{"systemd", "openrc", "sysv"} {
		if s, err := Lookup(n); err != nil || s.Name() != n {
			t.Errorf("Lookup(%q) = %v, %v", n, s, err)
		}
	}
	for _, n := range []string{"", "none", "upstart"} {
		if _, err := Lookup(n); err == nil || !strings.Contains(err.Error(), "init_system") && !strings.Contains(err.Error(), "drover knows") {
			t.Errorf("Lookup(%q) error = %v", n, err)
		}
	}
}

func TestCheckName(t *testing.T) {
	for _, ok := range []string{"nginx", "getty@tty1.service", "php8.2-fpm", "a_b:c"} {
		if err := CheckName(ok); err != nil {
			t.Errorf("CheckName(%q) = %v", ok, err)
		}
	}
	for _, bad := range []string{"", "-x", "../etc/passwd", "a b", "a\nb", ".."} {
		if err := CheckName(bad); err == nil {
			t.Errorf("CheckName(%q) accepted it", bad)
		}
	}
}

func TestParseStatus(t *testing.T) {
	tests := []struct {
		sys     System
		name    string
		out     string
		code    int
		want    Status
		wantErr string
	}{
		{Systemd{}, "running, enabled", "LoadState=loaded\nActiveState=active\nSubState=running\nUnitFileState=enabled\nNeedDaemonReload=no\n", 0,
			Status{Exists: true, Active: true, Enabled: true, Detail: "active (running)"}, ""},
		{Systemd{}, "stopped, disabled, changed on disk", "LoadState=loaded\nActiveState=inactive\nSubState=dead\nUnitFileState=disabled\nNeedDaemonReload=yes\n", 0,
			Status{Exists: true, NeedsReload: true, Detail: "inactive (dead)"}, ""},
		{Systemd{}, "failed", "LoadState=loaded\nActiveState=failed\nSubState=failed\nUnitFileState=enabled\nNeedDaemonReload=no\n", 0,
			Status{Exists: true, Enabled: true, Detail: "failed"}, ""},
		{Systemd{}, "static", "LoadState=loaded\nActiveState=inactive\nSubState=dead\nUnitFileState=static\nNeedDaemonReload=no\n", 0,
			Status{Exists: true, Static: true, Detail: "inactive (dead)"}, ""},
		{Systemd{}, "not found", "LoadState=not-found\nActiveState=inactive\nSubState=dead\nUnitFileState=\nNeedDaemonReload=no\n", 0,
			Status{Detail: "inactive (dead)"}, ""},
		{Systemd{}, "masked", "LoadState=masked\nActiveState=inactive\nSubState=dead\nUnitFileState=masked\nNeedDaemonReload=no\n", 0,
			Status{Exists: true, Detail: "masked"}, ""},
		{Systemd{}, "no systemctl", "", 127, Status{}, "systemctl is not installed"},
		{Systemd{}, "bus error", "", 1, Status{}, "exit status 1"},

		{OpenRC{}, "started, in default", "exists=yes\nstatus=0\nrunlevel=/etc/runlevels/default/\n", 0,
			Status{Exists: true, Active: true, Enabled: true, Detail: "started"}, ""},
		{OpenRC{}, "stopped, in boot", "exists=yes\nstatus=3\nrunlevel=/etc/runlevels/boot/\n", 0,
			Status{Exists: true, Enabled: true, Detail: "stopped"}, ""},
		{OpenRC{}, "crashed, not enabled", "exists=yes\nstatus=32\n", 0,
			Status{Exists: true, Detail: "crashed"}, ""},
		{OpenRC{}, "missing", "exists=no\nstatus=1\n", 0, Status{Detail: "status 1"}, ""},
		{OpenRC{}, "no rc-service", "exists=no\nstatus=127\n", 0, Status{}, "rc-service is not installed"},
		{OpenRC{}, "nothing printed", "", 2, Status{}, "printed nothing"},

		{SysV{}, "running, enabled", "exists=yes\nstatus=0\nenabled=yes\n", 0,
			Status{Exists: true, Active: true, Enabled: true, Detail: "running"}, ""},
		{SysV{}, "not running", "exists=yes\nstatus=3\n", 0, Status{Exists: true, Detail: "not running"}, ""},
		{SysV{}, "dead with pid file", "exists=yes\nstatus=1\n", 0, Status{Exists: true, Detail: "dead, pid file exists"}, ""},
		{SysV{}, "no script", "exists=no\n", 0, Status{Detail: "no init script"}, ""},
		{SysV{}, "garbage", "exists=yes\nstatus=x\n", 0, Status{}, "malformed"},
	}
	for _, tt := range tests {
		t.Run(tt.sys.Name()+"/"+tt.name, func(t *testing.T) {
			got, err := tt.sys.ParseStatus([]byte(tt.out), tt.code)
			if tt.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
					t.Fatalf("error = %v, want one containing %q", err, tt.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if got != tt.want {
				t.Errorf("got  %+v\nwant %+v", got, tt.want)
			}
		})
	}
}
