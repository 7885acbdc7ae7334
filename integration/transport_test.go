package integration_test

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"net"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/drover-cm/drover/engine/shell"
	"github.com/drover-cm/drover/engine/transport"
	"github.com/drover-cm/drover/integration"
)

// These tests drive drover's transport against real sshds and check every
// effect inside the host with Exec, never through the transport itself.

func target(f *integration.Fleet, h *integration.Host, user string) transport.Target {
	return transport.Target{
		Name: h.Name, Address: h.Addr, Port: h.Port, User: user,
		Identities:     []string{f.KeyFile},
		ConnectTimeout: 10 * time.Second,
	}
}

func options(f *integration.Fleet) transport.Options {
	return transport.Options{KnownHostsFile: f.KnownHostsFile, NoAgent: true}
}

func dial(t *testing.T, tgt transport.Target, opts transport.Options) transport.Conn {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	c, err := transport.Dial(ctx, tgt, opts)
	if err != nil {
		t.Fatalf("connect to %s: %v", tgt.Name, err)
	}
	t.Cleanup(func() { c.Close() })
	return c
}

func run(t *testing.T, c transport.Conn, cmd string, stdin []byte) transport.Result {
	t.Helper()
	tc := transport.Cmd{Command: cmd}
	if stdin != nil {
		tc.Stdin = bytes.NewReader(stdin)
	}
	res, err := c.Run(context.Background(), tc)
	if err != nil {
		t.Fatalf("run %q: %v", cmd, err)
	}
	return res
}

// TestTransportParallelExec runs several commands at once on each of six
// hosts, all hosts in parallel, over exactly one SSH connection per host.
func TestTransportParallelExec(t *testing.T) {
	f := integration.Start(t, 6)
	d := transport.NewDialer(options(f))
	defer d.Close()
	var wg sync.WaitGroup
	for _, h := range f.Hosts {
		wg.Add(1)
		go func() {
			defer wg.Done()
			c, err := d.Dial(context.Background(), target(f, h, "root"))
			if err != nil {
				t.Errorf("%s: %v", h.Name, err)
				return
			}
			defer c.Close()
			var cw sync.WaitGroup
			for i := range 5 {
				cw.Add(1)
				go func() {
					defer cw.Done()
					cmd := fmt.Sprintf("hostname; echo %d > /root/drover-parallel-%d; sleep 0.2; exit %d", i, i, i)
					res, err := c.Run(context.Background(), transport.Cmd{Command: cmd})
					if err != nil {
						t.Errorf("%s command %d: %v", h.Name, i, err)
						return
					}
					if got := strings.TrimSpace(string(res.Stdout)); got != h.Name || res.ExitCode != i {
						t.Errorf("%s command %d: stdout %q exit %d, want %q exit %d", h.Name, i, got, res.ExitCode, h.Name, i)
					}
				}()
			}
			cw.Wait()
			// One TCP connection to this host's sshd, seen from inside it.
			conns := h.Exec(t, fmt.Sprintf("ss -Htn state established '( sport = :%d )' | wc -l", h.Port))
			if strings.TrimSpace(conns) != "1" {
				t.Errorf("%s: %s connections to sshd, want 1", h.Name, strings.TrimSpace(conns))
			}
			if s := c.Stats(); s.Dials != 1 || s.RoundTrips < 5 {
				t.Errorf("%s: stats %+v, want 1 dial and at least 5 round trips", h.Name, s)
			}
		}()
	}
	wg.Wait()
	for _, h := range f.Hosts {
		got := h.Exec(t, "cat /root/drover-parallel-0 /root/drover-parallel-1 /root/drover-parallel-2 /root/drover-parallel-3 /root/drover-parallel-4")
		if got != "0\n1\n2\n3\n4\n" {
			t.Errorf("%s: files written by the commands: %q", h.Name, got)
		}
	}
}

