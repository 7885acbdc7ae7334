package transport

import (
	"bytes"
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"golang.org/x/crypto/ssh"
	"golang.org/x/crypto/ssh/agent"
	xknownhosts "golang.org/x/crypto/ssh/knownhosts"
)

type fixture struct {
	dir        string
	srv        *testServer
	keyFile    string
	knownHosts string
	opts       Options
	target     Target
}

// newFixture starts a server (with hostKeys, or one ed25519 key) whose keys
// are all in a private known_hosts file, and a client key it accepts. HOME
// points to a temporary directory so that no test reads the user's ~/.ssh.
func newFixture(t *testing.T, hostKeys ...ssh.Signer) *fixture {
	t.Helper()
	dir := t.TempDir()
	t.Setenv("HOME", dir)
	t.Setenv("SSH_AUTH_SOCK", "")
	key, pub := clientKey(t, dir, "id_test", "")
	srv := startServer(t, hostKeys, pub)
	kh := filepath.Join(dir, "known_hosts")
	var lines string
	for _, k := range srv.hostKeys {
		lines += xknownhosts.Line([]string{srv.addr}, k.PublicKey()) + "\n"
	}
	if err := os.WriteFile(kh, []byte(lines), 0o600); err != nil {
		t.Fatal(err)
	}
	return &fixture{dir: dir, srv: srv, keyFile: key, knownHosts: kh,
		opts:   Options{KnownHostsFile: kh, NoAgent: true, ConnectTimeout: 5 * time.Second},
		target: Target{Name: "h1", Address: "127.0.0.1", Port: srv.port, User: "tester", Identities: []string{key}}}
}

func (f *fixture) connect(t *testing.T) Conn {
	t.Helper()
	c, err := NewSSH(f.opts).Connect(context.Background(), f.target)
	if err != nil {
		t.Fatalf("Connect: %v", err)
	}
	t.Cleanup(func() { c.Close() })
	return c
}

func (f *fixture) connectErr(t *testing.T) *Error {
	t.Helper()
	c, err := NewSSH(f.opts).Connect(context.Background(), f.target)
	if err == nil {
		c.Close()
		t.Fatal("Connect succeeded, want an error")
	}
	var te *Error
	if !errors.As(err, &te) {
		t.Fatalf("Connect error %T %v, want *Error", err, err)
	}
	return te
}

func TestRun(t *testing.T) {
	f := newFixture(t)
	testRun(t, f.connect(t))
}

func TestLocalRun(t *testing.T) {
	c, err := Local{}.Connect(context.Background(), Target{Name: "local", Local: true})
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	testRun(t, c)
}

