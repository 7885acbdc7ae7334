package modules

import (
	"fmt"
	"strings"

	"github.com/zclconf/go-cty/cty"

	"github.com/drover-cm/drover/modules/contract"
	"github.com/drover-cm/drover/modules/initsys"
)

// serviceModule starts, stops, restarts, reloads, enables and disables a
// service through the host's init system (modules/initsys).
type serviceModule struct{}

var serviceSpec = &contract.Spec{
	Name:       "service",
	NeedsFacts: true,
	Summary:    "Start, stop, restart or reload a service and choose whether it starts at boot.",
	Doc: `Drives the host's init system: systemd (systemctl), OpenRC (rc-service,
rc-update) or SysV init scripts (/etc/init.d/NAME, with update-rc.d, chkconfig
or rcN.d links for boot). The init system comes from the host's facts
(host.facts.init_system); init_system overrides it.

"started", "stopped" and enabled are states: the task changes something only
when the service is not already so, and a second run reports no change.
"restarted" and "reloaded" are actions: they run, and report a change, every
time the task runs, which is what a handler notified by a changed
configuration file wants. "reloaded" starts a service that is not running.

With systemd, a unit whose file changed on disk since systemd last read it
(NeedDaemonReload) gets "systemctl daemon-reload" first, unless daemon_reload
is false. A unit that cannot be enabled or disabled (static, generated,
transient) is left as it is whatever enabled says.

A service that does not exist yet when the plan is made (a package task before
it installs it) is planned as stopped and disabled; if it still does not exist
when the task runs, the init system's own error is reported.`,
	Attributes: []contract.Attribute{
		{Name: "name", Type: cty.String, Required: true,
			Doc: `The service: a systemd unit ("nginx" means nginx.service), an OpenRC service or an /etc/init.d script name.`},
		{Name: "state", Type: cty.String,
			Doc: `"started", "stopped", "restarted" or "reloaded". Unset: whether it runs is left alone.`},
		{Name: "enabled", Type: cty.Bool,
			Doc: "Whether the service starts at boot. Unset: left alone."},
		{Name: "init_system", Type: cty.String,
			Doc: `"systemd", "openrc" or "sysv", instead of the init system the host's facts report.`},
		{Name: "daemon_reload", Type: cty.Bool, Default: cty.True,
			Doc: "systemd only: run systemctl daemon-reload first when the unit's file changed on disk."},
	},
	Example: `service "nginx" {
  name    = "nginx"
  state   = "started"
  enabled = true
}`,
}

func (serviceModule) Spec() *contract.Spec { return serviceSpec }

func (serviceModule) Configure(cfg contract.Config) (contract.Task, error) {
	a := readAttrs(serviceSpec, cfg)
	t := &serviceTask{}
	t.name, _ = a.str("name")
	if err := initsys.CheckName(t.name); err != nil && a.err == nil {
		a.fail("name", "%v", err)
	}
	if _, ok := a.str("state"); ok {
		t.state = a.enum("state", "started", "stopped", "restarted", "reloaded")
	}
	if v := a.get("enabled"); v != cty.NilVal {
		e := v.True()
		t.enabled = &e
	}
	t.daemonReload = a.boolean("daemon_reload")
	sysName, set := a.str("init_system")
	if a.err != nil {
		return nil, a.err
	}
	if t.state == "" && t.enabled == nil {
		return nil, &contract.AttrError{Attr: "state", Msg: "set state, enabled or both: the task has nothing to do"}
	}
	if !set {
		if cfg.Facts == nil {
			return nil, &contract.AttrError{Attr: "init_system", Msg: "the host's facts were not gathered, so its init system is unknown; gather facts or set init_system"}
		}
		sysName = cfg.Facts.InitSystem
	}
	sys, err := initsys.Lookup(sysName)
	if err != nil {
		return nil, &contract.AttrError{Attr: "init_system", Msg: err.Error()}
	}
	t.sys = sys
	return t, nil
}

type serviceTask struct {
	name         string
	state        string // "" when not managed
	enabled      *bool  // nil when not managed
	daemonReload bool
	sys          initsys.System
}

func (t *serviceTask) subject() string { return "service " + t.name }

// Provides the service; uses the file that defines it, so that a task writing
// a unit file or init script runs first.
func (t *serviceTask) Provides() []contract.Resource {
	return []contract.Resource{{Kind: "service", Name: t.name}}
}

