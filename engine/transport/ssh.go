package transport

import (
	"context"
	"errors"
	"fmt"
	"net"
	"os"
	"os/user"
	"strings"
	"syscall"
	"time"

	"golang.org/x/crypto/ssh"
)

// DefaultConnectTimeout bounds TCP connect plus SSH handshake per hop when
// neither the target nor the options set a timeout.
const DefaultConnectTimeout = 10 * time.Second

// DefaultKeepAlive is the interval of keepalive@openssh.com requests.
const DefaultKeepAlive = 15 * time.Second

// keepAliveMissed is how many unanswered keepalives close the connection
// (OpenSSH's ServerAliveCountMax).
const keepAliveMissed = 3

// SSHConnector opens SSH connections. Use one per run: it caches decrypted
// identity files, the ssh-agent connection and parsed known_hosts files for
// every host it connects to. It is safe for concurrent use.
type SSHConnector struct {
	opts  Options
	keys  *keyring
	hosts *hostKeys
	kex   []string
	pool  hopPool
}

// NewSSH returns a connector using opts for every connection.
func NewSSH(opts Options) *SSHConnector {
	// curve25519 first: the cheapest key exchange every current OpenSSH
	// offers, which matters when hundreds of hosts connect at once.
	kex := []string{ssh.KeyExchangeCurve25519}
	for _, k := range ssh.SupportedAlgorithms().KeyExchanges {
		if k != ssh.KeyExchangeCurve25519 {
			kex = append(kex, k)
		}
	}
	return &SSHConnector{opts: opts, keys: newKeyring(opts), hosts: newHostKeys(opts), kex: kex}
}

// Close releases what the connector holds (the ssh-agent connection). Open
// connections are not affected.
func (c *SSHConnector) Close() error {
	c.keys.close()
	return nil
}

// Connect dials t (through its ProxyJump hops, outermost first), verifies
// every hop's host key, authenticates, and returns a Conn. When t.Become is
// enabled the Conn runs commands and writes files through sudo.
func (c *SSHConnector) Connect(ctx context.Context, t Target) (Conn, error) {
	start := time.Now()
	conn := &sshConn{target: t, addr: joinAddr(t.Address, t.Port), done: make(chan struct{}), sockClosed: make(chan struct{}), pool: &c.pool}
	var via *ssh.Client
	for i, hop := range t.Jumps {
		h, dialed, err := c.pool.acquire(hopKey(t.Jumps[:i+1]), func() (*ssh.Client, error) {
			return c.handshake(ctx, via, hop, conn, false)
		})
		if err != nil {
			conn.releaseHops()
			return nil, viaJump(err, t)
		}
		if dialed {
			conn.dials.Add(1)
		}
		conn.hops = append(conn.hops, h)
		via = h.client
	}
	client, err := c.handshake(ctx, via, t, conn, true)
	if err != nil {
		conn.releaseHops()
		return nil, err
	}
	conn.dials.Add(1)
	conn.client = client
	conn.connectTime = time.Since(start)
	conn.start(c.keepAlive())
	return withBecome(conn, t, loginUser(t))
}

func (c *SSHConnector) keepAlive() time.Duration {
	if c.opts.KeepAlive != 0 {
		return c.opts.KeepAlive
	}
	return DefaultKeepAlive
}

func (c *SSHConnector) timeout(t Target) time.Duration {
	switch {
	case t.ConnectTimeout > 0:
		return t.ConnectTimeout
	case c.opts.ConnectTimeout > 0:
		return c.opts.ConnectTimeout
	}
	return DefaultConnectTimeout
}