// testRun checks the Run contract on any Conn.
func testRun(t *testing.T, c Conn) {
	ctx := context.Background()
	tests := []struct {
		name       string
		cmd        Cmd
		stdout     string
		stderr     string
		code       int
		signal     string
		streamOut  bool
		streamErr  bool
		wantStdout string
		absent     string // stdout must not contain it (and the command succeed)
	}{
		{name: "stdout", cmd: Cmd{Command: "echo hello"}, stdout: "hello\n"},
		{name: "stderr and code", cmd: Cmd{Command: "echo oops >&2; exit 3"}, stderr: "oops\n", code: 3},
		{name: "stdin", cmd: Cmd{Command: "tr a-z A-Z", Stdin: strings.NewReader("abc\ndef")}, stdout: "ABC\nDEF"},
		{name: "no stdin reads EOF", cmd: Cmd{Command: "cat; echo done"}, stdout: "done\n"},
		{name: "stdin not read", cmd: Cmd{Command: "true", Stdin: strings.NewReader(strings.Repeat("x", 1<<20))}},
		{name: "posix sh", cmd: Cmd{Command: "x=$(printf '%s' 'a b'); [ \"$x\" = 'a b' ] && echo ok"}, stdout: "ok\n"},
		{name: "signal", cmd: Cmd{Command: "kill -TERM $$"}, code: 128 + 15, signal: "TERM"},
		{name: "streamed", cmd: Cmd{Command: "echo out; echo err >&2"}, streamOut: true, streamErr: true},
		// The command is on stdin: the shell's arguments are a fixed
		// bootstrap, so other users never see a script's secrets.
		{name: "not in argv", cmd: Cmd{Command: "s=argv-secret; tr '\\0' ' ' </proc/$$/cmdline"}, absent: "argv-secret"},
		{name: "not in argv with stdin", cmd: Cmd{Command: "s=argv-secret; cat >/dev/null; tr '\\0' ' ' </proc/$$/cmdline", Stdin: strings.NewReader("in")}, absent: "argv-secret"},
		{name: "quotes and newlines before stdin", cmd: Cmd{Command: "IFS= read -r a\nprintf '%s|' \"$a\" 'it'\\''s' \"$n$s\"\ncat", Stdin: strings.NewReader("first\nrest\n")}, stdout: "first|it's||rest\n"},
		{name: "stdin looks like a script", cmd: Cmd{Command: "cat", Stdin: strings.NewReader("echo no; exit 9\n")}, stdout: "echo no; exit 9\n"},
		{name: "braces and here-doc", cmd: Cmd{Command: "cat <<'EOF'\n}\n} </dev/null\nEOF\n{ echo grouped; }"}, stdout: "}\n} </dev/null\ngrouped\n"},
		{name: "large script", cmd: Cmd{Command: strings.Repeat(": "+strings.Repeat("y", 60)+"\n", 40000) + "echo big"}, stdout: "big\n"},
		{name: "large script with stdin", cmd: Cmd{Command: strings.Repeat(": 'x'\n", 5000) + "cat", Stdin: strings.NewReader("in\n")}, stdout: "in\n"},
		{name: "exit from the script", cmd: Cmd{Command: "exit 4\necho not reached"}, code: 4},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			var out, errb bytes.Buffer
			if tc.streamOut {
				tc.cmd.Stdout, tc.cmd.Stderr = &out, &errb
			}
			res, err := c.Run(ctx, tc.cmd)
			if err != nil {
				t.Fatalf("Run: %v", err)
			}
			if tc.streamOut {
				if out.String() != "out\n" || errb.String() != "err\n" || len(res.Stdout) != 0 {
					t.Fatalf("streamed stdout %q stderr %q, result stdout %q", out.String(), errb.String(), res.Stdout)
				}
				return
			}
			if tc.absent != "" {
				if res.ExitCode != 0 || len(res.Stdout) == 0 || strings.Contains(string(res.Stdout), tc.absent) {
					t.Fatalf("exit %d, stdout %q (stderr %q); want %q absent", res.ExitCode, res.Stdout, res.Stderr, tc.absent)
				}
				return
			}
			if string(res.Stdout) != tc.stdout || string(res.Stderr) != tc.stderr || res.ExitCode != tc.code || res.Signal != tc.signal {
				t.Fatalf("got stdout %q stderr %q code %d signal %q; want %q %q %d %q",
					res.Stdout, res.Stderr, res.ExitCode, res.Signal, tc.stdout, tc.stderr, tc.code, tc.signal)
			}
		})
	}

	t.Run("NUL", func(t *testing.T) {
		if _, err := c.Run(ctx, Cmd{Command: "echo a\x00b"}); !errors.Is(err, errNUL) {
			t.Fatalf("err = %v, want errNUL", err)
		}
	})

	t.Run("concurrent", func(t *testing.T) {
		var wg sync.WaitGroup
		errs := make(chan error, 20)
		for i := range 20 {
			wg.Add(1)
			go func() {
				defer wg.Done()
				res, err := c.Run(ctx, Cmd{Command: fmt.Sprintf("sleep 0.1; echo %d", i)})
				if err != nil {
					errs <- err
					return
				}
				if got := strings.TrimSpace(string(res.Stdout)); got != fmt.Sprint(i) {
					errs <- fmt.Errorf("run %d got %q", i, got)
				}
			}()
		}
		wg.Wait()
		close(errs)
		for err := range errs {
			t.Error(err)
		}
	})

	t.Run("cancel", func(t *testing.T) {
		dir := t.TempDir()
		marker := filepath.Join(dir, "terminated")
		ctx, cancel := context.WithCancel(ctx)
		defer cancel()
		start := time.Now()
		// The shell records the SIGTERM it receives: the remote command is
		// signalled, not just abandoned. It is cancelled once the trap is set
		// and the background sleep has started (a signal that lands between
		// fork and exec of `sleep` is lost by the shell).
		_, err := c.Run(ctx, Cmd{Command: fmt.Sprintf("trap 'touch %s; exit 1' TERM; sleep 30 & sleep 0.2; echo ready; wait", marker),
			Stdout: cancelOn{cancel}})
		if !errors.Is(err, context.Canceled) {
			t.Fatalf("err = %v, want Canceled", err)
		}
		if d := time.Since(start); d > 5*time.Second {
			t.Fatalf("cancel took %s", d)
		}
		deadline := time.Now().Add(5 * time.Second)
		for {
			if _, err := os.Stat(marker); err == nil {
				break
			}
			if time.Now().After(deadline) {
				t.Fatal("the command did not get SIGTERM")
			}
			time.Sleep(20 * time.Millisecond)
		}
		// The connection is still usable.
		if res, err := c.Run(context.Background(), Cmd{Command: "echo still"}); err != nil || string(res.Stdout) != "still\n" {
			t.Fatalf("after cancel: %q %v", res.Stdout, err)
		}
	})

	if st := c.Stats(); st.RoundTrips < int64(len(tests)+20) {
		t.Errorf("RoundTrips = %d, want at least %d", st.RoundTrips, len(tests)+20)
	}
}

