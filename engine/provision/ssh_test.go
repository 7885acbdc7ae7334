package provision

import (
	"context"
	"crypto/ed25519"
	"crypto/rand"
	"net"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"golang.org/x/crypto/ssh"
)

// sshServer accepts connections and runs the key exchange only: enough for
// WaitSSH, which stops at the host key.
func sshServer(t *testing.T) (port int, key ssh.PublicKey) {
	t.Helper()
	_, priv, err := ed25519.GenerateKey(rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	signer, err := ssh.NewSignerFromKey(priv)
	if err != nil {
		t.Fatal(err)
	}
	cfg := &ssh.ServerConfig{NoClientAuth: true}
	cfg.AddHostKey(signer)
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { l.Close() })
	go func() {
		for {
			c, err := l.Accept()
			if err != nil {
				return
			}
			go func() {
				defer c.Close()
				_, _, _, _ = ssh.NewServerConn(c, cfg)
			}()
		}
	}()
	return l.Addr().(*net.TCPAddr).Port, signer.PublicKey()
}

func TestWaitSSHReturnsTheHostKey(t *testing.T) {
	port, want := sshServer(t)
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	got, err := WaitSSH(ctx, "127.0.0.1", port)
	if err != nil {
		t.Fatal(err)
	}
	if string(got.Marshal()) != string(want.Marshal()) {
		t.Errorf("WaitSSH returned another key")
	}
}

func TestWaitSSHGivesUpWithTheContext(t *testing.T) {
	l, _ := net.Listen("tcp", "127.0.0.1:0")
	port := l.Addr().(*net.TCPAddr).Port
	l.Close() // nothing listens: refused until the deadline
	ctx, cancel := context.WithTimeout(context.Background(), 1500*time.Millisecond)
	defer cancel()
	if _, err := WaitSSH(ctx, "127.0.0.1", port); err == nil || !strings.Contains(err.Error(), "refused") {
		t.Errorf("err = %v, want a deadline error naming the last refusal", err)
	}
}

func TestKnownHostsTrustReplacesAStaleLine(t *testing.T) {
	port, key := sshServer(t)
	file := filepath.Join(t.TempDir(), "ssh", "known_hosts")
	_, other := sshServer(t)
	trust := KnownHostsTrust(file)
	h := Host{Address: "127.0.0.1", Port: port}
	if err := trust(h, HostKey{other}); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(file, append(mustRead(t, file), []byte("example.org ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIHq0bQ2eXl2bRrQkKpy5v0u2pZ8k6mD4i2Jg7yY0xqNp\n")...), 0o600); err != nil {
		t.Fatal(err)
	}
	if err := trust(h, HostKey{key}); err != nil {
		t.Fatal(err)
	}
	lines := strings.Split(strings.TrimSpace(string(mustRead(t, file))), "\n")
	if len(lines) != 2 || !strings.HasPrefix(lines[0], "example.org ") {
		t.Fatalf("known_hosts:\n%s", strings.Join(lines, "\n"))
	}
	want := "[127.0.0.1]:" + strconv.Itoa(port) + " " + strings.TrimSpace(string(ssh.MarshalAuthorizedKey(key)))
	if lines[1] != want {
		t.Errorf("line %q, want %q", lines[1], want)
	}
}

func mustRead(t *testing.T, f string) []byte {
	t.Helper()
	b, err := os.ReadFile(f)
	if err != nil {
		t.Fatal(err)
	}
	return b
}