// TestTransportDeadHost: a host whose port is closed is refused at once.
func TestTransportDeadHost(t *testing.T) {
	f := integration.Start(t, 1)
	h := f.Hosts[0]
	h.Kill()
	start := time.Now()
	_, err := transport.Dial(context.Background(), target(f, h, "root"), options(f))
	if k := transport.KindOf(err); k != transport.ErrRefused {
		t.Fatalf("dead host: kind %v (%v), want refused", k, err)
	}
	if d := time.Since(start); d > 2*time.Second {
		t.Errorf("refusal took %s, want well under the 10 s timeout", d)
	}
	if !transport.Unreachable(err) || !strings.Contains(err.Error(), h.Name) {
		t.Errorf("error %q should name the host and count as unreachable", err)
	}
}

// TestTransportSilentPort: something accepts TCP but never speaks SSH. The
// connect must end with a timeout error at the timeout, not hang.
func TestTransportSilentPort(t *testing.T) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	var held []net.Conn
	var mu sync.Mutex
	go func() {
		for {
			c, err := l.Accept()
			if err != nil {
				return
			}
			mu.Lock()
			held = append(held, c) // keep it open, say nothing
			mu.Unlock()
		}
	}()
	defer func() {
		mu.Lock()
		for _, c := range held {
			c.Close()
		}
		mu.Unlock()
	}()
	port := l.Addr().(*net.TCPAddr).Port
	tgt := transport.Target{Name: "silent", Address: "127.0.0.1", Port: port, User: "root", ConnectTimeout: 700 * time.Millisecond}
	kh := filepath.Join(t.TempDir(), "known_hosts")
	start := time.Now()
	_, err = transport.Dial(context.Background(), tgt, transport.Options{KnownHostsFile: kh, NoAgent: true})
	elapsed := time.Since(start)
	if k := transport.KindOf(err); k != transport.ErrTimeout {
		t.Fatalf("silent port: kind %v (%v), want timeout", k, err)
	}
	if elapsed < 600*time.Millisecond || elapsed > 5*time.Second {
		t.Errorf("gave up after %s, want about the 700 ms timeout", elapsed)
	}
}

