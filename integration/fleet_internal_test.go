package integration

import (
	"net"
	"os"
	"strings"
	"testing"
)

// TestPortClash: when another process answers SSH on the port picked for a
// host (another fleet won the race for it), the host moves to a new port
// instead of taking the other sshd's banner for its own.
func TestPortClash(t *testing.T) {
	SkipIfUnavailable(t, false)
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	go func() {
		for {
			c, err := l.Accept()
			if err != nil {
				return
			}
			c.Write([]byte("SSH-2.0-someone-else\r\n"))
			c.Close()
		}
	}()
	taken := l.Addr().(*net.TCPAddr).Port
	pickPorts = func(n int) ([]int, error) {
		pickPorts = freePorts
		return []int{taken}, nil
	}
	defer func() { pickPorts = freePorts }()

	f := Start(t, 1)
	h := f.Hosts[0]
	if h.Port == taken {
		t.Fatalf("host kept port %d, which another process holds", taken)
	}
	if got := strings.TrimSpace(h.Exec(t, "hostname")); got != "host1" {
		t.Errorf("hostname %q", got)
	}
	if !strings.Contains(string(mustRead(t, f.KnownHostsFile)), h.KnownHostsLine()) {
		t.Error("known_hosts does not list the host under its new port")
	}
}

func mustRead(t *testing.T, p string) []byte {
	t.Helper()
	b, err := os.ReadFile(p)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// TestAttackerUser: AttackerUser exists on every host, ExecAs runs as it with
// its own home, and it has none of root's rights (the security tests rely on
// that to play the less privileged user of the threat model).
func TestAttackerUser(t *testing.T) {
	f := Start(t, 1)
	h := f.Hosts[0]
	if got := strings.TrimSpace(h.ExecAs(t, AttackerUser, `id -un; echo "$HOME"`)); got != AttackerUser+"\n/home/"+AttackerUser {
		t.Fatalf("ExecAs: got %q", got)
	}
	if _, err := h.RunAs(AttackerUser, "cat /etc/shadow"); err == nil {
		t.Fatal("the attacker could read /etc/shadow")
	}
	if _, err := h.RunAs(AttackerUser, "sudo -n true"); err == nil {
		t.Fatal("the attacker may sudo")
	}
}
