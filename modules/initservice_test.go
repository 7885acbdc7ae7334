package modules

import (
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"path/filepath"
	"strings"
	"testing"

	"github.com/zclconf/go-cty/cty"

	"github.com/drover-cm/drover/engine/facts"
	"github.com/drover-cm/drover/internal/golden"
	"github.com/drover-cm/drover/modules/contract"
	"github.com/drover-cm/drover/modules/initgen"
)

// initVals is a two-instance service with every option that changes a plan.
func initVals(kv ...any) cty.Value {
	m := map[string]cty.Value{
		"instances":   cty.ListVal([]cty.Value{cty.StringVal("cache"), cty.StringVal("sessions")}),
		"command":     cty.StringVal("/usr/bin/redis-server /etc/redis/${instance}.conf"),
		"user":        cty.StringVal("redis"),
		"config_test": cty.StringVal("/usr/bin/redis-server /etc/redis/${instance}.conf --test-memory 0"),
		"reload":      cty.StringVal("signal:HUP"),
	}
	for i := 0; i < len(kv); i += 2 {
		switch v := kv[i+1].(type) {
		case string:
			m[kv[i].(string)] = cty.StringVal(v)
		case bool:
			m[kv[i].(string)] = cty.BoolVal(v)
		case nil:
			delete(m, kv[i].(string))
		}
	}
	return cty.ObjectVal(m)
}

// initState is a Check output: every generated file as given by files
// ("same", "missing", "old"), the user present or not, each service's
// status fragment output.
type initState struct {
	files   string // "same", "missing" or "old"
	user    bool
	service string // a status output for every instance
	exit    int
}

func (s initState) output(t *testing.T, task *initServiceTask) contract.CheckOutput {
	return s.checkOutput(task, false)
}

// sharedOutput is the batched read's output: CheckRest's lines, and each
// instance's status in Shared, as initsys's group read gives them.
func (s initState) sharedOutput(task *initServiceTask) contract.CheckOutput {
	return s.checkOutput(task, true)
}

func (s initState) checkOutput(task *initServiceTask, shared bool) contract.CheckOutput {
	var b strings.Builder
	for i, f := range task.files {
		switch {
		case s.files == "missing":
			fmt.Fprintf(&b, "file.%d=missing\n", i)
		case f.Link != "":
			fmt.Fprintf(&b, "file.%d=link %s\n", i, f.Link)
		case s.files == "same":
			sum := sha256.Sum256(f.Content)
			fmt.Fprintf(&b, "file.%d=file %s %o\n", i, hex.EncodeToString(sum[:]), f.Mode.Perm())
		default:
			old := strings.Replace(string(f.Content), "Restart=on-failure", "Restart=always", 1) + "# old\n"
			sum := sha256.Sum256([]byte(old))
			fmt.Fprintf(&b, "file.%d=file %s 644\nblob content.%d %d\n%s\n", i, hex.EncodeToString(sum[:]), i, len(old), old)
		}
	}
	b.WriteString("user.tool.useradd=/usr/sbin/useradd\nuser.tool.usermod=/usr/sbin/usermod\n")
	if s.user {
		b.WriteString("user.passwd=redis:x:998:998::/nonexistent:/usr/sbin/nologin\nuser.primary=redis\nuser.groups=redis\n")
	}
	if shared {
		out := contract.CheckOutput{Stdout: []byte(b.String())}
		for range task.services {
			out.Shared = append(out.Shared, contract.CheckOutput{Stdout: []byte(s.service + "\n"), ExitCode: s.exit})
		}
		return out
	}
	for i := range task.services {
		fmt.Fprintf(&b, "svc.%d.exit=%d\n", i, s.exit)
		for _, l := range strings.Split(strings.TrimSpace(s.service), "\n") {
			fmt.Fprintf(&b, "svc.%d.%s\n", i, l)
		}
	}
	return contract.CheckOutput{Stdout: []byte(b.String())}
}

const (
	sdNotFound = "LoadState=not-found\nActiveState=inactive\nSubState=dead\nUnitFileState=\nNeedDaemonReload=no"
	sdRunning  = "LoadState=loaded\nActiveState=active\nSubState=running\nUnitFileState=enabled\nNeedDaemonReload=no"
)

