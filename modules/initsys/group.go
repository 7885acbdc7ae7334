package initsys

import (
	"fmt"
	"strconv"
	"strings"

	"github.com/drover-cm/drover/modules/contract"
)

// Group is the contract.CheckGroup that reads the status of every service
// task's service of a host with one fragment: one systemctl show for
// systemd; for OpenRC and SysV, which have no command answering for many
// services, one fragment running each service's status action in turn, with
// the existence (SysV) and runlevel or rc?.d link reads one loop for all.
func Group(s System) contract.CheckGroup {
	switch s := s.(type) {
	case Systemd:
		return SystemdStatus{}
	case bulkSystem:
		return prefixedStatus{s}
	}
	return nil
}

// bulkSystem is an init system whose status fragment for many services
// prefixes each service's lines (statusAll).
type bulkSystem interface {
	System
	// statusAll prints what Status prints for each of names (two or more),
	// every line prefixed "svc.N." with N the name's index.
	statusAll(names []string) string
}

// prefixedStatus is the CheckGroup of a bulkSystem. One name is read with
// Status itself, so a host with one service task reads it as before.
type prefixedStatus struct{ sys bulkSystem }

func (g prefixedStatus) GroupID() string { return "initsys." + g.sys.Name() + ".status" }

func (g prefixedStatus) Check(names []string) string {
	if len(names) == 1 {
		return g.sys.Status(names[0])
	}
	return g.sys.statusAll(names)
}

// Split gives each service its lines without the prefix, as its own Status
// would have printed them; lines of no service (chatter) are dropped.
func (g prefixedStatus) Split(out contract.CheckOutput, names []string) ([]contract.CheckOutput, error) {
	if len(names) == 1 {
		return []contract.CheckOutput{out}, nil
	}
	var bufs = make([]strings.Builder, len(names))
	for _, l := range strings.Split(string(out.Stdout), "\n") {
		rest, ok := strings.CutPrefix(l, "svc.")
		if !ok {
			continue
		}
		n, line, ok := strings.Cut(rest, ".")
		i, err := strconv.Atoi(n)
		if !ok || err != nil || i < 0 || i >= len(names) {
			return nil, fmt.Errorf("unexpected status line %q", l)
		}
		bufs[i].WriteString(line + "\n")
	}
	outs := make([]contract.CheckOutput, len(names))
	for i := range outs {
		outs[i] = contract.CheckOutput{Stdout: []byte(bufs[i].String()), Stderr: out.Stderr, ExitCode: out.ExitCode}
	}
	return outs, nil
}