// TestTransportHostKeys: unknown and changed keys are refused with a hint;
// accept-new records an unknown key (and only an unknown one).
func TestTransportHostKeys(t *testing.T) {
	f := integration.Start(t, 2)
	h1, h2 := f.Hosts[0], f.Hosts[1]
	dir := t.TempDir()

	t.Run("unknown", func(t *testing.T) {
		kh := filepath.Join(dir, "empty_known_hosts")
		os.WriteFile(kh, nil, 0o600)
		_, err := transport.Dial(context.Background(), target(f, h1, "root"), transport.Options{KnownHostsFile: kh, NoAgent: true})
		var te *transport.Error
		if !errors.As(err, &te) || te.Kind != transport.ErrHostKeyUnknown {
			t.Fatalf("unknown host: %v, want a host-key-unknown error", err)
		}
		if !strings.Contains(err.Error(), h1.Fingerprint) || te.Hint == "" {
			t.Errorf("error should show the presented fingerprint %s and a hint: %v", h1.Fingerprint, err)
		}
		if b, _ := os.ReadFile(kh); len(b) != 0 {
			t.Errorf("known_hosts written without accept-new: %q", b)
		}
	})

	t.Run("changed", func(t *testing.T) {
		// known_hosts lists host2's key for host1's address.
		kh := filepath.Join(dir, "changed_known_hosts")
		fields := strings.SplitN(h2.KnownHostsLine(), " ", 2)
		line := fmt.Sprintf("[%s]:%d %s\n", h1.Addr, h1.Port, fields[1])
		os.WriteFile(kh, []byte(line), 0o600)
		marker := "/root/drover-changed-key-ran"
		tgt := target(f, h1, "root")
		c, err := transport.Dial(context.Background(), tgt, transport.Options{KnownHostsFile: kh, NoAgent: true, AcceptNewHostKeys: true})
		if err == nil {
			c.Run(context.Background(), transport.Cmd{Command: "touch " + marker})
			c.Close()
		}
		if transport.KindOf(err) != transport.ErrHostKeyChanged {
			t.Fatalf("changed key: %v, want host-key-changed even with accept-new", err)
		}
		if !strings.Contains(err.Error(), h1.Fingerprint) {
			t.Errorf("error should show the presented fingerprint: %v", err)
		}
		if b, _ := os.ReadFile(kh); string(b) != line {
			t.Errorf("known_hosts modified after a changed key:\n%s", b)
		}
		if out := h1.Exec(t, "test -e "+marker+" && echo ran || echo not-run"); strings.TrimSpace(out) != "not-run" {
			t.Error("a command ran on a host with a changed key")
		}
	})

	t.Run("accept-new", func(t *testing.T) {
		// known_hosts knows host1 (without a final newline); host2 is new.
		kh := filepath.Join(dir, "new_known_hosts")
		os.WriteFile(kh, []byte(h1.KnownHostsLine()), 0o600)
		c := dial(t, target(f, h2, "root"), transport.Options{KnownHostsFile: kh, NoAgent: true, AcceptNewHostKeys: true})
		if res := run(t, c, "hostname", nil); strings.TrimSpace(string(res.Stdout)) != h2.Name {
			t.Errorf("hostname %q", res.Stdout)
		}
		b, err := os.ReadFile(kh)
		if want := h1.KnownHostsLine() + "\n" + h2.KnownHostsLine() + "\n"; err != nil || string(b) != want {
			t.Errorf("known_hosts after accept-new:\n%s\nwant\n%s", b, want)
		}
		// The recorded key is now enforced without accept-new.
		c2 := dial(t, target(f, h2, "root"), transport.Options{KnownHostsFile: kh, NoAgent: true})
		run(t, c2, "true", nil)
	})
}

// TestTransportProxyJump reaches host2 through host1.
func TestTransportProxyJump(t *testing.T) {
	f := integration.Start(t, 2)
	h1, h2 := f.Hosts[0], f.Hosts[1]
	tgt := target(f, h2, "root")
	tgt.Jumps = []transport.Target{target(f, h1, "root")}
	c := dial(t, tgt, options(f))
	if res := run(t, c, "hostname", nil); strings.TrimSpace(string(res.Stdout)) != h2.Name {
		t.Fatalf("through host1: hostname %q, want %s", res.Stdout, h2.Name)
	}
	if s := c.Stats(); s.Dials != 2 {
		t.Errorf("stats %+v, want 2 dials (jump + target)", s)
	}
	// Inside host1: its sshd holds the TCP connection to host2's sshd.
	out := h1.Exec(t, fmt.Sprintf("ss -Htnp state established '( dport = :%d )'", h2.Port))
	if !strings.Contains(out, "sshd") {
		t.Errorf("host1 forwards no connection to host2's port %d: %q", h2.Port, out)
	}

	// A wrong key for the jump host is refused like any other.
	kh := filepath.Join(t.TempDir(), "known_hosts")
	os.WriteFile(kh, []byte(h2.KnownHostsLine()+"\n"), 0o600) // host1 unknown
	_, err := transport.Dial(context.Background(), tgt, transport.Options{KnownHostsFile: kh, NoAgent: true})
	if transport.KindOf(err) != transport.ErrHostKeyUnknown || !strings.Contains(err.Error(), h1.Name) {
		t.Errorf("unknown jump host: %v, want host-key-unknown naming %s", err, h1.Name)
	}
}