// handshake dials one hop (directly, or through via) and runs the SSH
// handshake, all within the hop's connect timeout.
func (c *SSHConnector) handshake(ctx context.Context, via *ssh.Client, hop Target, conn *sshConn, last bool) (*ssh.Client, error) {
	addr := joinAddr(hop.Address, hop.Port)
	name := hop.Name
	if name == "" {
		name = hop.Address
	}
	fail := func(kind ErrorKind, err error, hint string) error {
		return &Error{Kind: kind, Host: name, Addr: addr, Err: err, Hint: hint}
	}
	tagged := func(e *Error) error {
		e.Host, e.Addr = name, addr
		return e
	}

	// Credentials first: a passphrase prompt must not eat the connect
	// timeout (and the key is decrypted once for every host).
	signers, tried, err := c.keys.credentials(hop)
	if err != nil {
		var te *Error
		if errors.As(err, &te) {
			return nil, tagged(te)
		}
		return nil, fail(ErrAuth, err, "")
	}

	timeout := c.timeout(hop)
	hctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	timedOut := func() error {
		if err := ctx.Err(); err != nil {
			return fmt.Errorf("connecting to %s (%s): %w", name, addr, err)
		}
		return fail(ErrTimeout, fmt.Errorf("no SSH answer within %s", timeout),
			"check that the host is up and that sshd listens on that port, or raise the connect timeout")
	}

	var raw net.Conn
	if via == nil {
		var d net.Dialer
		raw, err = d.DialContext(hctx, "tcp", addr)
	} else {
		raw, err = via.DialContext(hctx, "tcp", addr)
	}
	if err != nil {
		kind, hint := classifyDial(err, hop)
		if kind != ErrDNS && hctx.Err() != nil {
			return nil, timedOut()
		}
		return nil, fail(kind, err, hint)
	}

	v, err := c.hosts.verifier(hop, addr)
	if err != nil {
		raw.Close()
		return nil, fail(ErrOther, err, "fix or remove the unreadable known_hosts file")
	}
	cfg := &ssh.ClientConfig{
		User:              loginUser(hop),
		Auth:              []ssh.AuthMethod{ssh.PublicKeys(signers...)},
		HostKeyCallback:   v.callback,
		HostKeyAlgorithms: v.algorithms(),
		ClientVersion:     "SSH-2.0-drover",
		Config:            ssh.Config{KeyExchanges: c.kex},
	}

	var nc net.Conn = raw
	var counted *countingConn
	if last {
		counted = &countingConn{Conn: raw, c: conn}
		nc = counted
	}
	// A deadline covers a server that accepts TCP and never speaks SSH;
	// closing on timeout or cancel also covers channel conns through a jump
	// host, which have no deadlines.
	_ = raw.SetDeadline(time.Now().Add(timeout))
	stop := context.AfterFunc(hctx, func() { raw.Close() })
	sc, chans, reqs, err := ssh.NewClientConn(nc, addr, cfg)
	if !stop() {
		if err == nil {
			sc.Close()
		}
		if v.failed != nil {
			return nil, tagged(v.failed)
		}
		return nil, timedOut()
	}
	_ = raw.SetDeadline(time.Time{})
	if counted != nil {
		conn.connectTrips.Store(1 + counted.turns.Load()) // TCP connect, then the handshake's turns
	}
	if err != nil {
		raw.Close()
		if v.failed != nil {
			return nil, tagged(v.failed)
		}
		return nil, classifyHandshake(err, fail, tried, cfg.User, timeout)
	}
	return ssh.NewClient(sc, chans, reqs), nil
}

// viaJump says which target a failing jump host was dialled for, on a copy:
// the hop's error is shared by every target waiting for that hop.
func viaJump(err error, t Target) error {
	var te *Error
	if !errors.As(err, &te) {
		return fmt.Errorf("jump host for %s: %w", t.Name, err)
	}
	cp := *te
	cp.Err = fmt.Errorf("jump host for %s: %w", t.Name, te.Err)
	return &cp
}

// classifyHandshake turns an SSH handshake failure into an Error with a hint.
func classifyHandshake(err error, fail func(ErrorKind, error, string) error, tried []string, user string, timeout time.Duration) error {
	var ne net.Error
	msg := err.Error()
	switch {
	case strings.Contains(msg, "unable to authenticate"):
		if len(tried) == 0 {
			return fail(ErrAuth, fmt.Errorf("no key to offer for user %q: %w", user, err),
				"there is no ssh-agent key and no identity file (~/.ssh/id_ed25519, id_ecdsa, id_rsa); add a key to ssh-agent or set IdentityFile")
		}
		return fail(ErrAuth, fmt.Errorf("the host refused every credential for user %q: %w", user, err),
			"offered: "+strings.Join(tried, ", ")+"; add one of these public keys to ~"+user+"/.ssh/authorized_keys on the host, or set the right user or IdentityFile")
	case errors.As(err, &ne) && ne.Timeout():
		return fail(ErrTimeout, fmt.Errorf("SSH handshake did not finish within %s: %w", timeout, err),
			"something accepts TCP on that port but does not answer like sshd; check the port")
	case errors.Is(err, syscall.ECONNRESET), strings.Contains(msg, "EOF"), strings.Contains(msg, "connection reset"):
		return fail(ErrOther, fmt.Errorf("the host closed the connection during the SSH handshake: %w", err),
			"check sshd's logs on the host (MaxStartups, AllowUsers, tcp wrappers) and that the port is sshd's")
	case strings.Contains(msg, "no common algorithm"):
		return fail(ErrOther, err, "the host's sshd offers no algorithm drover supports; upgrade or reconfigure its sshd")
	}
	return fail(ErrOther, err, "")
}

// loginUser is the user OpenSSH would log in as: the target's, else the local
// user.
func loginUser(t Target) string {
	if t.User != "" {
		return t.User
	}
	if u, err := user.Current(); err == nil {
		return u.Username
	}
	return os.Getenv("USER")
}
