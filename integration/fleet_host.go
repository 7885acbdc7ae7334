package integration

import (
	"bufio"
	"bytes"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"
)

// hostScript runs as PID 1 of the host's new namespaces (unshare --fork):
// it builds the host's root on an overlay and becomes sshd. Parameters come
// in the environment, never spliced into the script.
const hostScript = `set -eu
mount --make-rprivate /
R=$FLEET_HOST/root
mount -t overlay overlay -o "lowerdir=$FLEET_LOWER,upperdir=$FLEET_HOST/upper,workdir=$FLEET_HOST/work" "$R"
mount -t proc -o nosuid,nodev,noexec proc "$R/proc"
mount -t sysfs -o ro,nosuid,nodev,noexec sysfs "$R/sys"
mount -t tmpfs -o mode=755,size=1m,nosuid tmpfs "$R/dev"
mknod -m 666 "$R/dev/null" c 1 3
mknod -m 666 "$R/dev/zero" c 1 5
mknod -m 666 "$R/dev/full" c 1 7
mknod -m 666 "$R/dev/random" c 1 8
mknod -m 666 "$R/dev/urandom" c 1 9
mknod -m 666 "$R/dev/tty" c 5 0
mkdir "$R/dev/pts" "$R/dev/shm"
mount -t devpts -o newinstance,ptmxmode=0666,mode=0620,gid=5 devpts "$R/dev/pts"
ln -s pts/ptmx "$R/dev/ptmx"
ln -s /proc/self/fd "$R/dev/fd"
ln -s /proc/self/fd/0 "$R/dev/stdin"
ln -s /proc/self/fd/1 "$R/dev/stdout"
ln -s /proc/self/fd/2 "$R/dev/stderr"
mount -t tmpfs -o mode=1777,nosuid,nodev tmpfs "$R/dev/shm"
mount -t tmpfs -o mode=755,nosuid,nodev tmpfs "$R/run"
mkdir -p "$R/run/sshd" "$R/run/lock"
mount -t tmpfs -o mode=1777,nosuid,nodev tmpfs "$R/tmp"
echo "$FLEET_NAME" > /proc/sys/kernel/hostname
cd "$R"
mkdir -p .fleet-oldroot
pivot_root . .fleet-oldroot
cd /
umount -l /.fleet-oldroot
rmdir /.fleet-oldroot
exec /usr/sbin/sshd -D -e
`

// create prepares the host's files and starts it.
func (h *Host) create() error {
	if err := h.prepare(); err != nil {
		return fmt.Errorf("%s: %w", h.Name, err)
	}
	for attempt := 0; ; attempt++ {
		err := h.launch()
		if err == nil {
			return nil
		}
		// Another process may have taken the port since we picked it.
		if attempt < 3 && errors.Is(err, errPortTaken) {
			h.Kill()
			ports, perr := freePorts(1)
			if perr != nil {
				return perr
			}
			h.Port = ports[0]
			if err := h.writeSSHDConfig(); err != nil {
				return err
			}
			continue
		}
		return fmt.Errorf("%s: %w", h.Name, err)
	}
}

var errPortTaken = errors.New("port already in use")

// launch starts the host's namespaces and waits for its SSH banner.
func (h *Host) launch() error {
	f := h.fleet
	log, err := os.OpenFile(filepath.Join(h.Dir, "console.log"), os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o644)
	if err != nil {
		return err
	}
	defer log.Close()
	logStart, _ := log.Seek(0, io.SeekEnd) // this launch's output starts here
	var cmd *exec.Cmd
	if f.Systemd {
		cmd = exec.Command("unshare", "--mount", "--pid", "--fork", "--kill-child", "/bin/sh", "-c", systemdScript)
	} else {
		cmd = exec.Command("unshare", "--mount", "--pid", "--uts", "--fork", "--kill-child", "/bin/sh", "-c", hostScript)
	}
	cmd.Env = []string{
		"PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin",
		"FLEET_HOST=" + h.Dir, "FLEET_LOWER=" + f.Lower, "FLEET_NAME=" + h.Name,
		"FLEET_CGROUP=" + h.cgroupName(),
	}
	if f.OpenRC {
		// nspawn --boot would pick systemd, still in the base layer.
		cmd.Env = append(cmd.Env, "FLEET_INIT=/sbin/init", "FLEET_LOWER="+f.layers)
	}
	cmd.Stdout, cmd.Stderr = log, log
	// Own session and process group, so Kill reaches every process; and the
	// launcher dies with us even if we are killed (then unshare --kill-child
	// takes the whole PID namespace with it).
	cmd.SysProcAttr = &syscall.SysProcAttr{Setsid: true, Pdeathsig: syscall.SIGKILL}
	if err := cmd.Start(); err != nil {
		return fmt.Errorf("start unshare: %w", err)
	}
	exited := make(chan struct{})
	go func() {
		cmd.Wait()
		close(exited)
	}()
	h.mu.Lock()
	h.proc, h.exited, h.initPID = cmd, exited, 0
	h.mu.Unlock()

	timeout := 30 * time.Second
	if f.Systemd {
		timeout = 90 * time.Second
	}
	if err := h.waitBanner(timeout); err != nil {
		logText, _ := os.ReadFile(filepath.Join(h.Dir, "console.log"))
		logText = logText[min(int(logStart), len(logText)):]
		if bytes.Contains(logText, []byte("Address already in use")) {
			return errPortTaken
		}
		return fmt.Errorf("%w\n%s", err, tail(logText, 2000))
	}
	if f.Systemd {
		return h.waitBooted(timeout)
	}
	return nil
}