// TestTransportBecome runs commands and writes files through sudo, with and
// without a password; a wrong password is an ErrBecome that never shows it.
func TestTransportBecome(t *testing.T) {
	f := integration.Start(t, 1)
	h := f.Hosts[0]
	cases := []struct {
		name, user string
		password   string
	}{
		{"nopasswd", integration.DeployUser, ""},
		{"password", integration.PasswordUser, integration.PasswordUserPassword},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			tgt := target(f, h, c.user)
			tgt.Become = transport.BecomeConfig{Enabled: true, User: "root", Password: []byte(c.password)}
			conn := dial(t, tgt, options(f))
			res := run(t, conn, "id -un; cat", []byte("stdin reaches the command\n"))
			if got := string(res.Stdout); got != "root\nstdin reaches the command\n" || res.ExitCode != 0 {
				t.Errorf("as root: stdout %q exit %d stderr %q", got, res.ExitCode, res.Stderr)
			}
			if c.password != "" && bytes.Contains(append(res.Stdout, res.Stderr...), []byte(c.password)) {
				t.Error("the sudo password leaked into the command's output")
			}
			p := "/root/drover-become-" + c.name
			if err := conn.Put(context.Background(), p, strings.NewReader("written by "+c.user+"\n"), transport.PutOptions{Mode: 0o640}); err != nil {
				t.Fatalf("put as root: %v", err)
			}
			if got := h.Exec(t, "stat -c '%U %a' "+p+"; cat "+p); got != "root 640\nwritten by "+c.user+"\n" {
				t.Errorf("file written through sudo: %q", got)
			}
		})
	}

	t.Run("wrong password", func(t *testing.T) {
		const wrong = `n0t 'the$ one"`
		tgt := target(f, h, integration.PasswordUser)
		tgt.Become = transport.BecomeConfig{Enabled: true, Password: []byte(wrong)}
		marker := "/root/drover-wrong-password-ran"
		ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
		defer cancel()
		conn, err := transport.Dial(ctx, tgt, options(f))
		if err == nil {
			defer conn.Close()
			_, err = conn.Run(ctx, transport.Cmd{Command: "touch " + marker})
		}
		if transport.KindOf(err) != transport.ErrBecome {
			t.Fatalf("wrong password: %v, want a become error", err)
		}
		if strings.Contains(err.Error(), wrong) || strings.Contains(fmt.Sprintf("%+v", err), wrong) {
			t.Errorf("the password appears in the error: %v", err)
		}
		if out := h.Exec(t, "test -e "+marker+" && echo ran || echo not-run"); strings.TrimSpace(out) != "not-run" {
			t.Error("the command ran despite the wrong password")
		}
	})
}

// hostileNames are file names that break naive quoting.
var hostileNames = []string{
	`it's "quoted"`,
	"with  two spaces",
	"$(touch drover-pwned)",
	"`touch drover-pwned`",
	"new\nline",
	"ünïcødé ☃ 名前",
	"-leading-dash",
	"semi;colon & amp | pipe > gt",
	`back\slash`,
	"*glob?[x]",
}

