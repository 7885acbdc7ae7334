package integration

import (
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"
)

// systemdScript runs as PID 1 of a private mount and PID namespace (unshare
// --fork --kill-child) and boots the host with systemd-nspawn, again after
// each reboot. Parameters come in the environment.
//
// What it takes on a machine whose PID 1 is not systemd: --register=no and
// --keep-unit (no system bus, no machined); a tmpfs on /run (nspawn refuses
// to clean a disk-backed one); one cgroup per host in every hierarchy, or the
// containers' systemds fight over one.
const systemdScript = `set -eu
mount --make-rprivate /
# nspawn reads /proc/PID of its children: it needs a proc of this PID namespace.
mount -t proc -o nosuid,nodev,noexec proc /proc
mount -t tmpfs -o mode=755,nosuid,nodev tmpfs /run
R=$FLEET_HOST/root
mount -t overlay overlay -o "lowerdir=$FLEET_LOWER,upperdir=$FLEET_HOST/upper,workdir=$FLEET_HOST/work" "$R"
join() {
	d=$1
	for part in $(echo "$FLEET_CGROUP" | tr / ' '); do
		parent=$d
		d=$d/$part
		mkdir -p "$d"
		if [ -f "$d/cpuset.cpus" ] && [ -z "$(cat "$d/cpuset.cpus")" ]; then
			cat "$parent/cpuset.cpus" > "$d/cpuset.cpus"
			cat "$parent/cpuset.mems" > "$d/cpuset.mems"
		fi
	done
	echo 0 > "$d/cgroup.procs"
}
if [ "$(stat -fc %T /sys/fs/cgroup)" = cgroup2fs ]; then
	join /sys/fs/cgroup
else
	for h in /sys/fs/cgroup/*; do
		[ -d "$h" ] && [ ! -L "$h" ] && [ -f "$h/cgroup.procs" ] && join "$h"
	done
fi
boot=0
while :; do
	boot=$((boot + 1))
	echo "$boot" > "$FLEET_HOST/boot"
	rc=0
	# FLEET_INIT: run that init as PID 1 (OpenRC hosts) instead of --boot.
	how=--boot
	if [ -n "${FLEET_INIT:-}" ]; then how=--quiet; set -- "$FLEET_INIT"; else set --; fi
	systemd-nspawn --quiet "$how" --directory="$R" --machine="$FLEET_NAME" \
		--register=no --keep-unit --link-journal=no --resolv-conf=copy-host \
		--console=read-only "$@" || rc=$?
	# 133 is nspawn's way of saying the container asked to reboot.
	[ "$rc" -eq 133 ] || exit "$rc"
done
`

// prepareSystemd raises the machine's inotify instance limit: every booted
// container's systemd takes several, and the default 128 allows ~20 hosts.
func prepareSystemd() error {
	const p = "/proc/sys/fs/inotify/max_user_instances"
	b, err := os.ReadFile(p)
	if err != nil {
		return fmt.Errorf("read %s: %w", p, err)
	}
	if n, _ := strconv.Atoi(strings.TrimSpace(string(b))); n < 8192 {
		if err := os.WriteFile(p, []byte("8192"), 0o644); err != nil {
			return fmt.Errorf("raise fs.inotify.max_user_instances for systemd hosts: %w", err)
		}
	}
	return nil
}

// cgroupPrefix is the cgroup path, relative to a hierarchy root, that holds
// the hosts of the fleet whose directory is named fleetID.
func cgroupPrefix(fleetID string) string { return "drover-fleet/" + fleetID }

func (h *Host) cgroupName() string {
	return cgroupPrefix(filepath.Base(h.fleet.Dir)) + "/" + h.Name
}

// removeCgroups removes rel and the cgroups below it in every hierarchy, once
// their processes are gone.
func removeCgroups(rel string) {
	roots := []string{"/sys/fs/cgroup"}
	if entries, err := os.ReadDir("/sys/fs/cgroup"); err == nil {
		for _, e := range entries {
			if e.IsDir() {
				roots = append(roots, filepath.Join("/sys/fs/cgroup", e.Name()))
			}
		}
	}
	for _, root := range roots {
		top := filepath.Join(root, rel)
		if !isDir(top) {
			continue
		}
		var dirs []string
		filepath.WalkDir(top, func(p string, d os.DirEntry, err error) error {
			if err == nil && d.IsDir() {
				dirs = append(dirs, p)
			}
			return nil
		})
		sort.Slice(dirs, func(i, j int) bool { return len(dirs[i]) > len(dirs[j]) })
		for _, d := range dirs {
			// A cgroup stays busy for a moment after its last process died.
			for try := 0; try < 50; try++ {
				if err := syscall.Rmdir(d); err == nil || err == syscall.ENOENT {
					break
				}
				time.Sleep(20 * time.Millisecond)
			}
		}
		os.Remove(filepath.Dir(top)) // drover-fleet itself, when empty
	}
}

// containerInit finds the container's PID 1 (systemd) among the descendants
// of the launcher's PID 1: the one that is PID 1 in a nested PID namespace.
func containerInit(pid int) int {
	queue := []int{pid}
	for len(queue) > 0 {
		p := queue[0]
		queue = queue[1:]
		if p != pid {
			if ns := nsPIDs(p); len(ns) >= 3 && ns[len(ns)-1] == "1" {
				return p
			}
		}
		queue = append(queue, children(p)...)
	}
	return 0
}

// nsPIDs is the NSpid line of /proc/pid/status: the PID in each namespace.
func nsPIDs(pid int) []string {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", pid))
	if err != nil {
		return nil
	}
	for _, line := range strings.Split(string(b), "\n") {
		if rest, ok := strings.CutPrefix(line, "NSpid:"); ok {
			return strings.Fields(rest)
		}
	}
	return nil
}

// Boot is how many times a systemd host has booted (1 after Start; each
// reboot adds one). Plain hosts always report 1.
func (h *Host) Boot() int {
	b, err := os.ReadFile(filepath.Join(h.Dir, "boot"))
	if err != nil {
		return 1
	}
	n, _ := strconv.Atoi(strings.TrimSpace(string(b)))
	return n
}

// WaitBooted waits until the host is up: for systemd hosts, until
// `systemctl is-system-running` says running or degraded and sshd answers.
// It fails t after 90 seconds.
func (h *Host) WaitBooted(t testing.TB) {
	t.Helper()
	if err := h.waitBooted(90 * time.Second); err != nil {
		t.Fatal(err)
	}
}

func (h *Host) waitBooted(timeout time.Duration) error {
	deadline := time.Now().Add(timeout)
	if !h.fleet.Systemd {
		return h.waitBanner(timeout)
	}
	if h.fleet.OpenRC {
		for time.Now().Before(deadline) {
			if h.openrcBooted() && sshBanner(h.HostPort()) {
				return nil
			}
			time.Sleep(100 * time.Millisecond)
		}
		return fmt.Errorf("%s: OpenRC did not reach the default runlevel within %s", h.Name, timeout)
	}
	state := ""
	for time.Now().Before(deadline) {
		out, _ := h.Run("systemctl is-system-running 2>/dev/null || true")
		state = strings.TrimSpace(out)
		if (state == "running" || state == "degraded") && sshBanner(h.HostPort()) {
			return nil
		}
		time.Sleep(100 * time.Millisecond)
	}
	failed, _ := h.Run("systemctl --failed --no-legend 2>&1 || true")
	return fmt.Errorf("%s did not boot within %s (state %q); failed units:\n%s", h.Name, timeout, state, failed)
}