func TestInitServiceDiff(t *testing.T) {
	old := tempSuffix
	tempSuffix = func() string { return "TMP" }
	t.Cleanup(func() { tempSuffix = old })
	cases := []struct {
		name   string
		init   string
		values cty.Value
		state  initState
	}{
		{"systemd-fresh", "systemd", initVals(), initState{files: "missing", service: sdNotFound}},
		{"systemd-converged", "systemd", initVals(), initState{files: "same", user: true, service: sdRunning}},
		{"systemd-unit-changed", "systemd", initVals(), initState{files: "old", user: true, service: sdRunning}},
		{"systemd-handler-reloaded", "systemd", initVals("state", "reloaded"), initState{files: "same", user: true, service: sdRunning}},
		{"systemd-handler-restarted", "systemd", initVals("state", "restarted"), initState{files: "same", user: true, service: sdRunning}},
		{"systemd-reloaded-without-reload", "systemd", initVals("state", "reloaded", "reload", nil), initState{files: "same", user: true, service: sdRunning}},
		{"systemd-stopped-disabled", "systemd", initVals("state", "stopped", "enabled", false), initState{files: "same", user: true, service: sdRunning}},
		{"systemd-no-user-creation", "systemd", initVals("create_user", false), initState{files: "same", user: false, service: sdRunning}},
		{"systemd-single", "systemd", initVals("instances", nil, "command", "/bin/sleep infinity", "config_test", nil, "user", nil), initState{files: "missing", service: sdNotFound}},
		{"systemd-handler-without-command", "systemd", initVals("state", "reloaded", "command", nil, "reload", nil, "user", nil), initState{files: "same", user: true, service: sdRunning}},
		// The natural handler: only the name and instances; the test installed with the service guards the restart.
		{"systemd-handler-name-only", "systemd", initVals("state", "restarted", "command", nil, "reload", nil, "user", nil, "config_test", nil), initState{files: "same", user: true, service: sdRunning}},
		{"sysv-handler-name-only", "sysv", initVals("state", "restarted", "command", nil, "reload", nil, "user", nil, "config_test", nil), initState{files: "same", user: true, service: "exists=yes\nstatus=0\nenabled=yes"}},
		{"sysv-handler-without-command", "sysv", initVals("state", "reloaded", "command", nil, "reload", nil), initState{files: "same", user: true, service: "exists=yes\nstatus=0\nenabled=yes"}},
		{"sysv-fresh", "sysv", initVals(), initState{files: "missing", user: true, service: "exists=no"}},
		{"sysv-converged", "sysv", initVals(), initState{files: "same", user: true, service: "exists=yes\nstatus=0\nenabled=yes"}},
		{"sysv-script-changed", "sysv", initVals(), initState{files: "old", user: true, service: "exists=yes\nstatus=0\nenabled=yes"}},
		{"openrc-fresh", "openrc", initVals(), initState{files: "missing", user: true, service: "exists=no\nstatus=3"}},
		{"openrc-handler-reloaded", "openrc", initVals("state", "reloaded"), initState{files: "same", user: true, service: "exists=yes\nstatus=0\nrunlevel=/etc/runlevels/default/"}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			task, err := initServiceModule{}.Configure(contract.Config{Values: c.values, Name: "redis", Facts: &facts.Facts{InitSystem: c.init}})
			if err != nil {
				t.Fatalf("Configure: %v", err)
			}
			it := task.(*initServiceTask)
			out := c.state.output(t, it)
			plan, err := task.Diff(out)
			if err != nil {
				t.Fatalf("Diff: %v", err)
			}
			got := renderPlan(t, plan)
			golden.Check(t, filepath.Join("testdata", "initservice", c.name+".txt"), got)
			if plan2, _ := task.Diff(out); renderPlan(t, plan2) != got {
				t.Error("a second Diff gave a different result")
			}
			// The shared read's output means the same.
			if plan3, err := task.Diff(c.state.sharedOutput(it)); err != nil || renderPlan(t, plan3) != got {
				t.Errorf("Diff of the shared read's output (%v):\n%s\nwant\n%s", err, renderPlan(t, plan3), got)
			}
			if strings.HasSuffix(c.name, "converged") && plan.Changed() {
				t.Errorf("a converged host plans changes:\n%s", got)
			}
		})
	}
}