// TestTransportFiles writes and reads files over SFTP and through sudo:
// empty, 50 MB and hostile names, each checked inside the host.
func TestTransportFiles(t *testing.T) {
	f := integration.Start(t, 1)
	h := f.Hosts[0]
	plain := target(f, h, "root")
	become := target(f, h, integration.DeployUser)
	become.Become = transport.BecomeConfig{Enabled: true}

	genStart := time.Now()
	big := make([]byte, 50<<20)
	rng := rand.NewChaCha8([32]byte{1, 2, 3})
	rng.Read(big)
	sum := sha256.Sum256(big)
	bigSum := hex.EncodeToString(sum[:])
	t.Logf("50 MB generated in %s", time.Since(genStart).Round(time.Millisecond))

	for _, c := range []struct {
		name string
		tgt  transport.Target
	}{{"sftp", plain}, {"become", become}} {
		t.Run(c.name, func(t *testing.T) {
			conn := dial(t, c.tgt, options(f))
			ctx := context.Background()
			dir := "/root/files-" + c.name
			h.Exec(t, "mkdir -m 700 "+dir)

			// Empty file.
			if err := conn.Put(ctx, dir+"/empty", bytes.NewReader(nil), transport.PutOptions{}); err != nil {
				t.Fatalf("put empty: %v", err)
			}
			if got := h.Exec(t, "stat -c '%s %a %U' "+dir+"/empty"); got != "0 644 root\n" {
				t.Errorf("empty file: size, mode, owner %q, want 0 644 root", got)
			}

			// 50 MB, checksummed inside the host; then read back.
			start := time.Now()
			if err := conn.Put(ctx, dir+"/big", bytes.NewReader(big), transport.PutOptions{Mode: 0o600}); err != nil {
				t.Fatalf("put 50 MB: %v", err)
			}
			t.Logf("50 MB put in %s", time.Since(start).Round(time.Millisecond))
			if got := strings.Fields(h.Exec(t, "sha256sum "+dir+"/big; stat -c %a "+dir+"/big")); len(got) != 3 || got[0] != bigSum || got[2] != "600" {
				t.Errorf("50 MB file inside the host: %v, want sha256 %s and mode 600", got, bigSum)
			}
			if left := h.Exec(t, "ls -A "+dir+" | grep -v -x -e empty -e big || true"); left != "" {
				t.Errorf("temporary files left beside the targets: %q", left)
			}
			hs := sha256.New()
			start = time.Now()
			if err := conn.Get(ctx, dir+"/big", hs); err != nil {
				t.Fatalf("get 50 MB: %v", err)
			}
			t.Logf("50 MB get in %s", time.Since(start).Round(time.Millisecond))
			start = time.Now()
			if got := hex.EncodeToString(hs.Sum(nil)); got != bigSum {
				t.Errorf("50 MB read back with sha256 %s, want %s", got, bigSum)
			}

			// Hostile names; the content of each file is its own name.
			hdir := dir + "/hostile"
			h.Exec(t, "mkdir "+hdir)
			for _, name := range hostileNames {
				if err := conn.Put(ctx, hdir+"/"+name, strings.NewReader(name), transport.PutOptions{}); err != nil {
					t.Errorf("put %q: %v", name, err)
				}
				var got bytes.Buffer
				if err := conn.Get(ctx, hdir+"/"+name, &got); err != nil || got.String() != name {
					t.Errorf("get %q: %q, %v", name, got.String(), err)
				}
			}
			listing := h.Exec(t, "cd "+shell.Quote(hdir)+" && for f in * .[!.]*; do [ -e \"$f\" ] || continue; printf '%s\\0' \"$f\"; cat -- \"$f\"; printf '\\0'; done")
			found := map[string]string{}
			parts := strings.Split(listing, "\x00")
			for i := 0; i+1 < len(parts); i += 2 {
				found[parts[i]] = parts[i+1]
			}
			for _, name := range hostileNames {
				if content, ok := found[name]; !ok || content != name {
					t.Errorf("inside the host, %q: present %v, content %q", name, ok, content)
				}
			}
			if len(found) != len(hostileNames) {
				t.Errorf("inside the host: %d files, want %d: %q", len(found), len(hostileNames), listing)
			}
			t.Logf("hostile names in %s", time.Since(start).Round(time.Millisecond))
			if out := h.Exec(t, "find /root /home /tmp -name drover-pwned"); out != "" {
				t.Error("a file name was executed by a shell")
			}
		})
	}
}

// TestTransportGetMissing: reading a missing file says so with os.ErrNotExist.
func TestTransportGetMissing(t *testing.T) {
	f := integration.Start(t, 1)
	for _, user := range []string{"root", integration.DeployUser} {
		tgt := target(f, f.Hosts[0], user)
		tgt.Become = transport.BecomeConfig{Enabled: user != "root"}
		conn := dial(t, tgt, options(f))
		err := conn.Get(context.Background(), "/root/no such file", io.Discard)
		if !errors.Is(err, os.ErrNotExist) {
			t.Errorf("%s: get of a missing file: %v, want os.ErrNotExist", user, err)
		}
	}
}