type hostKeyCase struct {
	name   string
	keys   []ssh.Signer                 // server host keys
	known  func(f *fixture) string      // known_hosts content
	accept bool                         // AcceptNewHostKeys
	hash   bool                         // HashKnownHosts
	kind   ErrorKind                    // wanted error kind, ErrOther = success
	check  func(t *testing.T, e *Error) // checks on the error
}

func TestHostKeys(t *testing.T) {
	ed, _ := newEd25519(t)
	other, _ := newEd25519(t)
	tests := []hostKeyCase{
		{name: "port entry", keys: []ssh.Signer{ed},
			known: func(f *fixture) string { return xknownhosts.Line([]string{f.srv.addr}, ed.PublicKey()) }},
		{name: "hashed entry", keys: []ssh.Signer{ed},
			known: func(f *fixture) string {
				return xknownhosts.HashHostname(xknownhosts.Normalize(f.srv.addr)) + " " + string(bytes.TrimSpace(ssh.MarshalAuthorizedKey(ed.PublicKey())))
			}},
		{name: "entry without port does not match another port", keys: []ssh.Signer{ed},
			known: func(f *fixture) string { return xknownhosts.Line([]string{"127.0.0.1"}, ed.PublicKey()) },
			kind:  ErrHostKeyUnknown},
		{name: "unknown", keys: []ssh.Signer{ed}, known: func(*fixture) string { return "" }, kind: ErrHostKeyUnknown,
			check: func(t *testing.T, e *Error) {
				f := ssh.FingerprintSHA256(ed.PublicKey())
				msg := e.Error()
				for _, want := range []string{f, "ssh-keyscan -p ", " -t ed25519 127.0.0.1 >> ", "--accept-new-host-keys"} {
					if !strings.Contains(msg, want) {
						t.Errorf("message lacks %q:\n%s", want, msg)
					}
				}
			}},
		{name: "changed", keys: []ssh.Signer{ed}, accept: true, kind: ErrHostKeyChanged,
			known: func(f *fixture) string {
				return "# comment\n" + xknownhosts.Line([]string{f.srv.addr}, other.PublicKey())
			},
			check: func(t *testing.T, e *Error) {
				msg := e.Error()
				for _, want := range []string{ssh.FingerprintSHA256(ed.PublicKey()), ssh.FingerprintSHA256(other.PublicKey()), "known_hosts:2", "CHANGED"} {
					if !strings.Contains(msg, want) {
						t.Errorf("message lacks %q:\n%s", want, msg)
					}
				}
			}},
		{name: "revoked", keys: []ssh.Signer{ed}, accept: true, kind: ErrHostKeyRevoked,
			known: func(f *fixture) string {
				return xknownhosts.Line([]string{f.srv.addr}, ed.PublicKey()) + "\n@revoked * " + string(ssh.MarshalAuthorizedKey(ed.PublicKey()))
			}},
		{name: "algorithm from known_hosts: ed25519 while server prefers rsa", keys: []ssh.Signer{testRSA(t), ed},
			known: func(f *fixture) string { return xknownhosts.Line([]string{f.srv.addr}, ed.PublicKey()) }},
		{name: "algorithm from known_hosts: rsa only", keys: []ssh.Signer{ed, testRSA(t)},
			known: func(f *fixture) string { return xknownhosts.Line([]string{f.srv.addr}, testRSA(t).PublicKey()) }},
		{name: "accept new", keys: []ssh.Signer{ed}, accept: true, known: func(*fixture) string { return "" }},
		{name: "accept new hashed", keys: []ssh.Signer{ed}, accept: true, hash: true, known: func(*fixture) string { return "" }},
	}
	// A host certificate signed by a CA that known_hosts trusts.
	ca, _ := newEd25519(t)
	cert := &ssh.Certificate{Key: ed.PublicKey(), CertType: ssh.HostCert, KeyId: "h1", Serial: 1,
		ValidPrincipals: []string{"127.0.0.1"}, ValidBefore: ssh.CertTimeInfinity}
	if err := cert.SignCert(rand.Reader, ca); err != nil {
		t.Fatal(err)
	}
	certSigner, err := ssh.NewCertSigner(cert, ed)
	if err != nil {
		t.Fatal(err)
	}
	tests = append(tests, hostKeyCase{name: "cert-authority", keys: []ssh.Signer{certSigner},
		known: func(f *fixture) string {
			return "@cert-authority " + f.srv.addr2() + " " + string(ssh.MarshalAuthorizedKey(ca.PublicKey()))
		}})

	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			f := newFixture(t, tc.keys...)
			if err := os.WriteFile(f.knownHosts, []byte(tc.known(f)), 0o600); err != nil {
				t.Fatal(err)
			}
			before, _ := os.ReadFile(f.knownHosts)
			f.opts.AcceptNewHostKeys = tc.accept
			f.opts.HashKnownHosts = tc.hash
			if tc.kind == ErrOther {
				c := f.connect(t)
				if _, err := c.Run(context.Background(), Cmd{Command: "true"}); err != nil {
					t.Fatal(err)
				}
				if tc.accept {
					after, _ := os.ReadFile(f.knownHosts)
					added := strings.TrimPrefix(string(after), string(before))
					if strings.Count(added, "\n") != 1 || strings.HasPrefix(added, "|1|") != tc.hash {
						t.Fatalf("known_hosts gained %q", added)
					}
					// OpenSSH finds the line drover wrote.
					if _, err := exec.LookPath("ssh-keygen"); err == nil {
						out, err := exec.Command("ssh-keygen", "-F", f.srv.addr2(), "-f", f.knownHosts).CombinedOutput()
						if err != nil || !strings.Contains(string(out), "found") {
							t.Errorf("ssh-keygen -F does not find the recorded key: %v\n%s", err, out)
						}
					}
					// The recorded key is trusted without AcceptNewHostKeys.
					f.opts.AcceptNewHostKeys = false
					f.connect(t)
				}
				return
			}
			e := f.connectErr(t)
			if e.Kind != tc.kind {
				t.Fatalf("kind %v, want %v: %v", e.Kind, tc.kind, e)
			}
			if e.Host != "h1" || e.Addr != f.srv.addr || e.Hint == "" {
				t.Errorf("error lacks host, addr or hint: %+v", e)
			}
			if tc.check != nil {
				tc.check(t, e)
			}
			after, _ := os.ReadFile(f.knownHosts)
			if !bytes.Equal(before, after) {
				t.Errorf("known_hosts changed on a refused connection:\n%s", after)
			}
		})
	}
}

