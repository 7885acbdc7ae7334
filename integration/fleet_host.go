package integration

import (
	"bufio"
	"bytes"
	"context"
	"crypto/ed25519"
	"crypto/rand"
	"encoding/pem"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"golang.org/x/crypto/ssh"

	"github.com/drover-cm/drover/engine/shell"
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

// nsPID returns the PID (in our namespace) of the process whose namespaces
// Exec enters: the host's PID 1, or for systemd hosts the container's systemd.
func (h *Host) nsPID() (int, error) {
	h.mu.Lock()
	defer h.mu.Unlock()
	if h.proc == nil {
		return 0, fmt.Errorf("%s is not running", h.Name)
	}
	if h.initPID == 0 || procStamp(h.initPID) == "" {
		h.initPID = childPID(h.proc.Process.Pid)
	}
	if h.initPID == 0 {
		return 0, fmt.Errorf("%s has no PID 1 yet", h.Name)
	}
	if !h.fleet.Systemd {
		return h.initPID, nil
	}
	if p := containerInit(h.initPID); p != 0 {
		return p, nil
	}
	return 0, fmt.Errorf("%s: the container's systemd is not running", h.Name)
}

// Exec runs script with sh inside the host (its mount, PID, UTS and IPC
// namespaces and root, as root) without SSH, and returns its standard output.
// A non-zero exit fails t with the output.
func (h *Host) Exec(t testing.TB, script string) string {
	t.Helper()
	out, err := h.Run(script)
	if err != nil {
		t.Fatalf("%s: %v", h.Name, err)
	}
	return out
}

// ExecAs is Exec as user (by name, with that user's groups and home), for a
// test's attacker: AttackerUser planting what a run as root must not follow.
func (h *Host) ExecAs(t testing.TB, user, script string) string {
	t.Helper()
	out, err := h.RunAs(user, script)
	if err != nil {
		t.Fatalf("%s as %s: %v", h.Name, user, err)
	}
	return out
}

// RunAs is ExecAs returning an error instead of failing a test.
func (h *Host) RunAs(user, script string) (string, error) {
	q := shell.Quote
	wrapped := fmt.Sprintf("cd / && exec setpriv --reuid=%s --regid=%s --init-groups env -i PATH=/usr/local/bin:/usr/bin:/bin HOME=\"$(getent passwd %s | cut -d: -f6)\" USER=%s LOGNAME=%s /bin/sh -c %s",
		q(user), q(user), q(user), q(user), q(user), q(script))
	return h.Run(wrapped)
}

// ExecError is the error Run returns when the script ran and failed.
type ExecError struct {
	Script   string
	ExitCode int
	Stderr   string
}

func (e *ExecError) Error() string {
	return fmt.Sprintf("script exited with status %d: %s\nscript: %s", e.ExitCode, strings.TrimSpace(e.Stderr), e.Script)
}

// Run is Exec returning an error (an *ExecError when the script failed)
// instead of failing a test.
func (h *Host) Run(script string) (string, error) {
	return h.RunContext(context.Background(), script, nil)
}

// RunContext is Run with a context and an optional standard input.
func (h *Host) RunContext(ctx context.Context, script string, stdin []byte) (string, error) {
	pid, err := h.nsPID()
	if err != nil {
		return "", err
	}
	cmd := exec.CommandContext(ctx, "nsenter", "--target", strconv.Itoa(pid),
		"--mount", "--uts", "--ipc", "--pid", "--root", "--wd=/", "--", "/bin/sh", "-c", script)
	cmd.Env = []string{
		"PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin",
		"HOME=/root", "USER=root", "LOGNAME=root", "LANG=C.UTF-8", "TERM=dumb",
	}
	if stdin != nil {
		cmd.Stdin = bytes.NewReader(stdin)
	}
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	err = cmd.Run()
	var exit *exec.ExitError
	if errors.As(err, &exit) {
		return stdout.String(), &ExecError{Script: script, ExitCode: exit.ExitCode(), Stderr: stderr.String()}
	}
	if err != nil {
		return stdout.String(), fmt.Errorf("nsenter: %w", err)
	}
	return stdout.String(), nil
}

// prepare writes the host's own files into its overlay upper layer before the
// overlay is mounted: host key, sshd drop-in, hostname, users, sudo rules and
// authorized keys. Writing them from here costs no process per file.
func (h *Host) prepare() error {
	f := h.fleet
	for _, d := range []string{"upper", "work", "root"} {
		if err := os.MkdirAll(filepath.Join(h.Dir, d), 0o755); err != nil {
			return err
		}
	}
	u := upper{lower: f.Lower, dir: filepath.Join(h.Dir, "upper")}

	_, priv, err := ed25519.GenerateKey(rand.Reader)
	if err != nil {
		return err
	}
	block, err := ssh.MarshalPrivateKey(priv, "root@"+h.Name)
	if err != nil {
		return err
	}
	signer, err := ssh.NewSignerFromKey(priv)
	if err != nil {
		return err
	}
	h.HostKey = signer.PublicKey()
	h.Fingerprint = ssh.FingerprintSHA256(h.HostKey)
	if err := u.write("etc/ssh/drover_fleet_host_ed25519_key", pem.EncodeToMemory(block), 0o600, 0, 0); err != nil {
		return err
	}
	if err := u.write("etc/ssh/drover_fleet_host_ed25519_key.pub", ssh.MarshalAuthorizedKey(h.HostKey), 0o644, 0, 0); err != nil {
		return err
	}
	if err := h.writeSSHDConfig(); err != nil {
		return err
	}
	if err := u.write("etc/hostname", []byte(h.Name+"\n"), 0o644, 0, 0); err != nil {
		return err
	}
	hosts := fmt.Sprintf("127.0.0.1\tlocalhost\n127.0.1.1\t%s\n::1\tlocalhost ip6-localhost ip6-loopback\n", h.Name)
	if err := u.write("etc/hosts", []byte(hosts), 0o644, 0, 0); err != nil {
		return err
	}
	if f.Lower != "/" {
		// The rootfs keeps the resolv.conf of the day it was built.
		if rc, err := os.ReadFile("/etc/resolv.conf"); err == nil {
			if err := u.write("etc/resolv.conf", rc, 0o644, 0, 0); err != nil {
				return err
			}
		}
	}
	// The machine's root dotfiles may be slow or chatty; hosts get Debian's.
	bashrc, _ := os.ReadFile(filepath.Join(f.Lower, "usr/share/base-files/dot.bashrc"))
	profile, _ := os.ReadFile(filepath.Join(f.Lower, "usr/share/base-files/dot.profile"))
	if err := u.write("root/.bashrc", bashrc, 0o644, 0, 0); err != nil {
		return err
	}
	if err := u.write("root/.profile", profile, 0o644, 0, 0); err != nil {
		return err
	}
	if err := u.write("root/.ssh/authorized_keys", []byte(f.PublicKey+"\n"), 0o600, 0, 0); err != nil {
		return err
	}
	return h.addUsers(u, bashrc, profile)
}

func (h *Host) writeSSHDConfig() error {
	u := upper{lower: h.fleet.Lower, dir: filepath.Join(h.Dir, "upper")}
	// The first value of an option wins in sshd_config, and Debian's
	// sshd_config includes sshd_config.d/*.conf at its top, so this file's
	// settings override the stock ones.
	conf := fmt.Sprintf(`# drover test fleet: %s
Port %d
ListenAddress 127.0.0.1
HostKey /etc/ssh/drover_fleet_host_ed25519_key
PubkeyAuthentication yes
PasswordAuthentication no
KbdInteractiveAuthentication no
PermitRootLogin prohibit-password
AuthorizedKeysFile .ssh/authorized_keys
UseDNS no
MaxStartups 200
MaxSessions 200
AllowTcpForwarding yes
PrintMotd no
PrintLastLog no
`, h.Name, h.Port)
	return u.write("etc/ssh/sshd_config.d/00-drover-fleet.conf", []byte(conf), 0o644, 0, 0)
}

// fleetUIDs are the first UID tried for the fleet's users; the next free ones
// are used if the lower layer already has them.
const fleetUID = 2001

// addUsers appends DeployUser and PasswordUser to the lower layer's account
// files, gives them home directories with the fleet's key, and sudo rules.
func (h *Host) addUsers(u upper, bashrc, profile []byte) error {
	passwd, err := os.ReadFile(filepath.Join(u.lower, "etc/passwd"))
	if err != nil {
		return err
	}
	group, err := os.ReadFile(filepath.Join(u.lower, "etc/group"))
	if err != nil {
		return err
	}
	shadow, err := os.ReadFile(filepath.Join(u.lower, "etc/shadow"))
	if err != nil {
		return err
	}
	hash, err := passwordHash()
	if err != nil {
		return err
	}
	used := usedIDs(passwd, group)
	id := fleetUID
	for _, user := range []struct{ name, hash string }{{DeployUser, "*"}, {PasswordUser, hash}, {AttackerUser, "*"}} {
		for used[id] {
			id++
		}
		used[id] = true
		home := "home/" + user.name
		passwd = appendLine(passwd, fmt.Sprintf("%s:x:%d:%d::/%s:/bin/bash", user.name, id, id, home))
		group = appendLine(group, fmt.Sprintf("%s:x:%d:", user.name, id))
		shadow = appendLine(shadow, fmt.Sprintf("%s:%s:19000:0:99999:7:::", user.name, user.hash))
		if err := u.mkdir(home, 0o750, id, id); err != nil {
			return err
		}
		if err := u.write(home+"/.bashrc", bashrc, 0o644, id, id); err != nil {
			return err
		}
		if err := u.write(home+"/.profile", profile, 0o644, id, id); err != nil {
			return err
		}
		if err := u.mkdir(home+"/.ssh", 0o700, id, id); err != nil {
			return err
		}
		if err := u.write(home+"/.ssh/authorized_keys", []byte(h.fleet.PublicKey+"\n"), 0o600, id, id); err != nil {
			return err
		}
	}
	if err := u.write("etc/passwd", passwd, 0o644, 0, 0); err != nil {
		return err
	}
	if err := u.write("etc/group", group, 0o644, 0, 0); err != nil {
		return err
	}
	shadowGID := 0
	if fi, err := os.Stat(filepath.Join(u.lower, "etc/shadow")); err == nil {
		shadowGID = int(fi.Sys().(*syscall.Stat_t).Gid)
	}
	if err := u.write("etc/shadow", shadow, 0o640, 0, shadowGID); err != nil {
		return err
	}
	sudoers := fmt.Sprintf("# drover test fleet\n%s ALL=(ALL:ALL) NOPASSWD: ALL\n%s ALL=(ALL:ALL) ALL\n", DeployUser, PasswordUser)
	return u.write("etc/sudoers.d/drover-fleet", []byte(sudoers), 0o440, 0, 0)
}

var passwordHashOnce = sync.OnceValues(func() (string, error) {
	cmd := exec.Command("openssl", "passwd", "-6", "-stdin")
	cmd.Stdin = strings.NewReader(PasswordUserPassword + "\n")
	out, err := cmd.Output()
	if err != nil {
		return "", fmt.Errorf("hash %s's password with openssl: %w", PasswordUser, err)
	}
	return strings.TrimSpace(string(out)), nil
})

func passwordHash() (string, error) { return passwordHashOnce() }

func usedIDs(files ...[]byte) map[int]bool {
	used := map[int]bool{}
	for _, f := range files {
		for _, line := range strings.Split(string(f), "\n") {
			fields := strings.Split(line, ":")
			if len(fields) > 2 {
				if id, err := strconv.Atoi(fields[2]); err == nil {
					used[id] = true
				}
			}
		}
	}
	return used
}

func appendLine(b []byte, line string) []byte {
	if len(b) > 0 && b[len(b)-1] != '\n' {
		b = append(b, '\n')
	}
	return append(b, line+"\n"...)
}

// upper writes into an overlay upper layer. Directories it has to create on
// the way get the mode and owner of the same directory in the lower layer, so
// that the merged view shows them unchanged.
type upper struct{ lower, dir string }

func (u upper) write(rel string, data []byte, mode os.FileMode, uid, gid int) error {
	if err := u.parents(rel); err != nil {
		return err
	}
	p := filepath.Join(u.dir, rel)
	if err := os.WriteFile(p, data, mode); err != nil {
		return err
	}
	if err := os.Chmod(p, mode); err != nil {
		return err
	}
	return os.Lchown(p, uid, gid)
}

func (u upper) mkdir(rel string, mode os.FileMode, uid, gid int) error {
	if err := u.parents(rel); err != nil {
		return err
	}
	p := filepath.Join(u.dir, rel)
	if err := os.Mkdir(p, mode); err != nil && !os.IsExist(err) {
		return err
	}
	if err := os.Chmod(p, mode); err != nil {
		return err
	}
	return os.Lchown(p, uid, gid)
}

// parents creates the directories above rel in the upper layer.
func (u upper) parents(rel string) error {
	parts := strings.Split(filepath.Dir(rel), "/")
	for i := range parts {
		if parts[i] == "." {
			return nil
		}
		sub := filepath.Join(parts[:i+1]...)
		p := filepath.Join(u.dir, sub)
		if _, err := os.Lstat(p); err == nil {
			continue
		}
		mode, uid, gid := os.FileMode(0o755), 0, 0
		if fi, err := os.Stat(filepath.Join(u.lower, sub)); err == nil && fi.IsDir() {
			st := fi.Sys().(*syscall.Stat_t)
			mode, uid, gid = fi.Mode().Perm()|fi.Mode()&(os.ModeSticky|os.ModeSetgid), int(st.Uid), int(st.Gid)
		}
		if err := os.Mkdir(p, mode); err != nil && !os.IsExist(err) {
			return err
		}
		if err := os.Chmod(p, mode); err != nil {
			return err
		}
		if err := os.Lchown(p, uid, gid); err != nil {
			return err
		}
	}
	return nil
}
