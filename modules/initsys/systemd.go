package initsys

import (
	"fmt"
	"strings"

	"github.com/drover-cm/drover/engine/shell"
)

// Systemd drives systemd through systemctl.
type Systemd struct{}

func (Systemd) Name() string { return "systemd" }

// Status asks systemd for the unit's properties in one call; `systemctl show`
// answers for units that do not exist too (LoadState=not-found).
func (Systemd) Status(name string) string {
	return "systemctl show -p LoadState -p ActiveState -p SubState -p UnitFileState -p NeedDaemonReload -- " + shell.Quote(name)
}

func (Systemd) ParseStatus(stdout []byte, exitCode int) (Status, error) {
	m := kvLines(stdout)
	if exitCode != 0 || m["LoadState"] == "" {
		if exitCode == 127 {
			return Status{}, fmt.Errorf("systemctl is not installed on the host; is init_system right?")
		}
		return Status{}, fmt.Errorf("systemctl show failed (exit status %d)", exitCode)
	}
	st := Status{
		Exists:      m["LoadState"] != "not-found",
		NeedsReload: m["NeedDaemonReload"] == "yes",
	}
	switch m["ActiveState"] {
	case "active", "reloading", "activating", "refreshing":
		st.Active = true
	}
	st.Detail = m["ActiveState"]
	if sub := m["SubState"]; sub != "" && sub != m["ActiveState"] {
		st.Detail += " (" + sub + ")"
	}
	if m["LoadState"] == "masked" {
		st.Detail = "masked"
	}
	switch m["UnitFileState"] {
	case "enabled", "enabled-runtime":
		st.Enabled = true
	case "static", "generated", "transient", "indirect", "alias":
		st.Static = true
	}
	return st, nil
}

func (Systemd) Start(name string) string   { return systemctl("start", name) }
func (Systemd) Stop(name string) string    { return systemctl("stop", name) }
func (Systemd) Restart(name string) string { return systemctl("restart", name) }
func (Systemd) Reload(name string) string  { return systemctl("reload", name) }
func (Systemd) Enable(name string) string  { return systemctl("enable", name) }
func (Systemd) Disable(name string) string { return systemctl("disable", name) }
func (Systemd) DaemonReload() string       { return "systemctl daemon-reload" }

// ConfigTest runs UNIT.configtest next to the unit: systemd has no action
// that tests before it stops a service.
func (Systemd) ConfigTest(name string) string {
	if !strings.HasSuffix(name, ".service") {
		name += ".service"
	}
	return InstalledTest(ConfigTestPath(name), `"$f"`)
}

// ConfigTestPath is where init_service installs the configuration test of
// systemd unit name (redis@cache.service); systemd ignores the file (not a
// unit name) and an operator runs it before a manual restart.
func ConfigTestPath(unit string) string { return "/etc/systemd/system/" + unit + ".configtest" }

func systemctl(verb, name string) string {
	return strings.Join([]string{"systemctl", verb, "--", shell.Quote(name)}, " ")
}
