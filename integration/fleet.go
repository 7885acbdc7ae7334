// Package integration runs drover against a fleet of real OpenSSH servers on
// this machine: each host is an sshd on 127.0.0.1 with its own port, in its
// own mount, PID and UTS namespaces, on an overlay root whose writes stay
// private to it. Tests start one with
//
//	fleet := integration.Start(t, 5)
//
// and check what drover did through Host.Exec, which runs inside the host's
// namespaces without SSH, independently of the code under test.
//
// Hosts need root, util-linux (unshare, nsenter) and openssh-server. Without
// them fleet tests skip, unless DROVER_REQUIRE_FLEET=1, which makes them fail.
// See docs/fleet.md.
package integration

import (
	"crypto/ed25519"
	"crypto/rand"
	"encoding/hex"
	"encoding/pem"
	"errors"
	"fmt"
	mrand "math/rand/v2"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"golang.org/x/crypto/ssh"
)

// Users present on every host besides root, all with the fleet's key.
const (
	// DeployUser may sudo to anyone without a password.
	DeployUser = "deploy"
	// PasswordUser needs PasswordUserPassword for sudo.
	PasswordUser = "pwuser"
	// PasswordUserPassword is PasswordUser's login and sudo password. It holds
	// quotes, a space and a dollar sign on purpose.
	PasswordUserPassword = `Pa55 'w$rd"`
	// AttackerUser is an ordinary user with no sudo rule: the "other user on
	// the target" of the threat model (docs/security.md). Security tests run
	// commands as it with Host.ExecAs to plant symlinks, repository config or
	// process-list watchers, and check that a run as root never crosses to it.
	AttackerUser = "mallory"
)

// Fleet is a set of running hosts and the client-side files to reach them.
type Fleet struct {
	Hosts []*Host
	// Dir holds the fleet's files: keys, known_hosts, inventories, and one
	// directory per host (overlay upper layer, logs).
	Dir string
	// KeyFile is the client's private key (ed25519, unencrypted), authorised
	// for root, DeployUser and PasswordUser on every host.
	KeyFile string
	// PublicKey is KeyFile's public key in authorized_keys format.
	PublicKey string
	// KnownHostsFile lists every host's key as "[127.0.0.1]:port".
	KnownHostsFile string
	// Lower is the overlay's lower layer: "/" or the debootstrap'd rootfs.
	Lower string
	// Systemd says the hosts boot an init under systemd-nspawn: systemd
	// (StartSystemd), or sysvinit with OpenRC when OpenRC (StartOpenRC).
	Systemd bool
	OpenRC  bool
	// layers is overlayfs' lowerdir when it is not Lower alone (OpenRC).
	layers string

	cfg       config
	ownsDir   bool
	closeOnce sync.Once
	closeErr  error
}

// Host is one server of the fleet.
type Host struct {
	Name string // "host1", "host2", …
	Addr string // always "127.0.0.1"
	Port int
	// HostKey is the host's public key, Fingerprint its SHA256 fingerprint as
	// OpenSSH prints it.
	HostKey     ssh.PublicKey
	Fingerprint string
	// Dir is the host's state directory; Dir/upper is its overlay upper layer.
	Dir string

	fleet   *Fleet
	mu      sync.Mutex
	proc    *exec.Cmd
	exited  chan struct{} // closed when proc has been waited for
	initPID int           // the host's PID 1 (sshd, or the nspawn wrapper shell), in our PID namespace
}

// Option changes how a fleet is started.
type Option func(*config)

type config struct {
	rootfs bool
	openrc bool // StartOpenRC
	dir    string
	logf   func(format string, args ...any)
}

// WithRootfs uses a debootstrap'd Debian bookworm as the hosts' lower layer
// instead of this machine's /, so hosts look like real servers (crontab,
// systemd, apt state of their own). The rootfs is built on first use and
// cached in CacheDir.
func WithRootfs() Option { return func(c *config) { c.rootfs = true } }

// WithDir keeps the fleet's files in dir instead of a fresh temporary
// directory. dir is created if needed and not removed by Close.
func WithDir(dir string) Option { return func(c *config) { c.dir = dir } }

// WithLogf sends progress messages (such as a rootfs build) to logf.
func WithLogf(logf func(format string, args ...any)) Option {
	return func(c *config) { c.logf = logf }
}

