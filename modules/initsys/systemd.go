package initsys

import (
	"fmt"
	"strconv"
	"strings"

	"github.com/drover-cm/drover/engine/shell"
	"github.com/drover-cm/drover/modules/contract"
)

// Systemd drives systemd through systemctl.
type Systemd struct{}

func (Systemd) Name() string { return "systemd" }

// Status asks systemd for the unit's properties in one call; `systemctl show`
// answers for units that do not exist too (LoadState=not-found).
func (Systemd) Status(name string) string { return SystemdStatus{}.Check([]string{name}) }

// SystemdStatus reads the status of the units of every service task of a
// host with one systemctl show (a contract.CheckGroup): systemctl prints the
// units' properties in the order asked, separated by empty lines.
type SystemdStatus struct{}

func (SystemdStatus) GroupID() string { return "initsys.systemd.status" }

const systemdShow = "systemctl show -p LoadState -p ActiveState -p SubState -p UnitFileState -p NeedDaemonReload -- "

// Check is one systemctl show for all the units. When it fails (a name
// systemd refuses fails the whole call), it asks again unit by unit after a
// line "@per-unit", each answer after a line "@exit STATUS", so that one
// unit's failure is its task's only, as when each task read its own.
func (SystemdStatus) Check(units []string) string {
	q := make([]string, len(units))
	for i, u := range units {
		q[i] = shell.Quote(u)
	}
	if len(units) == 1 {
		return systemdShow + q[0]
	}
	all := strings.Join(q, " ")
	return "if _so=$(" + systemdShow + all + "); then printf '%s\\n' \"$_so\"\n" +
		"else echo @per-unit; for _su in " + all + "; do _so=$(" + systemdShow + "\"$_su\"); printf '@exit %s\\n%s\\n' \"$?\" \"$_so\"; done; fi\n"
}

// Split gives each unit its block.
func (SystemdStatus) Split(out contract.CheckOutput, units []string) ([]contract.CheckOutput, error) {
	if len(units) == 1 {
		return []contract.CheckOutput{out}, nil
	}
	if out.ExitCode != 0 {
		return nil, fmt.Errorf("the state read failed (exit status %d)", out.ExitCode)
	}
	outs := make([]contract.CheckOutput, 0, len(units))
	if rest, ok := strings.CutPrefix(string(out.Stdout), "@per-unit\n"); ok {
		for _, part := range strings.Split(rest, "@exit ")[1:] {
			code, block, _ := strings.Cut(part, "\n")
			n, err := strconv.Atoi(code)
			if err != nil {
				return nil, fmt.Errorf("malformed status line %q", code)
			}
			o := contract.CheckOutput{Stdout: []byte(block), ExitCode: n}
			if n != 0 {
				o.Stderr = out.Stderr
			}
			outs = append(outs, o)
		}
	} else {
		for _, b := range strings.Split(strings.TrimRight(string(out.Stdout), "\n"), "\n\n") {
			outs = append(outs, contract.CheckOutput{Stdout: []byte(b + "\n")})
		}
	}
	if len(outs) != len(units) {
		return nil, fmt.Errorf("systemctl show printed %d units' properties for %d units", len(outs), len(units))
	}
	return outs, nil
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
