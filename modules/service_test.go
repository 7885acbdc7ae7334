package modules_test

import (
	"os"
	"strings"
	"testing"

	"github.com/zclconf/go-cty/cty"

	"github.com/drover-cm/drover/engine/facts"
	"github.com/drover-cm/drover/modules/contract"
	"github.com/drover-cm/drover/modules/moduletest"
)

const (
	systemdInactiveDisabled = "LoadState=loaded\nActiveState=inactive\nSubState=dead\nUnitFileState=disabled\nNeedDaemonReload=no\n"
	systemdActiveEnabled    = "LoadState=loaded\nActiveState=active\nSubState=running\nUnitFileState=enabled\nNeedDaemonReload=no\n"
	systemdChangedOnDisk    = "LoadState=loaded\nActiveState=active\nSubState=running\nUnitFileState=enabled\nNeedDaemonReload=yes\n"
	systemdStatic           = "LoadState=loaded\nActiveState=active\nSubState=running\nUnitFileState=static\nNeedDaemonReload=no\n"
	systemdNotFound         = "LoadState=not-found\nActiveState=inactive\nSubState=dead\nUnitFileState=\nNeedDaemonReload=no\n"
)

func TestServiceGolden(t *testing.T) {
	type vals = map[string]cty.Value
	tests := []struct {
		name  string
		init  string
		attrs vals
		out   string
	}{
		{"systemd-start-enable", "systemd", vals{"state": cty.StringVal("started"), "enabled": cty.True}, systemdInactiveDisabled},
		{"systemd-already-started-enabled", "systemd", vals{"state": cty.StringVal("started"), "enabled": cty.True}, systemdActiveEnabled},
		{"systemd-stop-disable", "systemd", vals{"state": cty.StringVal("stopped"), "enabled": cty.False}, systemdActiveEnabled},
		{"systemd-restart", "systemd", vals{"state": cty.StringVal("restarted")}, systemdActiveEnabled},
		{"systemd-reload", "systemd", vals{"state": cty.StringVal("reloaded")}, systemdActiveEnabled},
		{"systemd-reload-stopped", "systemd", vals{"state": cty.StringVal("reloaded")}, systemdInactiveDisabled},
		{"systemd-daemon-reload", "systemd", vals{"state": cty.StringVal("started")}, systemdChangedOnDisk},
		{"systemd-no-daemon-reload", "systemd", vals{"state": cty.StringVal("started"), "daemon_reload": cty.False}, systemdChangedOnDisk},
		{"systemd-static-enable", "systemd", vals{"enabled": cty.True}, systemdStatic},
		{"systemd-not-found-yet", "systemd", vals{"state": cty.StringVal("started"), "enabled": cty.True}, systemdNotFound},
		{"openrc-start-enable", "openrc", vals{"state": cty.StringVal("started"), "enabled": cty.True}, "exists=yes\nstatus=3\n"},
		{"openrc-stop-disable", "openrc", vals{"state": cty.StringVal("stopped"), "enabled": cty.False}, "exists=yes\nstatus=0\nrunlevel=/etc/runlevels/default/\n"},
		{"openrc-crashed-start", "openrc", vals{"state": cty.StringVal("started")}, "exists=yes\nstatus=32\nrunlevel=/etc/runlevels/default/\n"},
		{"sysv-start-enable", "sysv", vals{"state": cty.StringVal("started"), "enabled": cty.True}, "exists=yes\nstatus=3\n"},
		{"sysv-stop", "sysv", vals{"state": cty.StringVal("stopped")}, "exists=yes\nstatus=0\nenabled=yes\n"},
		{"sysv-restart", "sysv", vals{"state": cty.StringVal("restarted")}, "exists=yes\nstatus=0\nenabled=yes\n"},
		{"sysv-missing-script", "sysv", vals{"state": cty.StringVal("started")}, "exists=no\n"},
	}
	m := psModule(t, "service")
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			attrs := vals{"name": cty.StringVal("nginx")}
			for k, v := range tt.attrs {
				attrs[k] = v
			}
			task, err := m.Configure(contract.Config{Values: cty.ObjectVal(attrs), Facts: &facts.Facts{InitSystem: tt.init}})
			if err != nil {
				t.Fatalf("Configure: %v", err)
			}
			plan, err := task.Diff(contract.CheckOutput{Stdout: []byte(tt.out)})
			if err != nil {
				t.Fatalf("Diff: %v", err)
			}
			psGolden(t, "service", tt.name, psRender(task, plan))
			psShellcheck(t, task, plan)
		})
	}
}

// TestServiceActionsAlwaysChange pins the idempotence contract: started,
// stopped and enabled converge; restarted and reloaded report a change on
// every run.
func TestServiceActionsAlwaysChange(t *testing.T) {
	m := psModule(t, "service")
	for _, state := range []string{"restarted", "reloaded"} {
		task, err := m.Configure(contract.Config{Values: cty.ObjectVal(map[string]cty.Value{
			"name": cty.StringVal("nginx"), "state": cty.StringVal(state), "init_system": cty.StringVal("systemd")})})
		if err != nil {
			t.Fatal(err)
		}
		for run := 0; run < 2; run++ {
			plan, err := task.Diff(contract.CheckOutput{Stdout: []byte(systemdActiveEnabled)})
			if err != nil {
				t.Fatal(err)
			}
			if !plan.Changed() || plan.Changes[0].Action != contract.Run {
				t.Errorf("%s, run %d: plan %+v, want a run change", state, run+1, plan.Changes)
			}
		}
	}
}