func TestAcceptNewCreatesFileAndSerialises(t *testing.T) {
	f := newFixture(t)
	dir := filepath.Join(f.dir, "new", ".ssh")
	f.opts.KnownHostsFile = filepath.Join(dir, "known_hosts")
	f.opts.AcceptNewHostKeys = true
	conn := NewSSH(f.opts)
	var wg sync.WaitGroup
	for range 10 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			c, err := conn.Connect(context.Background(), f.target)
			if err != nil {
				t.Error(err)
				return
			}
			c.Close()
		}()
	}
	wg.Wait()
	data, err := os.ReadFile(f.opts.KnownHostsFile)
	if err != nil {
		t.Fatal(err)
	}
	if n := strings.Count(string(data), "\n"); n != 1 {
		t.Errorf("10 concurrent connects recorded %d lines:\n%s", n, data)
	}
	st, _ := os.Stat(f.opts.KnownHostsFile)
	dst, _ := os.Stat(dir)
	if st.Mode().Perm() != 0o600 || dst.Mode().Perm() != 0o700 {
		t.Errorf("modes: file %v dir %v", st.Mode(), dst.Mode())
	}
}

func TestDefaultKnownHostsFiles(t *testing.T) {
	f := newFixture(t)
	// No --known-hosts: ~/.ssh/known_hosts (HOME is the fixture's dir).
	f.opts.KnownHostsFile = ""
	if e := f.connectErr(t); e.Kind != ErrHostKeyUnknown {
		t.Fatalf("kind %v: %v", e.Kind, e)
	}
	os.MkdirAll(filepath.Join(f.dir, ".ssh"), 0o700)
	if err := os.Rename(f.knownHosts, filepath.Join(f.dir, ".ssh", "known_hosts")); err != nil {
		t.Fatal(err)
	}
	f.connect(t)
	// Target.KnownHostsFiles replaces the defaults.
	f.target.KnownHostsFiles = []string{filepath.Join(f.dir, "missing")}
	if e := f.connectErr(t); e.Kind != ErrHostKeyUnknown {
		t.Fatalf("kind %v: %v", e.Kind, e)
	}
}