// Available reports why fleets cannot run on this machine, or nil.
func Available(systemd bool) error {
	if os.Geteuid() != 0 {
		return errors.New("the fleet needs root (namespaces, mounts); run the tests as root")
	}
	tools := []string{"unshare", "nsenter", "mount", "mknod", "pivot_root", "openssl", "ssh"}
	if systemd {
		tools = append(tools, "systemd-nspawn")
	}
	for _, tool := range tools {
		if _, err := exec.LookPath(tool); err != nil {
			return fmt.Errorf("the fleet needs %s in PATH (util-linux, openssl, openssh-client, systemd-container): %w", tool, err)
		}
	}
	if _, err := os.Stat("/usr/sbin/sshd"); err != nil {
		return fmt.Errorf("the fleet needs /usr/sbin/sshd: apt-get install openssh-server: %w", err)
	}
	fs, err := os.ReadFile("/proc/filesystems")
	if err != nil || !strings.Contains(string(fs), "\toverlay\n") {
		return errors.New("the fleet needs overlayfs in the kernel (modprobe overlay)")
	}
	if systemd {
		if _, err := os.Stat(filepath.Join(CacheDir(), rootfsVersion, "etc")); err != nil {
			if _, err := exec.LookPath("debootstrap"); err != nil {
				return fmt.Errorf("systemd hosts need a rootfs built with debootstrap: apt-get install debootstrap: %w", err)
			}
		}
	}
	return nil
}

// SkipIfUnavailable skips t when fleets cannot run here (not root, tools
// missing, or testing.Short), or fails it when DROVER_REQUIRE_FLEET=1 says
// they must run.
func SkipIfUnavailable(t testing.TB, systemd bool) {
	t.Helper()
	if testing.Short() {
		t.Skip("fleet test skipped in -short mode")
	}
	if err := Available(systemd); err != nil {
		if os.Getenv("DROVER_REQUIRE_FLEET") == "1" {
			t.Fatalf("DROVER_REQUIRE_FLEET=1 but the fleet cannot run: %v", err)
		}
		t.Skipf("fleet unavailable: %v (set DROVER_REQUIRE_FLEET=1 to make this a failure)", err)
	}
}

// Start starts n plain hosts (sshd as PID 1) and returns when every one
// answers with an SSH banner. Everything is torn down by t.Cleanup, whether
// the test passes, fails or panics. It skips t when the fleet cannot run (see
// SkipIfUnavailable).
func Start(t testing.TB, n int, opts ...Option) *Fleet {
	t.Helper()
	SkipIfUnavailable(t, false)
	return start(t, n, false, opts)
}

// StartSystemd starts n hosts booting systemd under systemd-nspawn, on the
// debootstrap'd rootfs, and returns when each is running (or degraded) and its
// sshd answers.
func StartSystemd(t testing.TB, n int, opts ...Option) *Fleet {
	t.Helper()
	SkipIfUnavailable(t, true)
	return start(t, n, true, opts)
}

func start(t testing.TB, n int, systemd bool, opts []Option) *Fleet {
	t.Helper()
	opts = append([]Option{WithLogf(t.Logf)}, opts...)
	begin := time.Now()
	var f *Fleet
	var err error
	if systemd {
		f, err = NewSystemd(n, opts...)
	} else {
		f, err = New(n, opts...)
	}
	if err != nil {
		t.Fatalf("fleet: %v", err)
	}
	t.Cleanup(func() {
		if err := f.Close(); err != nil {
			t.Errorf("fleet cleanup: %v", err)
		}
	})
	t.Logf("fleet: %d hosts up in %s (%s)", n, time.Since(begin).Round(time.Millisecond), f.Dir)
	return f
}

// New starts n plain hosts; the caller must Close the fleet. Tests use Start.
func New(n int, opts ...Option) (*Fleet, error) { return newFleet(n, false, opts) }

// NewSystemd starts n systemd hosts; the caller must Close the fleet. Tests
// use StartSystemd.
func NewSystemd(n int, opts ...Option) (*Fleet, error) { return newFleet(n, true, opts) }

