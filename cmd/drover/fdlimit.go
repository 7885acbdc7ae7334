package main

import (
	"os"
	"strconv"
	"strings"
	"syscall"

	"github.com/drover-cm/drover/engine/fanout"
)

// A host in flight holds its SSH socket, and with a jump host or a local
// connection a few pipes more; fdReserve is the controller's own files
// (inventory, playbook, known_hosts, stdio, the runtime's poller).
const (
	fdsPerHost = 4
	fdReserve  = 64
)

// forksWithin is the number of hosts to work on at once under an open-file
// limit of soft: want, or fewer when want would run out of descriptors.
func forksWithin(soft uint64, want int) (int, bool) {
	if soft <= fdReserve+fdsPerHost {
		return 1, want > 1
	}
	room := int(min((soft-fdReserve)/fdsPerHost, 1<<30))
	if want <= room {
		return want, false
	}
	return room, true
}

// boundForks makes sure a run over hosts hosts cannot exhaust the open-file
// limit, which would fail hosts with "too many open files" mid-run. The Go
// runtime has already raised the soft limit to the hard one; when that is
// still too low for --forks (or its default, all hosts up to
// fanout.DefaultForks) and the process may raise the hard limit (root, or
// CAP_SYS_RESOURCE), it raises both to what the run needs, up to the
// kernel's fs.nr_open. Otherwise it lowers --forks to what fits, and says so
// once, with the fix.
func boundForks(u *ui, hosts int) {
	var rl syscall.Rlimit
	if err := syscall.Getrlimit(syscall.RLIMIT_NOFILE, &rl); err != nil {
		return
	}
	want := fanout.Forks(global.forks, hosts)
	need := uint64(want*fdsPerHost + fdReserve)
	if rl.Cur < need {
		raised := syscall.Rlimit{Cur: need, Max: max(rl.Max, need)}
		if open := nrOpen(); open > 0 && raised.Max > open {
			raised.Max = max(rl.Max, open)
			raised.Cur = min(need, raised.Max)
		}
		if syscall.Setrlimit(syscall.RLIMIT_NOFILE, &raised) == nil {
			rl = raised
		}
	}
	if n, lowered := forksWithin(rl.Cur, want); lowered {
		u.warnf("the open-file limit (ulimit -n) is %d and may not be raised by this user: working on %d hosts at once instead of %d; raise it (ulimit -Hn, limits.conf or LimitNOFILE=) to %d for all at once",
			rl.Cur, n, want, need)
		global.forks = n
	}
}

// nrOpen is the kernel's ceiling for any process's open-file limit, 0 when
// unknown.
func nrOpen() uint64 {
	b, err := os.ReadFile("/proc/sys/fs/nr_open")
	if err != nil {
		return 0
	}
	v, _ := strconv.ParseUint(strings.TrimSpace(string(b)), 10, 64)
	return v
}