func TestServiceConfigureErrors(t *testing.T) {
	m := psModule(t, "service")
	sd := &facts.Facts{InitSystem: "systemd"}
	tests := []struct {
		name  string
		attrs map[string]cty.Value
		facts *facts.Facts
		attr  string
		want  string
	}{
		{"no name", map[string]cty.Value{"state": cty.StringVal("started")}, sd, "name", "required"},
		{"path as name", map[string]cty.Value{"name": cty.StringVal("../../bin/sh"), "state": cty.StringVal("started")}, sd, "name", "not a path"},
		{"option as name", map[string]cty.Value{"name": cty.StringVal("--now"), "state": cty.StringVal("started")}, sd, "name", "must not start with '-'"},
		{"bad state", map[string]cty.Value{"name": cty.StringVal("x"), "state": cty.StringVal("running")}, sd, "state", "must be one of"},
		{"nothing to do", map[string]cty.Value{"name": cty.StringVal("x")}, sd, "state", "nothing to do"},
		{"no facts", map[string]cty.Value{"name": cty.StringVal("x"), "state": cty.StringVal("started")}, nil, "init_system", "facts were not gathered"},
		{"no init system", map[string]cty.Value{"name": cty.StringVal("x"), "state": cty.StringVal("started")}, &facts.Facts{InitSystem: "none"}, "init_system", "no supported init system"},
		{"unknown override", map[string]cty.Value{"name": cty.StringVal("x"), "state": cty.StringVal("started"), "init_system": cty.StringVal("upstart")}, sd, "init_system", "unsupported"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := m.Configure(contract.Config{Values: cty.ObjectVal(tt.attrs), Facts: tt.facts})
			ae, ok := err.(*contract.AttrError)
			if !ok || ae.Attr != tt.attr || !strings.Contains(ae.Msg, tt.want) {
				t.Fatalf("Configure error = %#v, want an AttrError on %s containing %q", err, tt.attr, tt.want)
			}
		})
	}
}

func TestServiceCheckFailureCarriesStderr(t *testing.T) {
	m := psModule(t, "service")
	task, err := m.Configure(contract.Config{Values: cty.ObjectVal(map[string]cty.Value{
		"name": cty.StringVal("nginx"), "state": cty.StringVal("started")}), Facts: &facts.Facts{InitSystem: "systemd"}})
	if err != nil {
		t.Fatal(err)
	}
	_, err = task.Diff(contract.CheckOutput{Stderr: []byte("System has not been booted with systemd as init system (PID 1). Can't operate.\n"), ExitCode: 1})
	if err == nil || !strings.Contains(err.Error(), "not been booted with systemd") {
		t.Errorf("Diff error = %v, want systemctl's message", err)
	}
}

func TestServiceRelations(t *testing.T) {
	m := psModule(t, "service")
	for _, tt := range []struct{ init, name, path string }{
		{"systemd", "nginx", "/etc/systemd/system/nginx.service"},
		{"systemd", "php8.2-fpm", "/etc/systemd/system/php8.2-fpm.service"},
		{"systemd", "backup.timer", "/etc/systemd/system/backup.timer"},
		{"sysv", "nginx", "/etc/init.d/nginx"},
		{"openrc", "nginx", "/etc/init.d/nginx"},
	} {
		task, err := m.Configure(contract.Config{Values: cty.ObjectVal(map[string]cty.Value{
			"name": cty.StringVal(tt.name), "state": cty.StringVal("started"), "init_system": cty.StringVal(tt.init)})})
		if err != nil {
			t.Fatal(err)
		}
		r, ok := task.(contract.Relations)
		if !ok {
			t.Fatal("service task does not implement Relations")
		}
		if u := r.Uses(); len(u) != 1 || u[0] != (contract.Resource{Kind: "path", Name: tt.path}) {
			t.Errorf("%s %s: Uses() = %v, want path %s", tt.init, tt.name, u, tt.path)
		}
		if p := r.Provides(); len(p) != 1 || p[0] != (contract.Resource{Kind: "service", Name: tt.name}) {
			t.Errorf("Provides() = %v", p)
		}
	}
}

// TestServiceHostileNameIsQuoted runs each init system's read-only status
// fragment here for a name full of shell syntax: nothing may execute.
func TestServiceHostileNameIsQuoted(t *testing.T) {
	// Names hold no '/', so the marker is made in the shell's working
	// directory, the test's.
	const marker = "drover-service-pwned"
	name := "x$(touch${IFS}" + marker + ")`touch${IFS}" + marker + "`;touch${IFS}" + marker + "'\""
	t.Cleanup(func() { os.Remove(marker) })
	m := psModule(t, "service")
	for _, init := range []string{"systemd", "openrc", "sysv"} {
		task, err := m.Configure(contract.Config{Values: cty.ObjectVal(map[string]cty.Value{
			"name": cty.StringVal(name), "state": cty.StringVal("started"), "init_system": cty.StringVal(init)})})
		if err != nil {
			t.Fatalf("%s: %v", init, err)
		}
		if _, err := moduletest.Plan(t, &moduletest.ShellConn{}, task); err != nil {
			t.Logf("%s: %v (expected where the init system is absent)", init, err)
		}
		if _, err := os.Stat(marker); err == nil {
			t.Fatalf("%s: the service name was executed by the shell", init)
		}
	}
}