// waitBanner waits until the host's port answers with an SSH banner.
func (h *Host) waitBanner(timeout time.Duration) error {
	deadline := time.Now().Add(timeout)
	h.mu.Lock()
	exited := h.exited
	h.mu.Unlock()
	for delay := 5 * time.Millisecond; ; delay = min(delay*2, 100*time.Millisecond) {
		// The banner must come from this host's sshd, not from another
		// fleet's that grabbed the same port a moment earlier.
		if sshBanner(h.HostPort()) && h.ownsPort() {
			return nil
		}
		if exited != nil {
			select {
			case <-exited:
				return fmt.Errorf("host exited before sshd answered on port %d", h.Port)
			default:
			}
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("sshd did not answer on port %d within %s", h.Port, timeout)
		}
		time.Sleep(delay)
	}
}

// ownsPort reports whether the socket listening on the host's port belongs to
// the host's PID 1 (sshd). Systemd hosts' sshd is deeper in the tree; their
// ports are not checked.
func (h *Host) ownsPort() bool {
	if h.fleet.Systemd {
		return true
	}
	h.mu.Lock()
	proc := h.proc
	h.mu.Unlock()
	if proc == nil {
		return false
	}
	pid := childPID(proc.Process.Pid)
	inodes := listenInodes(h.Port)
	if pid == 0 || len(inodes) == 0 {
		return false
	}
	fds, _ := os.ReadDir(fmt.Sprintf("/proc/%d/fd", pid))
	for _, fd := range fds {
		link, _ := os.Readlink(fmt.Sprintf("/proc/%d/fd/%s", pid, fd.Name()))
		if inodes[link] {
			return true
		}
	}
	return false
}

// listenInodes returns the sockets listening on 127.0.0.1:port, as the
// "socket:[inode]" links that /proc/PID/fd shows for them.
func listenInodes(port int) map[string]bool {
	b, err := os.ReadFile("/proc/net/tcp")
	if err != nil {
		return nil
	}
	local := fmt.Sprintf("0100007F:%04X", port)
	found := map[string]bool{}
	for _, line := range strings.Split(string(b), "\n") {
		f := strings.Fields(line)
		// sl local rem st tx:rx tr:when retrnsmt uid timeout inode
		if len(f) > 9 && f[1] == local && f[3] == "0A" {
			found["socket:["+f[9]+"]"] = true
		}
	}
	return found
}

func sshBanner(addr string) bool {
	c, err := net.DialTimeout("tcp", addr, time.Second)
	if err != nil {
		return false
	}
	defer c.Close()
	c.SetReadDeadline(time.Now().Add(2 * time.Second))
	line, err := bufio.NewReader(c).ReadString('\n')
	return err == nil && strings.HasPrefix(line, "SSH-2.0-")
}

// Kill kills the host at once, with every process in it, as if it lost
// power: its port closes. Its files are kept; Restart brings it back.
func (h *Host) Kill() {
	h.mu.Lock()
	proc, exited, initPID := h.proc, h.exited, h.initPID
	h.proc = nil
	h.mu.Unlock()
	if proc == nil {
		return
	}
	if initPID == 0 {
		initPID = childPID(proc.Process.Pid)
	}
	syscall.Kill(-proc.Process.Pid, syscall.SIGKILL)
	proc.Process.Kill()
	<-exited
	// unshare is gone; its child, PID 1 of the namespace, got SIGKILL and the
	// kernel kills the rest of the namespace before PID 1 finishes exiting.
	waitGone(initPID, 10*time.Second)
}

// Restart starts a killed host again with the same files, port and key.
func (h *Host) Restart(t testing.TB) {
	t.Helper()
	h.Kill()
	if err := h.launch(); err != nil {
		t.Fatalf("restart %s: %v", h.Name, err)
	}
}

// waitGone waits until pid has exited (gone or a zombie).
func waitGone(pid int, timeout time.Duration) {
	if pid <= 0 {
		return
	}
	deadline := time.Now().Add(timeout)
	for time.Now().Before(deadline) {
		b, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
		if err != nil {
			return
		}
		s := string(b)
		if i := strings.LastIndexByte(s, ')'); i >= 0 && i+2 < len(s) && s[i+2] == 'Z' {
			return
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// childPID is the first child of pid (unshare's forked child: the host's PID 1).
func childPID(pid int) int {
	kids := children(pid)
	if len(kids) == 0 {
		return 0
	}
	return kids[0]
}

func children(pid int) []int {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/task/%d/children", pid, pid))
	if err != nil {
		return nil
	}
	var pids []int
	for _, f := range strings.Fields(string(b)) {
		if p, err := strconv.Atoi(f); err == nil {
			pids = append(pids, p)
		}
	}
	return pids
}