func TestConnectFailures(t *testing.T) {
	t.Run("refused", func(t *testing.T) {
		f := newFixture(t)
		ln, _ := net.Listen("tcp", "127.0.0.1:0")
		f.target.Port = ln.Addr().(*net.TCPAddr).Port
		ln.Close()
		if e := f.connectErr(t); e.Kind != ErrRefused || !strings.Contains(e.Hint, "port") {
			t.Fatalf("got %v: %v", e.Kind, e)
		}
	})
	t.Run("silent server times out", func(t *testing.T) {
		f := newFixture(t)
		ln, _ := net.Listen("tcp", "127.0.0.1:0")
		defer ln.Close()
		go func() {
			for {
				c, err := ln.Accept()
				if err != nil {
					return
				}
				defer c.Close() // accept and never speak
			}
		}()
		f.target.Port = ln.Addr().(*net.TCPAddr).Port
		f.target.ConnectTimeout = 300 * time.Millisecond
		start := time.Now()
		e := f.connectErr(t)
		if e.Kind != ErrTimeout {
			t.Fatalf("got %v: %v", e.Kind, e)
		}
		if d := time.Since(start); d > 2*time.Second {
			t.Fatalf("timed out after %s, want about 300ms", d)
		}
	})
	t.Run("cancelled during handshake", func(t *testing.T) {
		f := newFixture(t)
		ln, _ := net.Listen("tcp", "127.0.0.1:0")
		defer ln.Close()
		go func() {
			for {
				c, err := ln.Accept()
				if err != nil {
					return
				}
				defer c.Close()
			}
		}()
		f.target.Port = ln.Addr().(*net.TCPAddr).Port
		ctx, cancel := context.WithTimeout(context.Background(), 200*time.Millisecond)
		defer cancel()
		_, err := NewSSH(f.opts).Connect(ctx, f.target)
		if !errors.Is(err, context.DeadlineExceeded) {
			t.Fatalf("err = %v, want the context's error", err)
		}
	})
	t.Run("dns", func(t *testing.T) {
		f := newFixture(t)
		f.target.Address = "no-such-host.invalid"
		if e := f.connectErr(t); e.Kind != ErrDNS || !strings.Contains(e.Hint, "no-such-host.invalid") {
			t.Fatalf("got %v: %v", e.Kind, e)
		}
	})
	t.Run("auth", func(t *testing.T) {
		f := newFixture(t)
		other, _ := clientKey(t, f.dir, "id_other", "")
		f.target.Identities = []string{other}
		e := f.connectErr(t)
		if e.Kind != ErrAuth || !strings.Contains(e.Hint, other) || !strings.Contains(e.Error(), `"tester"`) {
			t.Fatalf("got %v: %v", e.Kind, e)
		}
	})
	t.Run("missing identity file", func(t *testing.T) {
		f := newFixture(t)
		missing := filepath.Join(f.dir, "nope")
		f.target.Identities = []string{missing}
		if e := f.connectErr(t); e.Kind != ErrAuth || !strings.Contains(e.Error(), missing) {
			t.Fatalf("got %v: %v", e.Kind, e)
		}
	})
}

func TestDefaultIdentityAndPassphrase(t *testing.T) {
	f := newFixture(t)
	sshDir := filepath.Join(f.dir, ".ssh")
	os.MkdirAll(sshDir, 0o700)
	key, pub := clientKey(t, sshDir, "id_ed25519", "sesame")
	f.srv.mu.Lock()
	f.srv.authorized = map[string]bool{string(pub.Marshal()): true}
	f.srv.mu.Unlock()
	f.target.Identities = nil // OpenSSH's defaults: ~/.ssh/id_ed25519 (encrypted), id_ecdsa and id_rsa absent

	// Without a prompt the encrypted key is skipped, and the message says so.
	if e := f.connectErr(t); e.Kind != ErrAuth || !strings.Contains(e.Hint, key+" (encrypted") {
		t.Fatalf("got %v: %v", e.Kind, e)
	}

	var asked atomic.Int32
	f.opts.Passphrase = func(file string) ([]byte, error) {
		asked.Add(1)
		time.Sleep(50 * time.Millisecond) // a slow human: others must wait, not ask again
		return []byte("sesame"), nil
	}
	connector := NewSSH(f.opts)
	var wg sync.WaitGroup
	for range 8 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			c, err := connector.Connect(context.Background(), f.target)
			if err != nil {
				t.Error(err)
				return
			}
			c.Close()
		}()
	}
	wg.Wait()
	if n := asked.Load(); n != 1 {
		t.Errorf("passphrase asked %d times, want once", n)
	}
}

func TestKeepAliveLoss(t *testing.T) {
	f := newFixture(t)
	f.opts.KeepAlive = 50 * time.Millisecond
	c := f.connect(t)
	f.srv.ignoreKeepalive.Store(true)
	start := time.Now()
	_, err := c.Run(context.Background(), Cmd{Command: "sleep 20"})
	if KindOf(err) != ErrConnLost {
		t.Fatalf("err = %v (kind %v), want ErrConnLost", err, KindOf(err))
	}
	if d := time.Since(start); d > 5*time.Second {
		t.Fatalf("took %s to notice", d)
	}
	if _, err := c.Run(context.Background(), Cmd{Command: "true"}); KindOf(err) != ErrConnLost {
		t.Fatalf("Run on a lost connection: %v", err)
	}
}

