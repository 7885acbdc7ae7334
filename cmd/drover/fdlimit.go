package main

import (
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
	room := int(min((soft-fdReserve)/fdsPerHost, uint64(fanout.MaxForks)))
	if want <= room {
		return want, false
	}
	return room, true
}

// boundForks lowers --forks (or its default, all hosts up to 500) so that
// a run over hosts hosts cannot exhaust the open-file limit, which would fail
// hosts with "too many open files" mid-run. The Go runtime has already
// raised the soft limit to the hard one; a hard limit that is still too low
// is said once, with the fix.
func boundForks(u *ui, hosts int) {
	var rl syscall.Rlimit
	if err := syscall.Getrlimit(syscall.RLIMIT_NOFILE, &rl); err != nil {
		return
	}
	want := fanout.Forks(global.forks, hosts)
	if n, lowered := forksWithin(rl.Cur, want); lowered {
		u.warnf("the open-file limit (ulimit -n) is %d: working on %d hosts at once instead of %d; raise it (ulimit -Hn, limits.conf or LimitNOFILE=) to %d for all at once",
			rl.Cur, n, want, want*fdsPerHost+fdReserve)
		global.forks = n
	}
}