func newFleet(n int, systemd bool, opts []Option) (_ *Fleet, err error) {
	if n < 1 {
		return nil, fmt.Errorf("a fleet needs at least one host, not %d", n)
	}
	f := &Fleet{Lower: "/", Systemd: systemd}
	for _, o := range opts {
		o(&f.cfg)
	}
	if err := Available(systemd); err != nil {
		return nil, err
	}
	switch {
	case f.cfg.openrc:
		f.OpenRC = true
		if f.layers, err = OpenRCRootfs(f.cfg.logf); err != nil {
			return nil, err
		}
		// The files the hosts' upper layers derive from (passwd, sshd
		// config) are the base's: the OpenRC layer leaves them alone.
		f.Lower = f.layers[strings.LastIndex(f.layers, ":")+1:]
	case f.cfg.rootfs || systemd:
		if f.Lower, err = Rootfs(f.cfg.logf); err != nil {
			return nil, err
		}
	}
	sweepStale()
	if f.cfg.dir != "" {
		f.Dir, err = filepath.Abs(f.cfg.dir)
		if err == nil {
			err = os.MkdirAll(f.Dir, 0o700)
		}
	} else {
		f.ownsDir = true
		f.Dir, err = newFleetDir()
	}
	if err != nil {
		return nil, fmt.Errorf("fleet directory: %w", err)
	}
	defer func() {
		if err != nil {
			f.Close()
		}
	}()
	if err := f.writeClientKey(); err != nil {
		return nil, err
	}
	ports, err := pickPorts(n)
	if err != nil {
		return nil, err
	}
	for i := range n {
		name := "host" + strconv.Itoa(i+1)
		f.Hosts = append(f.Hosts, &Host{
			Name: name, Addr: "127.0.0.1", Port: ports[i],
			Dir: filepath.Join(f.Dir, name), fleet: f,
		})
	}
	if systemd {
		if err := prepareSystemd(); err != nil {
			return nil, err
		}
	}
	if err := checkLimits(n); err != nil {
		return nil, err
	}
	// In parallel, but bounded: a host's start is CPU work (a key, unshare,
	// mounts, sshd's start) plus a wait for its banner, and a thousand at
	// once would queue on the cores with every waiter polling
	// /proc/net/tcp, which grows with the fleet.
	errs := make([]error, n)
	var wg sync.WaitGroup
	slots := make(chan struct{}, startParallel())
	for i, h := range f.Hosts {
		wg.Add(1)
		slots <- struct{}{}
		go func() {
			defer wg.Done()
			defer func() { <-slots }()
			errs[i] = h.create()
		}()
	}
	wg.Wait()
	if err := errors.Join(errs...); err != nil {
		return nil, err
	}
	if err := f.writeKnownHosts(); err != nil {
		return nil, err
	}
	return f, nil
}

// Close kills every host and removes the fleet's files (unless WithDir chose
// the directory). It is safe to call more than once.
func (f *Fleet) Close() error {
	f.closeOnce.Do(func() {
		var errs []error
		var wg sync.WaitGroup
		for _, h := range f.Hosts {
			wg.Add(1)
			go func() {
				defer wg.Done()
				h.Kill()
			}()
		}
		wg.Wait()
		for _, h := range f.Hosts {
			if f.Systemd {
				removeCgroups(h.cgroupName())
			}
		}
		if f.Dir != "" {
			unmountUnder(f.Dir)
			if f.ownsDir {
				if err := os.RemoveAll(f.Dir); err != nil {
					errs = append(errs, err)
				}
			} else {
				for _, h := range f.Hosts {
					if err := os.RemoveAll(h.Dir); err != nil {
						errs = append(errs, err)
					}
				}
			}
		}
		f.closeErr = errors.Join(errs...)
	})
	return f.closeErr
}

// Host returns the host named name, or nil.
func (f *Fleet) Host(name string) *Host {
	for _, h := range f.Hosts {
		if h.Name == name {
			return h
		}
	}
	return nil
}

// SSHArgs are the arguments for OpenSSH's ssh client to log in to h as user
// with the fleet's key and known_hosts, strict host key checking on; append
// the remote command.
func (f *Fleet) SSHArgs(h *Host, user string) []string {
	return []string{
		"-F", "none", "-i", f.KeyFile, "-p", strconv.Itoa(h.Port),
		"-o", "IdentitiesOnly=yes", "-o", "BatchMode=yes",
		"-o", "StrictHostKeyChecking=yes", "-o", "UserKnownHostsFile=" + f.KnownHostsFile,
		"-o", "KexAlgorithms=curve25519-sha256", // the default PQ kex costs ~0.3 s CPU here
		user + "@" + h.Addr,
	}
}

func (f *Fleet) writeClientKey() error {
	pub, priv, err := ed25519.GenerateKey(rand.Reader)
	if err != nil {
		return err
	}
	block, err := ssh.MarshalPrivateKey(priv, "drover-fleet-client")
	if err != nil {
		return err
	}
	f.KeyFile = filepath.Join(f.Dir, "id_ed25519")
	if err := os.WriteFile(f.KeyFile, pem.EncodeToMemory(block), 0o600); err != nil {
		return fmt.Errorf("fleet client key: %w", err)
	}
	sshPub, err := ssh.NewPublicKey(pub)
	if err != nil {
		return err
	}
	f.PublicKey = strings.TrimSpace(string(ssh.MarshalAuthorizedKey(sshPub))) + " drover-fleet-client"
	return os.WriteFile(f.KeyFile+".pub", []byte(f.PublicKey+"\n"), 0o644)
}