func (t *serviceTask) Uses() []contract.Resource {
	var p string
	switch t.sys.Name() {
	case "systemd":
		p = "/etc/systemd/system/" + unitName(t.name)
	default:
		p = "/etc/init.d/" + t.name
	}
	return []contract.Resource{{Kind: "path", Name: p}}
}

func (t *serviceTask) Check() string { return t.sys.Status(t.name) }

// CheckGroup: one read for every service task of the host (one systemctl
// show with systemd; one fragment with OpenRC and SysV, see initsys.Group).
func (t *serviceTask) CheckGroup() (contract.CheckGroup, string) {
	return initsys.Group(t.sys), t.name
}

func (t *serviceTask) Diff(out contract.CheckOutput) (*contract.Plan, error) {
	st, err := t.sys.ParseStatus(out.Stdout, out.ExitCode)
	if err != nil {
		if e := strings.TrimSpace(string(out.Stderr)); e != "" {
			err = fmt.Errorf("%w: %s", err, e)
		}
		return nil, fmt.Errorf("%s: reading its state with %s: %w", t.subject(), t.sys.Name(), err)
	}
	var attrs []contract.AttrChange
	var steps []string
	action := contract.Update

	if t.daemonReload && st.NeedsReload && t.sys.DaemonReload() != "" {
		attrs = append(attrs, contract.AttrChange{Name: "definition", Old: "changed on disk", New: "reloaded"})
		steps = append(steps, t.sys.DaemonReload())
	}
	if t.enabled != nil && !st.Static && *t.enabled != st.Enabled {
		attrs = append(attrs, contract.AttrChange{Name: "enabled", Old: fmt.Sprint(st.Enabled), New: fmt.Sprint(*t.enabled)})
		if *t.enabled {
			steps = append(steps, t.sys.Enable(t.name))
		} else {
			steps = append(steps, t.sys.Disable(t.name))
		}
	}
	// The init system's own word for the current state: "inactive (dead)",
	// "crashed", "not running", ...
	cur := st.Detail
	switch {
	case !st.Exists:
		cur = "not found"
	case cur == "" && st.Active:
		cur = "started"
	case cur == "":
		cur = "stopped"
	}
	switch {
	case t.state == "started" && !st.Active:
		attrs = append(attrs, contract.AttrChange{Name: "state", Old: cur, New: "started"})
		steps = append(steps, t.sys.Start(t.name))
	case t.state == "stopped" && st.Active:
		attrs = append(attrs, contract.AttrChange{Name: "state", Old: cur, New: "stopped"})
		steps = append(steps, t.sys.Stop(t.name))
	case t.state == "restarted":
		if len(attrs) == 0 {
			action = contract.Run
		}
		attrs = append(attrs, contract.AttrChange{Name: "state", Old: cur, New: "restarted"})
		// A service init_service generated has its config test installed:
		// a broken configuration must not stop it.
		steps = append(steps, guarded(t.name, "restarted", t.sys.ConfigTest(t.name), t.sys.Restart(t.name)))
	case t.state == "reloaded" && st.Active:
		if len(attrs) == 0 {
			action = contract.Run
		}
		attrs = append(attrs, contract.AttrChange{Name: "state", Old: cur, New: "reloaded"})
		steps = append(steps, guarded(t.name, "reloaded", t.sys.ConfigTest(t.name), t.sys.Reload(t.name)))
	case t.state == "reloaded":
		attrs = append(attrs, contract.AttrChange{Name: "state", Old: cur, New: "started (was not running)"})
		steps = append(steps, t.sys.Start(t.name))
	}
	p := &contract.Plan{}
	if len(attrs) == 0 {
		return p, nil
	}
	p.Changes = []contract.Change{{Action: action, Subject: t.subject(), Attrs: attrs}}
	// One step per command: a Step's status is its script's last command's,
	// so a failure inside one fragment's if/&& list is never masked by the
	// next fragment.
	for _, s := range steps {
		p.Steps = append(p.Steps, contract.Step{Script: s})
	}
	return p, nil
}

// unitSuffixes are systemd's unit types; a name without one is a service.
var unitSuffixes = []string{".service", ".socket", ".timer", ".target", ".mount", ".automount",
	".path", ".slice", ".scope", ".swap", ".device"}

// unitName returns the full unit name systemctl reads name as.
func unitName(name string) string {
	for _, s := range unitSuffixes {
		if strings.HasSuffix(name, s) {
			return name
		}
	}
	return name + ".service"
}