func TestNoGoroutineLeak(t *testing.T) {
	f := newFixture(t)
	jump := newJump(t, f)
	base := runtime.NumGoroutine()
	for _, target := range []Target{f.target, jump} {
		f.opts.KeepAlive = 20 * time.Millisecond
		c, err := NewSSH(f.opts).Connect(context.Background(), target)
		if err != nil {
			t.Fatal(err)
		}
		c.Run(context.Background(), Cmd{Command: "echo x", Stdin: strings.NewReader("in")})
		c.Put(context.Background(), filepath.Join(f.dir, "leak"), strings.NewReader("x"), PutOptions{})
		c.Get(context.Background(), filepath.Join(f.dir, "leak"), io.Discard)
		time.Sleep(60 * time.Millisecond) // some keepalives
		c.Close()
	}
	deadline := time.Now().Add(5 * time.Second)
	for runtime.NumGoroutine() > base {
		if time.Now().After(deadline) {
			buf := make([]byte, 1<<20)
			t.Fatalf("%d goroutines, %d before:\n%s", runtime.NumGoroutine(), base, buf[:runtime.Stack(buf, true)])
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// newJump starts a jump host that knows f's client key, records its host
// key in f's known_hosts, and returns f's target behind it.
func newJump(t *testing.T, f *fixture) Target {
	pub, err := os.ReadFile(f.keyFile)
	if err != nil {
		t.Fatal(err)
	}
	signer, err := ssh.ParsePrivateKey(pub)
	if err != nil {
		t.Fatal(err)
	}
	j := startServer(t, nil, signer.PublicKey())
	kh, _ := os.OpenFile(f.knownHosts, os.O_APPEND|os.O_WRONLY, 0)
	fmt.Fprintln(kh, xknownhosts.Line([]string{j.addr}, j.hostKeys[0].PublicKey()))
	kh.Close()
	target := f.target
	target.Jumps = []Target{{Name: "bastion", Address: "127.0.0.1", Port: j.port, User: "jumper", Identities: []string{f.keyFile}}}
	return target
}

func TestProxyJump(t *testing.T) {
	f := newFixture(t)
	target := newJump(t, f)
	c, err := NewSSH(f.opts).Connect(context.Background(), target)
	if err != nil {
		t.Fatal(err)
	}
	res, err := c.Run(context.Background(), Cmd{Command: "echo through"})
	if err != nil || string(res.Stdout) != "through\n" {
		t.Fatalf("%q %v", res.Stdout, err)
	}
	testPutGet(t, c, t.TempDir())
	if st := c.Stats(); st.Dials != 2 || st.BytesSent == 0 || st.BytesRecv == 0 {
		t.Errorf("stats %+v, want 2 dials and bytes counted", st)
	}
	c.Close()

	// The target's key is checked against the target's own address.
	os.WriteFile(f.knownHosts, nil, 0o600)
	newJumpKnown := newJump(t, f) // re-adds only a jump host key (a new jump host)
	e := func() *Error {
		_, err := NewSSH(f.opts).Connect(context.Background(), newJumpKnown)
		var te *Error
		if !errors.As(err, &te) {
			t.Fatalf("err %v", err)
		}
		return te
	}()
	if e.Kind != ErrHostKeyUnknown || e.Host != "h1" {
		t.Fatalf("got %v for %s: %v", e.Kind, e.Host, e)
	}

	// A hop that refuses is reported as the hop, for the target.
	bad := target
	bad.Jumps = []Target{{Name: "bastion", Address: "127.0.0.1", Port: 1, Identities: []string{f.keyFile}}}
	_, err = NewSSH(f.opts).Connect(context.Background(), bad)
	var te *Error
	if !errors.As(err, &te) || te.Host != "bastion" || te.Kind != ErrRefused || !strings.Contains(te.Error(), "jump host for h1") {
		t.Fatalf("err %v", err)
	}
	// The target behind the hop refuses: OpenSSH-style text from the hop.
	bad = newJumpKnown
	bad.Port = 1
	_, err = NewSSH(f.opts).Connect(context.Background(), bad)
	if KindOf(err) != ErrRefused {
		t.Fatalf("err %v", err)
	}
}

func TestPutGet(t *testing.T) {
	f := newFixture(t)
	testPutGet(t, f.connect(t), t.TempDir())
}

func TestLocalPutGet(t *testing.T) {
	c, _ := Local{}.Connect(context.Background(), Target{Local: true})
	testPutGet(t, c, t.TempDir())
}

// failingReader fails after n bytes.
type failingReader struct{ n int }

func (r *failingReader) Read(b []byte) (int, error) {
	if r.n <= 0 {
		return 0, errors.New("source broke")
	}
	n := min(len(b), r.n)
	for i := range n {
		b[i] = 'x'
	}
	r.n -= n
	return n, nil
}

// onlyReader hides a reader's size, so the transport cannot know it.
type onlyReader struct{ io.Reader }

// testPutGet checks the Put/Get contract on any Conn, in dir (which must be
// local: the test servers run on this machine).
func testPutGet(t *testing.T, c Conn, dir string) {
	ctx := context.Background()
	big := make([]byte, 3<<20+17)
	rand.Read(big)
	names := []string{"plain.txt", "with space", `quote'and"double`, "new\nline", "$(touch pwned)", "`id`;x", "-dash", "ünï"}
	for i, name := range names {
		contents := [][]byte{nil, []byte("hello\n")}
		if i%4 == 0 { // big files for a few names keep the test fast
			contents = append(contents, big)
		}
		for _, content := range contents {
			p := filepath.Join(dir, name)
			var r io.Reader = bytes.NewReader(content)
			if len(content) == len(big) {
				r = onlyReader{r} // the unknown-size path
			}
			if err := c.Put(ctx, p, r, PutOptions{Mode: 0o640}); err != nil {
				t.Fatalf("Put %q: %v", name, err)
			}
			var got bytes.Buffer
			if err := c.Get(ctx, p, &got); err != nil {
				t.Fatalf("Get %q: %v", name, err)
			}
			if !bytes.Equal(got.Bytes(), content) {
				t.Fatalf("%q: got %d bytes, want %d", name, got.Len(), len(content))
			}
			if st, _ := os.Stat(p); st.Mode().Perm() != 0o640 {
				t.Fatalf("%q: mode %v", name, st.Mode())
			}
		}
	}
	if _, err := os.Stat(filepath.Join(dir, "pwned")); err == nil {
		t.Fatal("a file name was run by a shell")
	}

	// Mode 0 keeps an existing file's mode and gives a new one 0644.
	p := filepath.Join(dir, "plain.txt")
	os.Chmod(p, 0o600)
	if err := c.Put(ctx, p, strings.NewReader("x"), PutOptions{}); err != nil {
		t.Fatal(err)
	}
	if st, _ := os.Stat(p); st.Mode().Perm() != 0o600 {
		t.Errorf("existing mode not kept: %v", st.Mode())
	}
	if err := c.Put(ctx, filepath.Join(dir, "fresh"), strings.NewReader("x"), PutOptions{}); err != nil {
		t.Fatal(err)
	}
	if st, _ := os.Stat(filepath.Join(dir, "fresh")); st.Mode().Perm() != 0o644 {
		t.Errorf("new file mode %v", st.Mode())
	}

	// A failing source or rename leaves the old content and no temp file.
	if err := c.Put(ctx, p, &failingReader{n: 200 << 10}, PutOptions{}); err == nil {
		t.Fatal("Put from a failing reader succeeded")
	}
	os.Mkdir(filepath.Join(dir, "adir"), 0o755)
	os.WriteFile(filepath.Join(dir, "adir", "f"), nil, 0o644)
	if err := c.Put(ctx, filepath.Join(dir, "adir"), strings.NewReader("x"), PutOptions{}); err == nil {
		t.Fatal("Put over a non-empty directory succeeded")
	}
	if err := c.Put(ctx, filepath.Join(dir, "missing-dir", "f"), strings.NewReader("x"), PutOptions{}); err == nil {
		t.Fatal("Put into a missing directory succeeded")
	}
	if data, _ := os.ReadFile(p); string(data) != "x" {
		t.Errorf("old content lost: %q", data)
	}
	entries, _ := os.ReadDir(dir)
	for _, e := range entries {
		if strings.Contains(e.Name(), ".drover-") {
			t.Errorf("temp file left: %q", e.Name())
		}
	}

	if err := c.Get(ctx, filepath.Join(dir, "missing"), io.Discard); !errors.Is(err, fs.ErrNotExist) {
		t.Errorf("Get of a missing file: %v, want fs.ErrNotExist", err)
	}
}

// cancelOn cancels a context when anything is written to it.
type cancelOn struct{ cancel context.CancelFunc }

func (c cancelOn) Write(b []byte) (int, error) {
	c.cancel()
	return len(b), nil
}

func TestAgentAuth(t *testing.T) {
	f := newFixture(t)
	pemBytes, _ := os.ReadFile(f.keyFile)
	raw, err := ssh.ParseRawPrivateKey(pemBytes)
	if err != nil {
		t.Fatal(err)
	}
	startAgent(t, f.dir, raw)
	f.target.Identities = nil // and no ~/.ssh/id_*: only the agent has the key
	f.opts.NoAgent = false
	connector := NewSSH(f.opts)
	defer connector.Close()
	c, err := connector.Connect(context.Background(), f.target)
	if err != nil {
		t.Fatal(err)
	}
	c.Close()

	f.opts.NoAgent = true
	if e := f.connectErr(t); e.Kind != ErrAuth || !strings.Contains(e.Error(), "no key to offer") {
		t.Fatalf("with NoAgent: %v", e)
	}
}

// TestConnectOffersTheTargetsIdentityFirst: with an agent holding other
// keys, the identity file the target names is offered first, so no refused
// attempt costs a round trip (nor counts towards sshd's MaxAuthTries).
func TestConnectOffersTheTargetsIdentityFirst(t *testing.T) {
	f := newFixture(t)
	var others []any
	for range 3 {
		_, priv := newEd25519(t)
		others = append(others, priv)
	}
	startAgent(t, f.dir, others...)
	f.opts.NoAgent = false
	connector := NewSSH(f.opts)
	defer connector.Close()
	c, err := connector.Connect(context.Background(), f.target)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	if n := f.srv.refused.Load(); n != 0 {
		t.Errorf("the server refused %d keys before the target's identity file", n)
	}
	// TCP, version, key exchange, new keys and service request, "none",
	// the key query, the signed request: about 8; more means wasted turns.
	if n := c.Stats().ConnectTrips; n < 4 || n > 9 {
		t.Errorf("ConnectTrips = %d, want 4-9", n)
	}
}

// TestHostKeyAlgorithmsCheapestFirst: of the keys known_hosts holds for a
// host, the handshake asks for ed25519 before ECDSA before RSA, whatever
// the file's order.
func TestHostKeyAlgorithmsCheapestFirst(t *testing.T) {
	ed, _ := newEd25519(t)
	ec, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	ecs, err := ssh.NewSignerFromKey(ec)
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	kh := filepath.Join(dir, "known_hosts")
	addr := "[192.0.2.1]:2222"
	lines := xknownhosts.Line([]string{addr}, testRSA(t).PublicKey()) + "\n" +
		xknownhosts.Line([]string{addr}, ecs.PublicKey()) + "\n" +
		xknownhosts.Line([]string{addr}, ed.PublicKey()) + "\n"
	if err := os.WriteFile(kh, []byte(lines), 0o600); err != nil {
		t.Fatal(err)
	}
	v, err := newHostKeys(Options{KnownHostsFile: kh}).verifier(Target{Name: "h"}, "192.0.2.1:2222")
	if err != nil {
		t.Fatal(err)
	}
	algos := v.algorithms()
	if len(algos) < 3 || algos[0] != ssh.KeyAlgoED25519 || algos[1] != ssh.KeyAlgoECDSA256 {
		t.Errorf("algorithms = %v, want ed25519, then ecdsa, then the RSA ones", algos)
	}
}

// startAgent serves an ssh-agent holding keys on a socket in dir, for the
// test, and points SSH_AUTH_SOCK at it.
func startAgent(t *testing.T, dir string, keys ...any) {
	t.Helper()
	ring := agent.NewKeyring()
	for _, k := range keys {
		if err := ring.Add(agent.AddedKey{PrivateKey: k}); err != nil {
			t.Fatal(err)
		}
	}
	sock := filepath.Join(dir, "agent.sock")
	ln, err := net.Listen("unix", sock)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { ln.Close() })
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			go func() {
				defer c.Close()
				agent.ServeAgent(ring, c)
			}()
		}
	}()
	t.Setenv("SSH_AUTH_SOCK", sock)
}

