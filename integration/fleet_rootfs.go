package integration

import (
	"bytes"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"time"
)

// rootfsVersion names the cached rootfs. Bump it whenever rootfsPackages or
// the post-install steps change, so that stale caches are rebuilt instead of
// silently reused.
const rootfsVersion = "bookworm-v1"

// rootfsPackages are installed on top of debootstrap's minbase: what a small
// real server has, plus systemd as init for the systemd hosts.
var rootfsPackages = []string{
	"systemd", "systemd-sysv", "dbus", "libpam-systemd",
	"openssh-server", "sudo", "cron", "procps", "iproute2", "iputils-ping",
	"curl", "ca-certificates", "less", "netbase", "ncurses-base",
}

// CacheDir is where the debootstrap'd rootfs is kept between runs:
// $DROVER_FLEET_CACHE, or /var/cache/drover-fleet.
func CacheDir() string {
	if d := os.Getenv("DROVER_FLEET_CACHE"); d != "" {
		return d
	}
	return "/var/cache/drover-fleet"
}

// Rootfs returns the path of the cached Debian bookworm rootfs, building it
// with debootstrap first if needed (2–3 minutes, once per machine). Builds are
// serialised with a file lock so that parallel test binaries build it once,
// and made atomic by building into a temporary directory that is renamed into
// place only when complete.
func Rootfs(logf func(format string, args ...any)) (string, error) {
	cache := CacheDir()
	final := filepath.Join(cache, rootfsVersion)
	if isDir(filepath.Join(final, "etc")) {
		return final, nil
	}
	if _, err := exec.LookPath("debootstrap"); err != nil {
		return "", fmt.Errorf("building the fleet rootfs needs debootstrap: apt-get install debootstrap: %w", err)
	}
	if err := os.MkdirAll(cache, 0o755); err != nil {
		return "", fmt.Errorf("fleet rootfs cache: %w", err)
	}
	lock, err := os.OpenFile(filepath.Join(cache, ".lock"), os.O_CREATE|os.O_RDWR, 0o644)
	if err != nil {
		return "", fmt.Errorf("fleet rootfs lock: %w", err)
	}
	defer lock.Close()
	if err := syscall.Flock(int(lock.Fd()), syscall.LOCK_EX); err != nil {
		return "", fmt.Errorf("fleet rootfs lock: %w", err)
	}
	defer syscall.Flock(int(lock.Fd()), syscall.LOCK_UN)
	if isDir(filepath.Join(final, "etc")) { // another process built it meanwhile
		return final, nil
	}
	// Leftovers of an interrupted build hold nothing worth keeping.
	old, _ := filepath.Glob(filepath.Join(cache, ".build-*"))
	for _, o := range old {
		unmountUnder(o)
		os.RemoveAll(o)
	}
	tmp, err := os.MkdirTemp(cache, ".build-")
	if err != nil {
		return "", fmt.Errorf("fleet rootfs: %w", err)
	}
	defer func() {
		unmountUnder(tmp)
		os.RemoveAll(tmp)
	}()
	if logf != nil {
		logf("fleet: building Debian bookworm rootfs in %s with debootstrap (once per machine, a few minutes)", final)
	}
	start := time.Now()
	mirror := os.Getenv("DROVER_FLEET_MIRROR")
	if mirror == "" {
		mirror = "http://deb.debian.org/debian"
	}
	args := []string{"--variant=minbase", "--include=" + strings.Join(rootfsPackages, ","), "bookworm", tmp, mirror}
	cmd := exec.Command("debootstrap", args...)
	// Die with us: a killed test binary must not leave debootstrap running.
	cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}
	if out, err := cmd.CombinedOutput(); err != nil {
		return "", fmt.Errorf("debootstrap %s: %w\n%s", strings.Join(args, " "), err, tail(out, 3000))
	}
	if err := finishRootfs(tmp); err != nil {
		return "", err
	}
	if err := os.Rename(tmp, final); err != nil {
		return "", fmt.Errorf("fleet rootfs: %w", err)
	}
	if logf != nil {
		logf("fleet: rootfs built in %s", time.Since(start).Round(time.Second))
	}
	return final, nil
}

// finishRootfs makes the fresh rootfs fit to be a lower layer shared by many
// hosts: no host keys of its own (each host gets one), no package caches, and
// units that make no sense in a container masked.
func finishRootfs(dir string) error {
	keys, _ := filepath.Glob(filepath.Join(dir, "etc/ssh/ssh_host_*"))
	for _, k := range keys {
		os.Remove(k)
	}
	os.RemoveAll(filepath.Join(dir, "var/cache/apt/archives"))
	os.MkdirAll(filepath.Join(dir, "var/cache/apt/archives/partial"), 0o755)
	os.WriteFile(filepath.Join(dir, "etc/machine-id"), nil, 0o444)
	for _, unit := range []string{
		"getty@tty1.service", "console-getty.service", "systemd-timesyncd.service",
		"apt-daily.timer", "apt-daily-upgrade.timer", "e2scrub_reap.service", "e2scrub_all.timer",
		"fstrim.timer", "systemd-networkd-wait-online.service",
	} {
		link := filepath.Join(dir, "etc/systemd/system", unit)
		os.Remove(link)
		if err := os.Symlink("/dev/null", link); err != nil {
			return fmt.Errorf("fleet rootfs: mask %s: %w", unit, err)
		}
	}
	return nil
}

func isDir(p string) bool {
	fi, err := os.Stat(p)
	return err == nil && fi.IsDir()
}

func tail(b []byte, n int) string {
	b = bytes.TrimSpace(b)
	if len(b) > n {
		b = b[len(b)-n:]
	}
	return string(b)
}