func TestInitServiceConfigureErrors(t *testing.T) {
	for _, c := range []struct {
		name   string
		values cty.Value
		facts  *facts.Facts
		attr   string
		msg    string
	}{
		{"no facts", initVals(), nil, "init_system", "facts were not gathered"},
		{"no init", initVals(), &facts.Facts{InitSystem: "none"}, "init_system", "no supported init system"},
		{"bad state", initVals("state", "running"), &facts.Facts{InitSystem: "systemd"}, "state", "must be one of"},
		{"no command", initVals("command", nil), &facts.Facts{InitSystem: "systemd"}, "command", "is required"},
		{"relative program", initVals("command", "redis-server"), &facts.Facts{InitSystem: "systemd"}, "command", "absolute path"},
		{"instance without instances", initVals("instances", nil), &facts.Facts{InitSystem: "systemd"}, "instances", "no instances"},
		{"bad name", initVals("name", "a b"), &facts.Facts{InitSystem: "systemd"}, "name", "not a usable service name"},
		{"bad limit", initVals("limits", nil, "reload", "signal:NOPE"), &facts.Facts{InitSystem: "systemd"}, "reload", "unknown signal"},
	} {
		t.Run(c.name, func(t *testing.T) {
			_, err := initServiceModule{}.Configure(contract.Config{Values: c.values, Name: "redis", Facts: c.facts})
			var ae *contract.AttrError
			if !errors.As(err, &ae) || ae.Attr != c.attr || !strings.Contains(ae.Msg, c.msg) {
				t.Errorf("Configure = %v, want %s: …%s…", err, c.attr, c.msg)
			}
		})
	}
}

func TestInitServiceRelations(t *testing.T) {
	task, err := initServiceModule{}.Configure(contract.Config{Values: initVals(), Name: "redis", Facts: &facts.Facts{InitSystem: "sysv"}})
	if err != nil {
		t.Fatal(err)
	}
	r := task.(contract.Relations)
	got := fmt.Sprint(r.Provides(), r.Uses())
	for _, want := range []string{"{path /etc/init.d/redis-cache}", "{user redis}", "{service redis-sessions}", "{path /etc/init.d}", "{path /usr/bin/redis-server}"} {
		if !strings.Contains(got, want) {
			t.Errorf("relations %s lack %s", got, want)
		}
	}
	task, err = initServiceModule{}.Configure(contract.Config{Values: initVals(), Name: "redis", Facts: &facts.Facts{InitSystem: "systemd"}})
	if err != nil {
		t.Fatal(err)
	}
	if got := fmt.Sprint(task.(contract.Relations).Provides()); !strings.Contains(got, "{path /etc/systemd/system/redis@.service}") || !strings.Contains(got, "{path /etc/systemd/system/redis@cache.service}") {
		t.Errorf("systemd provides %s", got)
	}
	// The definition reader is what `drover initscript` uses.
	d, err := InitDefinition(initVals(), "redis")
	if err != nil || d.Name != "redis" || len(d.Instances) != 2 || !d.Hardening {
		t.Errorf("InitDefinition = %+v, %v", d, err)
	}
	if _, err := initgen.Generate(d, "systemd"); err != nil {
		t.Error(err)
	}
}

// TestInitServiceCheckShared: the instances' status is the service tasks'
// shared read (the same group), CheckRest reads the rest, and Check, for
// one task alone, is both.
func TestInitServiceCheckShared(t *testing.T) {
	for _, tc := range []struct{ init, status string }{
		{"systemd", "systemctl show"},
		{"sysv", "/etc/init.d/redis-cache status"},
		{"openrc", "rc-service redis.cache status"},
	} {
		t.Run(tc.init, func(t *testing.T) {
			cfg := contract.Config{Values: initVals(), Name: "redis", Facts: &facts.Facts{InitSystem: tc.init}}
			task, err := initServiceModule{}.Configure(cfg)
			if err != nil {
				t.Fatal(err)
			}
			it := task.(*initServiceTask)
			g, keys := it.CheckShared()
			svc, err := serviceModule{}.Configure(contract.Config{Values: cty.ObjectVal(map[string]cty.Value{"name": cty.StringVal("redis"), "state": cty.StringVal("started")}), Name: "s", Facts: cfg.Facts})
			if err != nil {
				t.Fatal(err)
			}
			sg, _ := svc.(contract.GroupChecker).CheckGroup()
			if g == nil || g.GroupID() != sg.GroupID() {
				t.Fatalf("group %v, want the service tasks' %q", g, sg.GroupID())
			}
			if strings.Join(keys, " ") != strings.Join(it.services, " ") || len(keys) != 2 {
				t.Errorf("keys %q, want the instances %q", keys, it.services)
			}
			rest, check := it.CheckRest(), it.Check()
			if strings.Contains(rest, tc.status) || !strings.Contains(check, tc.status) || !strings.HasPrefix(check, rest) {
				t.Errorf("CheckRest reads the status, or Check does not:\nrest:\n%s\ncheck:\n%s", rest, check)
			}
		})
	}
}
