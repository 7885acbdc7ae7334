// The machine's limits a large fleet runs into, checked before any host
// starts, so that a 1000-host fleet fails at once with the limit to raise
// instead of half-way with "too many open files" or "fork: retry".

package integration

import (
	"fmt"
	"os"
	"runtime"
	"strconv"
	"strings"
	"syscall"
)

// Per host, what a fleet holds while it is up and during a run on it.
const (
	// fleetFDsPerHost: the host's process handle (pidfd) and, while it
	// starts, its console log and the banner probe's socket.
	fleetFDsPerHost = 3
	fleetFDReserve  = 256
	// pidsPerHost: unshare and sshd, plus a run's sshd session (its
	// privilege-separated child, the shell and the commands in flight).
	pidsPerHost = 10
	// memPerHost: sshd's resident memory and the overlay's and the host's
	// tmpfs pages, rounded up (about 1.5 MB measured at 1000 hosts).
	memPerHost = 4 << 20
	// portRange is the size of the range freePorts picks from.
	portRange = 12000
)

// startParallel is how many hosts start at once: enough to overlap each
// host's wait for its banner with the others' CPU work.
func startParallel() int { return max(8, 8*runtime.NumCPU()) }

// limits is what checkLimits reads from the machine, a struct so that the
// check is table-tested without changing the machine.
type limits struct {
	nofileSoft, nofileHard uint64
	pidMax, pidsInUse      int
	memAvailable           uint64 // bytes; 0 when unknown
}

func readLimits() limits {
	var l limits
	var rl syscall.Rlimit
	if syscall.Getrlimit(syscall.RLIMIT_NOFILE, &rl) == nil {
		// The Go runtime raised the soft limit to the hard one at start-up
		// (Go 1.19+); raise it again in case the process lowered it since.
		if rl.Cur < rl.Max {
			rl.Cur = rl.Max
			syscall.Setrlimit(syscall.RLIMIT_NOFILE, &rl)
			syscall.Getrlimit(syscall.RLIMIT_NOFILE, &rl)
		}
		l.nofileSoft, l.nofileHard = rl.Cur, rl.Max
	}
	if b, err := os.ReadFile("/proc/sys/kernel/pid_max"); err == nil {
		l.pidMax, _ = strconv.Atoi(strings.TrimSpace(string(b)))
	}
	if b, err := os.ReadFile("/proc/loadavg"); err == nil {
		// "0.50 0.40 0.30 3/812 12345": running/total tasks.
		if f := strings.Fields(string(b)); len(f) > 3 {
			if _, total, ok := strings.Cut(f[3], "/"); ok {
				l.pidsInUse, _ = strconv.Atoi(total)
			}
		}
	}
	if b, err := os.ReadFile("/proc/meminfo"); err == nil {
		for _, line := range strings.Split(string(b), "\n") {
			if v, ok := strings.CutPrefix(line, "MemAvailable:"); ok {
				kb, _ := strconv.ParseUint(strings.TrimSuffix(strings.TrimSpace(v), " kB"), 10, 64)
				l.memAvailable = kb << 10
			}
		}
	}
	return l
}

func checkLimits(n int) error { return readLimits().check(n) }

// check says which limit of l a fleet of n hosts (and a run on all of them)
// would exceed, and how to raise it.
func (l limits) check(n int) error {
	if need := uint64(n*fleetFDsPerHost + fleetFDReserve); l.nofileSoft != 0 && l.nofileSoft < need {
		return fmt.Errorf("a fleet of %d hosts needs about %d open files; the limit is %d (hard %d): raise it with ulimit -n %d (as root, or LimitNOFILE= in the service)",
			n, need, l.nofileSoft, l.nofileHard, need)
	}
	if need := l.pidsInUse + n*pidsPerHost; l.pidMax != 0 && need > l.pidMax {
		return fmt.Errorf("a fleet of %d hosts and a run on them need about %d more processes; %d of kernel.pid_max=%d are in use: sysctl -w kernel.pid_max=%d",
			n, n*pidsPerHost, l.pidsInUse, l.pidMax, max(4*need, 65536))
	}
	if need := uint64(n) * memPerHost; l.memAvailable != 0 && need > l.memAvailable {
		return fmt.Errorf("a fleet of %d hosts needs about %d MB of memory; %d MB are available: start fewer hosts",
			n, need>>20, l.memAvailable>>20)
	}
	if n > portRange/2 {
		return fmt.Errorf("a fleet of %d hosts needs %d TCP ports out of the %d it picks from (20000-32000): start at most %d",
			n, n, portRange, portRange/2)
	}
	return nil
}
