package integration_test

import (
	"bufio"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/drover-cm/drover/integration"
	"github.com/drover-cm/drover/inventory"
)

// TestFleetTenHostsIsolated starts ten hosts and checks that each is its own
// machine: hostname, PID 1, and files under /etc private to it.
func TestFleetTenHostsIsolated(t *testing.T) {
	start := time.Now()
	f := integration.Start(t, 10)
	if d := time.Since(start); d > 10*time.Second {
		t.Errorf("10 hosts took %s to start; FLEET.md measures ~1 s", d)
	}
	if len(f.Hosts) != 10 {
		t.Fatalf("got %d hosts, want 10", len(f.Hosts))
	}
	ports := map[int]bool{}
	for i, h := range f.Hosts {
		if want := "host" + strconv.Itoa(i+1); h.Name != want || h.Addr != "127.0.0.1" {
			t.Errorf("host %d is %s at %s, want %s at 127.0.0.1", i, h.Name, h.Addr, want)
		}
		if ports[h.Port] {
			t.Errorf("port %d used twice", h.Port)
		}
		ports[h.Port] = true
		if got := strings.TrimSpace(h.Exec(t, "hostname; cat /proc/1/comm")); got != h.Name+"\nsshd" {
			t.Errorf("%s: hostname and PID 1 are %q, want %q", h.Name, got, h.Name+"\nsshd")
		}
	}

	const marker = "/etc/drover-fleet-isolation-test"
	f.Hosts[0].Exec(t, "echo host1-was-here > "+marker)
	if got := strings.TrimSpace(f.Hosts[0].Exec(t, "cat "+marker)); got != "host1-was-here" {
		t.Fatalf("host1 does not see its own write: %q", got)
	}
	if out := f.Hosts[1].Exec(t, "test -e "+marker+" && echo present || echo absent"); strings.TrimSpace(out) != "absent" {
		t.Errorf("host2 sees host1's %s", marker)
	}
	if _, err := os.Stat(marker); !os.IsNotExist(err) {
		t.Errorf("the machine sees host1's %s (stat: %v)", marker, err)
	}
}