// TestTargetHostKeyPolicy: a target's own AcceptNewHostKeys (the
// inventory's StrictHostKeyChecking=accept-new) records an unknown key in
// the target's known_hosts file, which then verifies it; recording into
// /dev/null is refused.
func TestTargetHostKeyPolicy(t *testing.T) {
	f := newFixture(t)
	f.opts.KnownHostsFile = ""
	kh := filepath.Join(f.dir, "inv_known_hosts")
	f.target.KnownHostsFiles = []string{kh}
	if e := f.connectErr(t); e.Kind != ErrHostKeyUnknown || !strings.Contains(e.Hint, ">> "+kh) {
		t.Fatalf("unknown host without accept-new: %v; want the hint to name %s", e, kh)
	}
	f.target.AcceptNewHostKeys = true
	f.connect(t)
	if data, _ := os.ReadFile(kh); strings.Count(string(data), "\n") != 1 {
		t.Fatalf("known_hosts after accept-new: %q", data)
	}
	f.target.AcceptNewHostKeys = false
	f.connect(t) // the recorded key is verified

	f.target.KnownHostsFiles = []string{os.DevNull}
	f.target.AcceptNewHostKeys = true
	if e := f.connectErr(t); e.Kind != ErrHostKeyUnknown || !strings.Contains(e.Error(), os.DevNull) {
		t.Fatalf("accept-new into /dev/null: %v; want a refusal", e)
	}
}

// TestIdentitiesOnly: with IdentitiesOnly the agent's keys are offered only
// when they are the identity files' (their .pub beside them).
func TestIdentitiesOnly(t *testing.T) {
	f := newFixture(t)
	pemBytes, _ := os.ReadFile(f.keyFile)
	raw, err := ssh.ParseRawPrivateKey(pemBytes)
	if err != nil {
		t.Fatal(err)
	}
	startAgent(t, f.dir, raw) // the agent holds the key the server accepts
	f.opts.NoAgent = false
	other, _ := clientKey(t, f.dir, "id_other", "")
	f.target.Identities = []string{other}
	f.connect(t) // without IdentitiesOnly the agent's key gets in

	f.target.IdentitiesOnly = true
	if e := f.connectErr(t); e.Kind != ErrAuth {
		t.Fatalf("IdentitiesOnly with another identity file: %v, want an auth failure", e)
	}
	signer, _ := ssh.NewSignerFromKey(raw)
	if err := os.WriteFile(other+".pub", ssh.MarshalAuthorizedKey(signer.PublicKey()), 0o644); err != nil {
		t.Fatal(err)
	}
	f.connect(t) // the agent's key is the identity file's
}
