package provision

import (
	"context"
	"crypto/ed25519"
	"crypto/rand"
	"crypto/rsa"
	"errors"
	"net"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"golang.org/x/crypto/ssh"

	"github.com/drover-cm/drover/cloud"
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
	if err := trust(h, []HostKey{{other}}); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(file, append(mustRead(t, file), []byte("example.org ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIHq0bQ2eXl2bRrQkKpy5v0u2pZ8k6mD4i2Jg7yY0xqNp\n")...), 0o600); err != nil {
		t.Fatal(err)
	}
	if err := trust(h, []HostKey{{key}}); err != nil {
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

// keyed is a provider whose API reports host keys: none for the first
// `after` reads, then keys.
type keyed struct {
	cloud.Provider
	keys  []string
	after int
	reads int
}

func (k *keyed) HostKeys(ctx context.Context, id string) ([]string, error) {
	k.reads++
	if k.reads <= k.after {
		return nil, nil
	}
	return k.keys, nil
}

func authorized(k ssh.PublicKey) string {
	return strings.TrimSpace(string(ssh.MarshalAuthorizedKey(k)))
}

// Host keys through Apply, against an in-process SSH server: the keys a
// provider reports are pinned when the host presents one of them, refused
// (nothing recorded) when it presents another, and the first key is trusted
// only when the provider reports none.
func TestApplyHostKeys(t *testing.T) {
	port, key := sshServer(t)
	_, other := sshServer(t)
	_, third := sshServer(t)
	tests := []struct {
		name    string
		keys    []string // nil: the provider is no HostKeyReader
		after   int
		wantErr bool
		want    KeySource
		known   []ssh.PublicKey
	}{
		{"provider reports the key, after a few reads", []string{authorized(other), authorized(key)}, 2, false, KeysFromProvider, []ssh.PublicKey{other, key}},
		{"provider reports other keys: refused", []string{authorized(other), authorized(third)}, 0, true, "", nil},
		{"provider reports none in time: first use", []string{}, 0, false, KeysFirstUse, []ssh.PublicKey{key}},
		{"provider cannot report keys: first use", nil, 0, false, KeysFirstUse, []ssh.PublicKey{key}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			ctx := context.Background()
			e := newEnv(t)
			var p cloud.Provider = e.p
			if tt.keys != nil {
				p = &keyed{Provider: e.p, keys: tt.keys, after: tt.after}
			}
			file := filepath.Join(t.TempDir(), "known_hosts")
			o := ApplyOptions{Poll: time.Millisecond, Timeout: 20 * time.Second, HostKeyWait: 100 * time.Millisecond,
				Reach:    func(*Resource, cloud.Instance) (string, int) { return "127.0.0.1", port },
				TrustKey: KnownHostsTrust(file)}
			plan, err := MakePlan(ctx, load(t, playbook, vars(1, "s-1vcpu-1gb")), func(context.Context, *Resource) (cloud.Provider, error) { return p, nil })
			if err != nil {
				t.Fatal(err)
			}
			res, err := Apply(ctx, plan, o)
			if tt.wantErr {
				if !errors.Is(err, ErrHostKeyMismatch) || !strings.Contains(err.Error(), ssh.FingerprintSHA256(key)) {
					t.Errorf("err = %v, want a host key mismatch naming the presented key", err)
				}
				if _, serr := os.Stat(file); !os.IsNotExist(serr) {
					t.Errorf("known_hosts was written: %s", mustRead(t, file))
				}
				if len(res.Hosts) != 0 || len(res.Created) != 1 {
					t.Errorf("result %+v: want the created instance listed and no host handed on", res)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if len(res.Hosts) != 1 || res.Hosts[0].Keys != tt.want {
				t.Fatalf("hosts %+v, want keys %q", res.Hosts, tt.want)
			}
			var want []string
			for _, k := range tt.known {
				want = append(want, "[127.0.0.1]:"+strconv.Itoa(port)+" "+authorized(k))
			}
			if got := strings.TrimSpace(string(mustRead(t, file))); got != strings.Join(want, "\n") {
				t.Errorf("known_hosts:\n%s\nwant:\n%s", got, strings.Join(want, "\n"))
			}
		})
	}
}

func TestVerifyHostKeysOffersOnlyTheReportedAlgorithms(t *testing.T) {
	port, key := sshServer(t)
	ctx := context.Background()
	if err := VerifyHostKeys(ctx, "127.0.0.1", port, []HostKey{{key}}); err != nil {
		t.Errorf("the right key: %v", err)
	}
	// An RSA key only: the ed25519-only server has no common algorithm,
	// which is an error, and not a mismatch.
	priv, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		t.Fatal(err)
	}
	rsaKey, err := ssh.NewPublicKey(&priv.PublicKey)
	if err != nil {
		t.Fatal(err)
	}
	err = VerifyHostKeys(ctx, "127.0.0.1", port, []HostKey{{rsaKey}})
	if err == nil || errors.Is(err, ErrHostKeyMismatch) {
		t.Errorf("err = %v, want a handshake failure", err)
	}
}