// TestFleetSystemSSH logs in with OpenSSH's own client, host keys checked
// strictly against the fleet's known_hosts, as each user, and uses sudo.
func TestFleetSystemSSH(t *testing.T) {
	f := integration.Start(t, 2)
	h := f.Hosts[1]
	for _, c := range []struct {
		name, user, cmd, stdin, want string
		fail                         bool
	}{
		{"root", "root", "id -un; hostname", "", "root\nhost2", false},
		{"deploy sudo without password", integration.DeployUser, "id -un; sudo -n id -un", "", "deploy\nroot", false},
		{"pwuser sudo -n refused", integration.PasswordUser, "sudo -n true", "", "", true},
		{"pwuser sudo with password", integration.PasswordUser, "id -un; sudo -S -p '' id -un", integration.PasswordUserPassword + "\n", "pwuser\nroot", false},
	} {
		t.Run(c.name, func(t *testing.T) {
			cmd := exec.Command("ssh", append(f.SSHArgs(h, c.user), c.cmd)...)
			cmd.Stdin = strings.NewReader(c.stdin)
			out, err := cmd.Output()
			if c.fail {
				if err == nil {
					t.Fatalf("succeeded, want failure: %q", out)
				}
				return
			}
			if err != nil {
				t.Fatalf("ssh: %v: %s", err, exitStderr(err))
			}
			if got := strings.TrimSpace(string(out)); got != c.want {
				t.Errorf("got %q, want %q", got, c.want)
			}
		})
	}

	// A host key not matching known_hosts is refused by the real client too.
	bad := filepath.Join(t.TempDir(), "known_hosts")
	line := f.Hosts[0].KnownHostsLine() // host1's key under host2's name
	line = fmt.Sprintf("[%s]:%d %s", h.Addr, h.Port, line[strings.IndexByte(line, ' ')+1:])
	if err := os.WriteFile(bad, []byte(line+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	args := f.SSHArgs(h, "root")
	for i, a := range args {
		if strings.HasPrefix(a, "UserKnownHostsFile=") {
			args[i] = "UserKnownHostsFile=" + bad
		}
	}
	out, err := exec.Command("ssh", append(args, "true")...).CombinedOutput()
	if err == nil || !strings.Contains(string(out), "HOST IDENTIFICATION HAS CHANGED") {
		t.Errorf("ssh with a wrong known_hosts entry: err=%v, output %q; want a changed-key refusal", err, out)
	}
}

// TestFleetCleanupLeavesNothing checks that closing a fleet ends every
// process (also ones started inside a host, detached from sshd) and leaves no
// mount, port or file behind.
func TestFleetCleanupLeavesNothing(t *testing.T) {
	integration.SkipIfUnavailable(t, false)
	f, err := integration.New(3)
	if err != nil {
		t.Fatal(err)
	}
	closed := false
	t.Cleanup(func() {
		if !closed {
			f.Close()
		}
	})
	// Unique to this run: other test binaries may run this test meanwhile.
	tag := fmt.Sprintf("4242.%d", os.Getpid())
	// A daemon started over SSH, detached from the session, and one started
	// through Exec: both must be confined to the host and die with it.
	cmd := exec.Command("ssh", append(f.SSHArgs(f.Hosts[0], "root"), "setsid nohup sleep "+tag+" >/dev/null 2>&1 < /dev/null &")...)
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("start daemon over ssh: %v: %s", err, out)
	}
	f.Hosts[1].Exec(t, "setsid nohup sleep "+tag+" >/dev/null 2>&1 < /dev/null &")
	waitFor(t, "both daemons running", func() bool { return len(pidsWithCmdline("sleep\x00"+tag)) == 2 })
	for _, pid := range pidsWithCmdline("sleep\x00" + tag) {
		if ns, self := readLink(fmt.Sprintf("/proc/%d/ns/pid", pid)), readLink("/proc/self/ns/pid"); ns == self {
			t.Errorf("daemon %d runs in the machine's PID namespace, not its host's", pid)
		}
	}
	dir := f.Dir
	ports := []string{}
	for _, h := range f.Hosts {
		ports = append(ports, h.HostPort())
	}

	if err := f.Close(); err != nil {
		t.Fatalf("close: %v", err)
	}
	closed = true
	if pids := pidsWithCmdline("sleep\x00" + tag); len(pids) > 0 {
		t.Errorf("daemons started inside hosts survived the fleet: %v", pids)
	}
	if pids := pidsWithEnv("FLEET_HOST=" + dir); len(pids) > 0 {
		t.Errorf("processes of the fleet survived it: %v", pids)
	}
	for _, p := range []string{"/proc/mounts", "/proc/self/mountinfo"} {
		b, err := os.ReadFile(p)
		if err != nil {
			t.Fatal(err)
		}
		if strings.Contains(string(b), dir) {
			t.Errorf("%s still lists a fleet mount", p)
		}
	}
	for _, addr := range ports {
		if c, err := net.DialTimeout("tcp", addr, time.Second); err == nil {
			c.Close()
			t.Errorf("%s still accepts connections", addr)
		}
	}
	if _, err := os.Stat(dir); !os.IsNotExist(err) {
		t.Errorf("fleet directory %s still exists (stat: %v)", dir, err)
	}
}

// TestHostKillRestart kills a host like a power cut and starts it again:
// the port closes, then the host comes back with its files and key.
func TestHostKillRestart(t *testing.T) {
	f := integration.Start(t, 2)
	h := f.Hosts[0]
	h.Exec(t, "echo kept > /etc/drover-kept")
	h.Kill()
	if c, err := net.DialTimeout("tcp", h.HostPort(), time.Second); err == nil {
		c.Close()
		t.Fatal("a killed host still accepts connections")
	}
	if _, err := h.Run("true"); err == nil {
		t.Error("Exec into a killed host succeeded")
	}
	if got := strings.TrimSpace(f.Hosts[1].Exec(t, "hostname")); got != "host2" {
		t.Errorf("host2 hurt by host1's death: hostname %q", got)
	}
	h.Restart(t)
	if got := strings.TrimSpace(h.Exec(t, "cat /etc/drover-kept")); got != "kept" {
		t.Errorf("file after restart: %q, want kept", got)
	}
	if out, err := exec.Command("ssh", append(f.SSHArgs(h, "root"), "hostname")...).Output(); err != nil || strings.TrimSpace(string(out)) != "host1" {
		t.Errorf("ssh after restart: %q, %v: %s", out, err, exitStderr(err))
	}
}

// TestFleetInventories checks that the generated inventories name every host
// with its port and the fleet's key and known_hosts.
func TestFleetInventories(t *testing.T) {
	f := integration.Start(t, 3)
	hcl, err := os.ReadFile(f.InventoryFile())
	if err != nil {
		t.Fatal(err)
	}
	ini, err := os.ReadFile(f.AnsibleInventoryFile())
	if err != nil {
		t.Fatal(err)
	}
	kh, err := os.ReadFile(f.KnownHostsFile)
	if err != nil {
		t.Fatal(err)
	}
	for _, h := range f.Hosts {
		for name, want := range map[string]string{
			"hcl":         fmt.Sprintf("host %q {\n  address = \"127.0.0.1\"\n  port    = %d\n}", h.Name, h.Port),
			"ini":         fmt.Sprintf("%s ansible_host=127.0.0.1 ansible_port=%d\n", h.Name, h.Port),
			"known_hosts": h.KnownHostsLine() + "\n",
		} {
			got := map[string]string{"hcl": string(hcl), "ini": string(ini), "known_hosts": string(kh)}[name]
			if !strings.Contains(got, want) {
				t.Errorf("%s inventory lacks %q:\n%s", name, want, got)
			}
		}
		// The host really serves the key that known_hosts lists for it.
		served := strings.Fields(h.Exec(t, "cat /etc/ssh/drover_fleet_host_ed25519_key.pub"))
		if want := strings.Fields(h.KnownHostsLine()); len(served) < 2 || served[1] != want[2] {
			t.Errorf("%s serves %v, known_hosts says %v", h.Name, served, want)
		}
	}
	if !strings.Contains(string(hcl), `group "fleet" {`+"\n"+`  hosts = ["host1", "host2", "host3"]`) {
		t.Errorf("hcl inventory lacks the fleet group:\n%s", hcl)
	}
	if !strings.Contains(string(ini), "UserKnownHostsFile="+f.KnownHostsFile) {
		t.Errorf("ini inventory does not use the fleet's known_hosts:\n%s", ini)
	}

	// drover's own inventory loader reads both files to the same hosts.
	for _, file := range []string{f.InventoryFile(), f.AnsibleInventoryFile()} {
		inv, diags := inventory.Load([]string{file}, inventory.LoadOptions{SSHConfigPath: "none"})
		if diags.HasErrors() {
			t.Errorf("%s: %v", filepath.Base(file), diags)
			continue
		}
		hosts, err := inv.Select("fleet")
		if err != nil || len(hosts) != len(f.Hosts) {
			t.Errorf("%s: group fleet has %d hosts (%v), want %d", filepath.Base(file), len(hosts), err, len(f.Hosts))
			continue
		}
		for i, h := range hosts {
			want := f.Hosts[i]
			if h.Name != want.Name || h.Address != want.Addr || h.Port != want.Port || h.User != "root" ||
				len(h.Identities) == 0 || h.Identities[0] != f.KeyFile {
				t.Errorf("%s: host %d is %s %s:%d user %q keys %v, want %s %s:%d root %s",
					filepath.Base(file), i, h.Name, h.Address, h.Port, h.User, h.Identities, want.Name, want.Addr, want.Port, f.KeyFile)
			}
			if len(h.KnownHostsFiles) != 1 || h.KnownHostsFiles[0] != f.KnownHostsFile {
				t.Errorf("%s: host %s verifies its key against %v, want the fleet's %s", filepath.Base(file), h.Name, h.KnownHostsFiles, f.KnownHostsFile)
			}
		}
	}
}

// TestFleetRootfs runs hosts on the debootstrap'd Debian rootfs, which has
// tools the machine's / may lack.
func TestFleetRootfs(t *testing.T) {
	f := integration.Start(t, 2, integration.WithRootfs())
	h := f.Hosts[0]
	out := h.Exec(t, "cat /etc/debian_version; command -v crontab sudo sshd")
	if !strings.HasPrefix(out, "12.") || !strings.Contains(out, "/usr/bin/crontab") {
		t.Errorf("rootfs host: %q, want Debian 12 with crontab", out)
	}
	out2, err := exec.Command("ssh", append(f.SSHArgs(h, integration.DeployUser), "sudo -n crontab -l 2>&1; sudo -n id -u")...).Output()
	if err != nil || !strings.HasSuffix(strings.TrimSpace(string(out2)), "0") {
		t.Errorf("deploy sudo on rootfs host: %q, %v: %s", out2, err, exitStderr(err))
	}
}

// TestFleetKilledBinaryLeavesNoHosts runs a fleet in a child process, kills
// the child with SIGKILL (no cleanup runs), and checks that its hosts died
// with it and that the next fleet removes its directory.
func TestFleetKilledBinaryLeavesNoHosts(t *testing.T) {
	if os.Getenv("DROVER_FLEET_CHILD") == "1" {
		f, err := integration.New(2)
		if err != nil {
			fmt.Println("error", err)
			os.Exit(1)
		}
		fmt.Println("dir", f.Dir)
		for _, h := range f.Hosts {
			fmt.Println("addr", h.HostPort())
		}
		fmt.Println("ready")
		time.Sleep(time.Minute)
		os.Exit(0)
	}
	integration.SkipIfUnavailable(t, false)
	child := exec.Command(os.Args[0], "-test.run=^TestFleetKilledBinaryLeavesNoHosts$")
	child.Env = append(os.Environ(), "DROVER_FLEET_CHILD=1")
	stdout, err := child.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := child.Start(); err != nil {
		t.Fatal(err)
	}
	defer child.Process.Kill()
	var dir string
	var addrs []string
	sc := bufio.NewScanner(stdout)
	for sc.Scan() {
		k, v, _ := strings.Cut(sc.Text(), " ")
		switch k {
		case "dir":
			dir = v
		case "addr":
			addrs = append(addrs, v)
		case "error":
			t.Fatalf("child: %s", v)
		}
		if k == "ready" {
			break
		}
	}
	if dir == "" || len(addrs) != 2 {
		t.Fatalf("child did not start its fleet (dir %q, addrs %v)", dir, addrs)
	}
	child.Process.Kill()
	child.Wait()
	waitFor(t, "the dead binary's hosts to go", func() bool {
		for _, a := range addrs {
			if c, err := net.DialTimeout("tcp", a, time.Second); err == nil {
				c.Close()
				return false
			}
		}
		return len(pidsWithEnv("FLEET_HOST="+dir)) == 0
	})
	integration.Start(t, 1) // sweeps the leftovers
	if _, err := os.Stat(dir); !os.IsNotExist(err) {
		t.Errorf("the dead binary's fleet directory %s survived the next Start (stat: %v)", dir, err)
	}
}

func waitFor(t *testing.T, what string, ok func() bool) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for !ok() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// pidsWithCmdline lists the processes of the machine whose command line
// contains s (arguments are NUL-separated in /proc/PID/cmdline).
func pidsWithCmdline(s string) []int {
	entries, _ := os.ReadDir("/proc")
	var pids []int
	for _, e := range entries {
		pid, err := strconv.Atoi(e.Name())
		if err != nil || pid == os.Getpid() {
			continue
		}
		b, err := os.ReadFile("/proc/" + e.Name() + "/cmdline")
		if err == nil && strings.Contains(string(b), s) {
			pids = append(pids, pid)
		}
	}
	return pids
}

// pidsWithEnv lists the processes whose environment contains s: the fleet's
// launchers and sshds carry FLEET_HOST=<host dir>.
func pidsWithEnv(s string) []int {
	entries, _ := os.ReadDir("/proc")
	var pids []int
	for _, e := range entries {
		pid, err := strconv.Atoi(e.Name())
		if err != nil || pid == os.Getpid() {
			continue
		}
		b, err := os.ReadFile("/proc/" + e.Name() + "/environ")
		if err == nil && strings.Contains(string(b), s) {
			pids = append(pids, pid)
		}
	}
	return pids
}

func readLink(p string) string {
	s, _ := os.Readlink(p)
	return s
}

func exitStderr(err error) string {
	if ee, ok := err.(*exec.ExitError); ok {
		return string(ee.Stderr)
	}
	return ""
}
