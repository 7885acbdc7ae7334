// Package initsys drives init systems (systemd, OpenRC, SysV init scripts)
// through one interface: each method returns a POSIX sh fragment, so that the
// service module can batch a status query with other tasks' checks and run
// the changes as plan Steps. Every value placed in a fragment goes through
// engine/shell.
package initsys

import (
	"fmt"
	"sort"
	"strings"
)

// Status is what a System's Status fragment found out about one service.
type Status struct {
	// Exists is false when the init system does not know the service.
	Exists bool
	// Active is true when the service runs (or is starting or reloading).
	Active bool
	// Enabled is true when the service starts at boot.
	Enabled bool
	// Static is true when the init system cannot enable or disable the
	// service (a systemd unit without an [Install] section, a generated
	// unit): its Enabled state is whatever its dependencies make it.
	Static bool
	// NeedsReload is true when the service's definition changed on disk and
	// the init system has not read it again (systemd's NeedDaemonReload).
	NeedsReload bool
	// Detail is the init system's own word for the state, for plan output:
	// "active", "inactive", "failed", "exit status 3", ...
	Detail string
}

// System is one init system.
type System interface {
	// Name is the init system's name as facts report it: systemd, openrc, sysv.
	Name() string
	// Status returns a read-only fragment printing the state of service name;
	// ParseStatus reads what it printed and its exit status.
	Status(name string) string
	ParseStatus(stdout []byte, exitCode int) (Status, error)
	// Start, Stop, Restart, Reload, Enable and Disable return fragments that
	// act on service name; each fails (non-zero exit) with the init system's
	// own message when it cannot.
	Start(name string) string
	Stop(name string) string
	Restart(name string) string
	Reload(name string) string
	Enable(name string) string
	Disable(name string) string
	// DaemonReload returns a fragment making the init system read changed
	// service definitions again; "" when it has no such step.
	DaemonReload() string
}

var systems = map[string]System{
	"systemd": Systemd{},
	"openrc":  OpenRC{},
	"sysv":    SysV{},
}

// Lookup returns the System called name (as Facts.InitSystem names it).
func Lookup(name string) (System, error) {
	if s, ok := systems[name]; ok {
		return s, nil
	}
	if name == "" || name == "none" {
		return nil, fmt.Errorf("no supported init system was detected on the host (facts: init_system = %q); set init_system to one of %s if the host has one", name, strings.Join(Names(), ", "))
	}
	return nil, fmt.Errorf("unsupported init system %q: drover knows %s", name, strings.Join(Names(), ", "))
}

// Names lists the supported init systems, sorted.
func Names() []string {
	out := make([]string, 0, len(systems))
	for n := range systems {
		out = append(out, n)
	}
	sort.Strings(out)
	return out
}

// CheckName reports whether name is acceptable as a service name: not empty,
// not starting with '-' (it would read as an option), no '/' (it would name
// another path), no whitespace or control characters. Names are quoted
// anyway; this catches mistakes early with a clear message.
func CheckName(name string) error {
	switch {
	case name == "":
		return fmt.Errorf("must not be empty")
	case strings.HasPrefix(name, "-"):
		return fmt.Errorf("must not start with '-' (%q)", name)
	case strings.Contains(name, "/"):
		return fmt.Errorf("must be a service name, not a path (%q)", name)
	case name == "." || name == "..":
		return fmt.Errorf("%q is not a service name", name)
	}
	for _, r := range name {
		if r <= ' ' || r == 0x7f {
			return fmt.Errorf("must not contain spaces or control characters (%q)", name)
		}
	}
	return nil
}

// kvLines reads "key=value" lines.
func kvLines(out []byte) map[string]string {
	m := map[string]string{}
	for _, l := range strings.Split(string(out), "\n") {
		if k, v, ok := strings.Cut(strings.TrimSpace(l), "="); ok {
			m[k] = v
		}
	}
	return m
}