func (f *Fleet) writeKnownHosts() error {
	var b strings.Builder
	for _, h := range f.Hosts {
		b.WriteString(h.KnownHostsLine() + "\n")
	}
	f.KnownHostsFile = filepath.Join(f.Dir, "known_hosts")
	return os.WriteFile(f.KnownHostsFile, []byte(b.String()), 0o644)
}

// KnownHostsLine is h's known_hosts entry: "[127.0.0.1]:port ssh-ed25519 …".
func (h *Host) KnownHostsLine() string {
	return fmt.Sprintf("[%s]:%d %s", h.Addr, h.Port, strings.TrimSpace(string(ssh.MarshalAuthorizedKey(h.HostKey))))
}

// HostPort is "127.0.0.1:port".
func (h *Host) HostPort() string { return net.JoinHostPort(h.Addr, strconv.Itoa(h.Port)) }

// pickPorts is freePorts, replaced by tests to force a port clash.
var pickPorts = freePorts

// freePorts picks n distinct ports that are free now, below the kernel's
// ephemeral range so that outgoing connections do not grab them before sshd
// binds. A clash with another process is still possible and is retried by
// the host launcher.
func freePorts(n int) ([]int, error) {
	seen := map[int]bool{}
	var ports []int
	for tries := 0; len(ports) < n; tries++ {
		if tries > 100*n {
			return nil, errors.New("no free TCP ports on 127.0.0.1 in 20000-32000")
		}
		p := 20000 + mrand.IntN(12000)
		if seen[p] {
			continue
		}
		seen[p] = true
		if portFree(p) {
			ports = append(ports, p)
		}
	}
	return ports, nil
}

func portFree(p int) bool {
	l, err := net.Listen("tcp", net.JoinHostPort("127.0.0.1", strconv.Itoa(p)))
	if err != nil {
		return false
	}
	l.Close()
	return true
}

// baseDir holds every fleet's directory, so that the leftovers of a killed
// test binary can be found and removed by the next one.
func baseDir() string { return filepath.Join(os.TempDir(), "drover-fleet") }

// newFleetDir makes a fleet directory stamped with our PID and start time.
func newFleetDir() (string, error) {
	if err := os.MkdirAll(baseDir(), 0o700); err != nil {
		return "", err
	}
	var b [4]byte
	rand.Read(b[:])
	dir := filepath.Join(baseDir(), fmt.Sprintf("%d-%s", os.Getpid(), hex.EncodeToString(b[:])))
	if err := os.Mkdir(dir, 0o700); err != nil {
		return "", err
	}
	// Written whole and renamed: another test binary's sweepStale must never
	// read a half-written stamp and take this fleet for a dead one.
	tmp := filepath.Join(dir, ".owner")
	if err := os.WriteFile(tmp, []byte(procStamp(os.Getpid())), 0o600); err != nil {
		return dir, err
	}
	return dir, os.Rename(tmp, filepath.Join(dir, "owner"))
}

// procStamp identifies a live process across PID reuse: "pid starttime".
func procStamp(pid int) string {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return ""
	}
	s := string(b)
	if i := strings.LastIndexByte(s, ')'); i >= 0 {
		s = s[i+2:]
	}
	fields := strings.Fields(s)
	if len(fields) < 20 {
		return ""
	}
	return fmt.Sprintf("%d %s", pid, fields[19]) // field 22 of stat: starttime
}

// sweepStale removes the directories (and any mounts or cgroups) of fleets
// whose test binary is gone: killed binaries cannot run their cleanups. Their
// hosts died with them (PDEATHSIG and unshare --kill-child).
func sweepStale() {
	entries, err := os.ReadDir(baseDir())
	if err != nil {
		return
	}
	for _, e := range entries {
		dir := filepath.Join(baseDir(), e.Name())
		stamp, err := os.ReadFile(filepath.Join(dir, "owner"))
		var pid int
		if err == nil {
			fmt.Sscan(string(stamp), &pid)
			if pid > 0 && procStamp(pid) == string(stamp) {
				continue // still running
			}
		}
		// No owner yet, or one being written (another test binary's fleet
		// starting at this moment: an empty file): young directories stay.
		if pid <= 0 {
			if fi, err := e.Info(); err == nil && time.Since(fi.ModTime()) < time.Minute {
				continue
			}
		}
		unmountUnder(dir)
		removeCgroups(cgroupPrefix(e.Name()))
		os.RemoveAll(dir)
	}
}
