package transport

import (
	"crypto/ed25519"
	"crypto/rand"
	"crypto/rsa"
	"encoding/pem"
	"errors"
	"io"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/pkg/sftp"
	"golang.org/x/crypto/ssh"
)

// testServer is an in-process SSH server on 127.0.0.1: exec requests run
// /bin/sh -c, the sftp subsystem is pkg/sftp's server, and direct-tcpip
// channels are forwarded (so it also serves as a ProxyJump host).
type testServer struct {
	t        *testing.T
	ln       net.Listener
	addr     string
	port     int
	hostKeys []ssh.Signer
	// ignoreKeepalive makes the server leave keepalive requests unanswered,
	// like a host that vanished from the network.
	ignoreKeepalive atomic.Bool

	// sftpWrap, when set, stands between the sftp subsystem's channel
	// and the SFTP server.
	sftpWrap func(io.ReadWriteCloser) io.ReadWriteCloser

	// refused counts the client keys offered and refused.
	refused atomic.Int64

	mu         sync.Mutex
	authorized map[string]bool
	conns      []net.Conn
	wg         sync.WaitGroup
}

var (
	rsaOnce sync.Once
	rsaKey  ssh.Signer
)

func newEd25519(t testing.TB) (ssh.Signer, ed25519.PrivateKey) {
	t.Helper()
	_, priv, err := ed25519.GenerateKey(rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	s, err := ssh.NewSignerFromKey(priv)
	if err != nil {
		t.Fatal(err)
	}
	return s, priv
}

func testRSA(t testing.TB) ssh.Signer {
	rsaOnce.Do(func() {
		k, err := rsa.GenerateKey(rand.Reader, 2048)
		if err != nil {
			panic(err)
		}
		rsaKey, err = ssh.NewSignerFromKey(k)
		if err != nil {
			panic(err)
		}
	})
	return rsaKey
}

// startServer starts a server with the given host keys (one fresh ed25519
// key when none) that accepts the given client public keys.
func startServer(t *testing.T, hostKeys []ssh.Signer, clients ...ssh.PublicKey) *testServer {
	t.Helper()
	if len(hostKeys) == 0 {
		k, _ := newEd25519(t)
		hostKeys = []ssh.Signer{k}
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	s := &testServer{t: t, ln: ln, addr: ln.Addr().String(), port: ln.Addr().(*net.TCPAddr).Port,
		hostKeys: hostKeys, authorized: map[string]bool{}}
	for _, c := range clients {
		s.authorized[string(c.Marshal())] = true
	}
	cfg := &ssh.ServerConfig{
		PublicKeyCallback: func(_ ssh.ConnMetadata, key ssh.PublicKey) (*ssh.Permissions, error) {
			s.mu.Lock()
			defer s.mu.Unlock()
			if s.authorized[string(key.Marshal())] {
				return nil, nil
			}
			s.refused.Add(1)
			return nil, errors.New("key not authorized")
		},
	}
	for _, k := range hostKeys {
		cfg.AddHostKey(k)
	}
	s.wg.Add(1)
	go func() {
		defer s.wg.Done()
		for {
			nc, err := ln.Accept()
			if err != nil {
				return
			}
			s.mu.Lock()
			s.conns = append(s.conns, nc)
			s.mu.Unlock()
			s.wg.Add(1)
			go func() {
				defer s.wg.Done()
				s.serve(nc, cfg)
			}()
		}
	}()
	t.Cleanup(s.stop)
	return s
}

func (s *testServer) stop() {
	s.ln.Close()
	s.mu.Lock()
	for _, c := range s.conns {
		c.Close()
	}
	s.mu.Unlock()
	s.wg.Wait()
}

func (s *testServer) serve(nc net.Conn, cfg *ssh.ServerConfig) {
	defer nc.Close()
	sconn, chans, reqs, err := ssh.NewServerConn(nc, cfg)
	if err != nil {
		return
	}
	defer sconn.Close()
	s.wg.Add(1)
	go func() {
		defer s.wg.Done()
		for r := range reqs {
			if r.Type == "keepalive@openssh.com" && s.ignoreKeepalive.Load() {
				continue
			}
			if r.WantReply {
				r.Reply(r.Type == "keepalive@openssh.com", nil)
			}
		}
	}()
	for nch := range chans {
		switch nch.ChannelType() {
		case "session":
			ch, creqs, err := nch.Accept()
			if err != nil {
				continue
			}
			s.wg.Add(1)
			go func() {
				defer s.wg.Done()
				s.session(ch, creqs)
			}()
		case "direct-tcpip":
			s.forward(nch)
		default:
			nch.Reject(ssh.UnknownChannelType, "unsupported")
		}
	}
}

func (s *testServer) forward(nch ssh.NewChannel) {
	var p struct {
		Host     string
		Port     uint32
		OrigHost string
		OrigPort uint32
	}
	if err := ssh.Unmarshal(nch.ExtraData(), &p); err != nil {
		nch.Reject(ssh.ConnectionFailed, "bad request")
		return
	}
	out, err := net.Dial("tcp", net.JoinHostPort(p.Host, strconv.Itoa(int(p.Port))))
	if err != nil {
		// OpenSSH reports the strerror text.
		nch.Reject(ssh.ConnectionFailed, "Connection refused")
		return
	}
	ch, reqs, err := nch.Accept()
	if err != nil {
		out.Close()
		return
	}
	go ssh.DiscardRequests(reqs)
	s.wg.Add(2)
	go func() {
		defer s.wg.Done()
		io.Copy(out, ch)
		out.(*net.TCPConn).CloseWrite()
	}()
	go func() {
		defer s.wg.Done()
		io.Copy(ch, out)
		ch.Close()
		out.Close()
	}()
}

func (s *testServer) session(ch ssh.Channel, reqs <-chan *ssh.Request) {
	defer ch.Close()
	var proc *exec.Cmd
	var procMu sync.Mutex
	exited := make(chan struct{})
	for {
		var r *ssh.Request
		var ok bool
		select {
		case r, ok = <-reqs:
			if !ok {
				// The client closed the channel: like sshd, do not wait for
				// the command (kill it, so the test ends promptly).
				if proc != nil {
					pid := proc.Process.Pid
					kill := time.AfterFunc(time.Second, func() { syscall.Kill(-pid, syscall.SIGKILL) })
					<-exited
					kill.Stop()
				}
				return
			}
		case <-exited:
			return
		}
		switch r.Type {
		case "exec":
			var p struct{ Command string }
			if err := ssh.Unmarshal(r.Payload, &p); err != nil || proc != nil {
				r.Reply(false, nil)
				continue
			}
			c := exec.Command("/bin/sh", "-c", p.Command)
			c.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
			c.Stdout, c.Stderr = ch, ch.Stderr()
			stdin, _ := c.StdinPipe()
			if err := c.Start(); err != nil {
				r.Reply(false, nil)
				continue
			}
			procMu.Lock()
			proc = c
			procMu.Unlock()
			r.Reply(true, nil)
			go func() {
				io.Copy(stdin, ch)
				stdin.Close()
			}()
			go func() {
				err := c.Wait()
				var ee *exec.ExitError
				if errors.As(err, &ee) {
					if ws, ok := ee.Sys().(syscall.WaitStatus); ok && ws.Signaled() {
						ch.SendRequest("exit-signal", false, ssh.Marshal(struct {
							Signal     string
							CoreDumped bool
							Error      string
							Lang       string
						}{signalName(ws.Signal()), false, "", ""}))
						close(exited)
						return
					}
				}
				code := 0
				if ee != nil {
					code = ee.ExitCode()
				}
				ch.SendRequest("exit-status", false, ssh.Marshal(struct{ Status uint32 }{uint32(code)}))
				close(exited)
			}()
		case "subsystem":
			var p struct{ Name string }
			if err := ssh.Unmarshal(r.Payload, &p); err != nil || p.Name != "sftp" {
				r.Reply(false, nil)
				continue
			}
			r.Reply(true, nil)
			var rw io.ReadWriteCloser = ch
			if s.sftpWrap != nil {
				rw = s.sftpWrap(ch)
			}
			srv, err := sftp.NewServer(rw)
			if err != nil {
				return
			}
			srv.Serve()
			srv.Close()
			return
		case "signal":
			var p struct{ Signal string }
			ssh.Unmarshal(r.Payload, &p)
			procMu.Lock()
			if proc != nil && p.Signal == "TERM" {
				syscall.Kill(-proc.Process.Pid, syscall.SIGTERM)
			}
			procMu.Unlock()
		default:
			if r.WantReply {
				r.Reply(false, nil)
			}
		}
	}
}

// clientKey writes a fresh ed25519 private key in OpenSSH format to dir and
// returns its path and public key. A non-empty passphrase encrypts it.
func clientKey(t *testing.T, dir, name, passphrase string) (string, ssh.PublicKey) {
	t.Helper()
	signer, priv := newEd25519(t)
	var block *pem.Block
	var err error
	if passphrase == "" {
		block, err = ssh.MarshalPrivateKey(priv, "test")
	} else {
		block, err = ssh.MarshalPrivateKeyWithPassphrase(priv, "test", []byte(passphrase))
	}
	if err != nil {
		t.Fatal(err)
	}
	p := filepath.Join(dir, name)
	if err := os.WriteFile(p, pem.EncodeToMemory(block), 0o600); err != nil {
		t.Fatal(err)
	}
	return p, signer.PublicKey()
}

// addr2 is the server's address as OpenSSH writes it in known_hosts.
func (s *testServer) addr2() string { return "[127.0.0.1]:" + strconv.Itoa(s.port) }
