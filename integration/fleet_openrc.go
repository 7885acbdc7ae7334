package integration

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"
)

// openrcVersion names the cached OpenRC layer; bump it when openrcBuild
// changes.
const openrcVersion = "bookworm-openrc-v1"

// openrcBuild turns an overlay of the base rootfs into an OpenRC host:
// Debian's openrc with sysvinit as PID 1 (its inittab runs openrc). Only the
// overlay's upper layer is kept, as a second lower layer over the base. The
// gettys are dropped (a container has no ttys: they would respawn forever).
const openrcBuild = `set -eu
mount --make-rprivate /
R=$BUILD/root
mount -t overlay overlay -o "lowerdir=$BASE,upperdir=$BUILD/upper,workdir=$BUILD/work" "$R"
cp /etc/resolv.conf "$R/etc/resolv.conf"
mount -t proc proc "$R/proc"
printf '#!/bin/sh\nexit 101\n' >"$R/usr/sbin/policy-rc.d"
chmod 755 "$R/usr/sbin/policy-rc.d"
chroot "$R" sh -c 'apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends openrc sysvinit-core'
rm -f "$R/usr/sbin/policy-rc.d" "$R/etc/resolv.conf"
sed -i '/getty/d' "$R/etc/inittab"
rm -rf "$R"/var/lib/apt/lists/* "$R"/var/cache/apt/*.bin "$R"/var/cache/apt/archives/*.deb
rm -f "$R"/etc/ssh/ssh_host_*
umount "$R/proc"
umount "$R"
`

// OpenRCRootfs returns the lower layers of an OpenRC host ("OPENRC:BASE" for
// overlayfs), building the OpenRC layer over the base rootfs first if needed
// (about 40 s: two Debian packages; cached beside the base).
func OpenRCRootfs(logf func(format string, args ...any)) (string, error) {
	base, err := Rootfs(logf)
	if err != nil {
		return "", err
	}
	final := filepath.Join(CacheDir(), openrcVersion)
	lower := func() string { return final + ":" + base }
	if isDir(filepath.Join(final, "etc")) {
		return lower(), nil
	}
	lock, err := os.OpenFile(filepath.Join(CacheDir(), ".lock"), os.O_CREATE|os.O_RDWR, 0o644)
	if err != nil {
		return "", fmt.Errorf("fleet rootfs lock: %w", err)
	}
	defer lock.Close()
	if err := syscall.Flock(int(lock.Fd()), syscall.LOCK_EX); err != nil {
		return "", fmt.Errorf("fleet rootfs lock: %w", err)
	}
	defer syscall.Flock(int(lock.Fd()), syscall.LOCK_UN)
	if isDir(filepath.Join(final, "etc")) {
		return lower(), nil
	}
	tmp, err := os.MkdirTemp(CacheDir(), ".build-openrc-")
	if err != nil {
		return "", fmt.Errorf("fleet OpenRC rootfs: %w", err)
	}
	defer os.RemoveAll(tmp)
	for _, d := range []string{"upper", "work", "root"} {
		if err := os.Mkdir(filepath.Join(tmp, d), 0o755); err != nil {
			return "", fmt.Errorf("fleet OpenRC rootfs: %w", err)
		}
	}
	if logf != nil {
		logf("fleet: building the OpenRC layer in %s (once per machine, about a minute)", final)
	}
	start := time.Now()
	cmd := exec.Command("unshare", "--mount", "/bin/sh", "-c", openrcBuild)
	cmd.Env = []string{"PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin", "BASE=" + base, "BUILD=" + tmp}
	cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}
	if out, err := cmd.CombinedOutput(); err != nil {
		return "", fmt.Errorf("building the OpenRC layer (apt-get install openrc sysvinit-core in a chroot): %w\n%s", err, tail(out, 3000))
	}
	if err := os.Rename(filepath.Join(tmp, "upper"), final); err != nil {
		return "", fmt.Errorf("fleet OpenRC rootfs: %w", err)
	}
	if logf != nil {
		logf("fleet: OpenRC layer built in %s", time.Since(start).Round(time.Second))
	}
	return lower(), nil
}

// StartOpenRC starts n hosts that boot sysvinit with OpenRC under
// systemd-nspawn (the machinery of StartSystemd, another init), and returns
// when OpenRC has reached the default runlevel and sshd answers.
func StartOpenRC(t testing.TB, n int, opts ...Option) *Fleet {
	t.Helper()
	SkipIfUnavailable(t, true)
	return start(t, n, true, append(opts, func(c *config) { c.openrc = true }))
}

// openrcBooted reports whether OpenRC finished booting the default
// runlevel: no openrc process is left running the runlevel change.
func (h *Host) openrcBooted() bool {
	out, _ := h.Run(`[ "$(cat /run/openrc/softlevel 2>/dev/null)" = default ] && ! pgrep -x openrc >/dev/null && echo up`)
	return strings.TrimSpace(out) == "up"
}
