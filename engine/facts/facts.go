// Package facts gathers what drover knows about a host before planning: OS,
// kernel, architecture, resources, init system, package manager, addresses.
// Facts are read once per host per run, in the same round trip as task state.
//
// Gathering is one POSIX sh script (Script) that prints raw evidence, and a
// pure parser (Parse) that decides: which init system runs, which package
// manager to use, which OS family the release belongs to. Keeping the rules
// in Go makes them table-testable with canned outputs of real systems; see
// docs/facts.md for the rules themselves.
package facts

import (
	"context"
	"fmt"

	"github.com/drover-cm/drover/engine/transport"
)

// Facts describe one host. Zero values mean "unknown".
type Facts struct {
	Hostname       string   `json:"hostname"`
	OSFamily       string   `json:"os_family"`  // debian, redhat, alpine, arch, suse, ...
	OSID           string   `json:"os_id"`      // ID from /etc/os-release: debian, ubuntu, fedora, ...
	OSIDLike       []string `json:"os_id_like"` // ID_LIKE from /etc/os-release, in order
	OSVersion      string   `json:"os_version"` // VERSION_ID: 12, 22.04, 3.20, ...
	OSCodename     string   `json:"os_codename"`
	OSPretty       string   `json:"os_pretty"`
	Kernel         string   `json:"kernel"` // uname -r
	Arch           string   `json:"arch"`   // uname -m
	CPUs           int      `json:"cpus"`
	MemoryMB       int      `json:"memory_mb"`
	InitSystem     string   `json:"init_system"`     // systemd, openrc, sysv, none
	PackageManager string   `json:"package_manager"` // apt, dnf, yum, apk, ""
	Addresses      []string `json:"addresses"`       // primary (non-loopback) addresses
	User           string   `json:"user"`            // the login user
	// EffectiveUser is who the facts script ran as: User, or the become user
	// (root) when the engine gathered facts through sudo.
	EffectiveUser string `json:"effective_user"`
}

// Init systems, as Facts.InitSystem names them.
const (
	InitSystemd = "systemd"
	InitOpenRC  = "openrc"
	InitSysV    = "sysv"
	InitNone    = "none"
)

// Package managers, as Facts.PackageManager names them.
const (
	PkgApt = "apt"
	PkgDnf = "dnf"
	PkgYum = "yum"
	PkgApk = "apk"
)

// Gather reads the facts of the host behind conn in one round trip.
func Gather(ctx context.Context, conn transport.Conn) (*Facts, error) {
	res, err := conn.Run(ctx, transport.Cmd{Command: Script()})
	if err != nil {
		return nil, fmt.Errorf("gathering facts: %w", err)
	}
	f, err := Parse(res.Stdout)
	if err != nil {
		detail := ""
		if len(res.Stderr) > 0 {
			detail = ": " + lastLine(res.Stderr)
		}
		return nil, fmt.Errorf("gathering facts: %w (exit status %d%s); check that the login shell of the host is a POSIX sh", err, res.ExitCode, detail)
	}
	return f, nil
}
