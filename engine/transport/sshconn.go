package transport

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"net"
	"os"
	"path"
	"strconv"
	"sync"
	"sync/atomic"
	"time"

	"github.com/pkg/sftp"
	"golang.org/x/crypto/ssh"
)

// sshConn is one SSH connection to a host, with the ProxyJump hops it goes
// through. Each Run is a session (channel) of its own; file transfers share
// one SFTP client.
type sshConn struct {
	target      Target
	addr        string
	client      *ssh.Client
	hops        []*sharedHop // outermost first, shared with other targets
	pool        *hopPool
	connectTime time.Duration

	sftpMu sync.Mutex
	sftp   *sftp.Client

	roundTrips, bytesSent, bytesRecv, dials, connectTrips atomic.Int64

	done      chan struct{} // closed by Close
	closeOnce sync.Once
	// sockClosed is closed when the target's socket is (by x/crypto when
	// the SSH connection ends, or by shutdown).
	sockClosed chan struct{}
	sockOnce   sync.Once
	lost       atomic.Bool // the connection broke (keepalive, network)
	wg         sync.WaitGroup
}

// countingConn counts the bytes of the SSH stream to the target, and its
// turns: reads of data that follow a write (see Stats.ConnectTrips).
type countingConn struct {
	net.Conn
	c     *sshConn
	wrote atomic.Bool // written since the last read
	turns atomic.Int64
}

func (cc *countingConn) Read(b []byte) (int, error) {
	n, err := cc.Conn.Read(b)
	cc.c.bytesRecv.Add(int64(n))
	if n > 0 && cc.wrote.Swap(false) {
		cc.turns.Add(1)
	}
	return n, err
}

func (cc *countingConn) Close() error {
	err := cc.Conn.Close()
	cc.c.sockOnce.Do(func() { close(cc.c.sockClosed) })
	return err
}

func (cc *countingConn) Write(b []byte) (int, error) {
	n, err := cc.Conn.Write(b)
	cc.c.bytesSent.Add(int64(n))
	if n > 0 {
		cc.wrote.Store(true)
	}
	return n, err
}

// start runs the one goroutine that lives as long as the connection: it
// sends the keepalives and tears everything down when the SSH connection
// ends (one goroutine, not two, per host: hundreds of hosts are connected at
// once).
func (c *sshConn) start(keepAlive time.Duration) {
	c.wg.Add(1)
	go func() {
		defer c.wg.Done()
		c.watch(keepAlive)
	}()
}

// watch sends keepalive@openssh.com every interval (none when interval is
// 0); after keepAliveMissed intervals without an answer it closes the
// connection, so that commands in flight fail with ErrConnLost instead of
// hanging. When the connection's socket closes (the host or the network
// ended it, or Close), it waits for the SSH layer to finish and shuts down.
func (c *sshConn) watch(interval time.Duration) {
	var tick <-chan time.Time
	if interval > 0 {
		ticker := time.NewTicker(interval)
		defer ticker.Stop()
		tick = ticker.C
	}
	var pending chan error
	missed := 0
	lose := func() {
		c.lost.Store(true)
		c.shutdown()
	}
	for {
		select {
		case <-c.sockClosed:
			_ = c.client.Wait()
			select {
			case <-c.done:
			default:
				c.lost.Store(true)
			}
			c.shutdown()
			return
		case err := <-pending:
			pending, missed = nil, 0
			if err != nil {
				lose()
			}
		case <-tick:
			if pending != nil {
				missed++
				if missed >= keepAliveMissed {
					lose()
				}
				continue
			}
			pending = make(chan error, 1)
			// The reply goroutine ends when the answer comes or when the
			// connection closes, whichever is first.
			go func(ch chan error) {
				_, _, err := c.client.SendRequest("keepalive@openssh.com", true, nil)
				ch <- err
			}(pending)
		}
	}
}

// shutdown closes the connection and its hops; safe to call many times.
func (c *sshConn) shutdown() {
	c.closeOnce.Do(func() {
		close(c.done)
		c.sftpMu.Lock()
		if c.sftp != nil {
			c.sftp.Close()
		}
		c.sftpMu.Unlock()
		c.client.Close()
		c.releaseHops()
	})
}

// releaseHops gives back the connection's hops, innermost first.
func (c *sshConn) releaseHops() {
	for i := len(c.hops) - 1; i >= 0; i-- {
		c.pool.release(c.hops[i])
	}
	c.hops = nil
}

// Close closes the connection and waits for its goroutines to end.
func (c *sshConn) Close() error {
	c.shutdown()
	c.wg.Wait()
	return nil
}

func (c *sshConn) Stats() Stats {
	return Stats{
		RoundTrips:   c.roundTrips.Load(),
		BytesSent:    c.bytesSent.Load(),
		BytesRecv:    c.bytesRecv.Load(),
		ConnectTime:  c.connectTime,
		Dials:        c.dials.Load(),
		ConnectTrips: c.connectTrips.Load(),
	}
}

func (c *sshConn) name() string {
	if c.target.Name != "" {
		return c.target.Name
	}
	return c.target.Address
}

// broken reports err as a lost connection when the connection is gone, and
// wraps it otherwise.
func (c *sshConn) broken(what string, err error) error {
	select {
	case <-c.done:
		hint := "the connection to the host broke; check the network and the host, then re-run"
		if !c.lost.Load() {
			hint = "the connection was closed by drover while this was in flight"
		}
		return &Error{Kind: ErrConnLost, Host: c.name(), Addr: c.addr, Err: fmt.Errorf("%s: %w", what, err), Hint: hint}
	default:
	}
	var missing *ssh.ExitMissingError
	if errors.As(err, &missing) || errors.Is(err, io.EOF) {
		return &Error{Kind: ErrConnLost, Host: c.name(), Addr: c.addr, Err: fmt.Errorf("%s: %w", what, err),
			Hint: "the host ended the command without an exit status (sshd restarted, or the session was killed); re-run"}
	}
	return &Error{Kind: ErrOther, Host: c.name(), Addr: c.addr, Err: fmt.Errorf("%s: %w", what, err)}
}

// Run runs cmd.Command with sh in a session of its own, the command on
// stdin (see viaStdin). No PTY is requested.
func (c *sshConn) Run(ctx context.Context, cmd Cmd) (Result, error) {
	cmd, err := viaStdin(cmd)
	if err != nil {
		return Result{}, fmt.Errorf("%s: %w", c.name(), err)
	}
	return c.runArgv(ctx, cmd)
}

// runArgv runs cmd.Command as it is: the host's sshd runs it with the login
// user's shell (`$SHELL -c`), as OpenSSH does.
func (c *sshConn) runArgv(ctx context.Context, cmd Cmd) (Result, error) {
	c.roundTrips.Add(1)
	if err := ctx.Err(); err != nil {
		return Result{}, fmt.Errorf("%s: command not started: %w", c.name(), err)
	}
	sess, err := c.client.NewSession()
	if err != nil {
		return Result{}, c.broken("opening a session", err)
	}
	defer sess.Close()

	var stdout, stderr bytes.Buffer
	var errOut io.Writer = &stderr
	sess.Stdout = &stdout
	if cmd.Stdout != nil {
		sess.Stdout = cmd.Stdout
	}
	if cmd.Stderr != nil {
		errOut = cmd.Stderr
	}
	prefix, tag := pidPrefix()
	pids := newPIDFilter(errOut, tag)
	sess.Stderr = pids
	stdin, err := sess.StdinPipe()
	if err != nil {
		return Result{}, c.broken("opening stdin", err)
	}
	if err := sess.Start(prefix + cmd.Command); err != nil {
		return Result{}, c.broken("starting the command", err)
	}
	// Stdin is copied without being waited for: a command that exits without
	// reading its input must not block Run on a reader that never ends.
	go func() {
		if cmd.Stdin != nil {
			// In 4 KiB writes, so that SSH packets stay small: x/crypto
			// keeps a buffer as large as the largest packet sent for the
			// life of the connection, and a batch script can be large.
			_, _ = io.CopyBuffer(stdin, struct{ io.Reader }{cmd.Stdin}, make([]byte, 4096))
		}
		_ = stdin.Close()
	}()

	waited := make(chan error, 1)
	go func() { waited <- sess.Wait() }()
	select {
	case err = <-waited:
		pids.flush()
	case <-ctx.Done():
		c.cut(sess, pids, waited)
		pids.flush()
		return Result{Stdout: stdout.Bytes(), Stderr: stderr.Bytes(), ExitCode: -1},
			fmt.Errorf("%s: command cancelled: %w", c.name(), ctx.Err())
	}
	res := Result{Stdout: stdout.Bytes(), Stderr: stderr.Bytes()}
	var exit *ssh.ExitError
	switch {
	case err == nil:
	case errors.As(err, &exit):
		res.ExitCode = exit.ExitStatus()
		res.Signal = exit.Signal()
	default:
		res.ExitCode = -1
		return res, c.broken("waiting for the command", err)
	}
	return res, nil
}

// cutGrace is how long a cancelled command has to exit after SIGTERM before
// its process group gets SIGKILL.
var cutGrace = 3 * time.Second

// cut stops a running command: SIGTERM to its process group, SIGKILL after
// cutGrace, then the channel is closed. It returns once the session ended or
// the grace periods ran out, so a cancelled Run never waits for the remote
// command to finish by itself.
func (c *sshConn) cut(sess *ssh.Session, pids *pidFilter, waited <-chan error) {
	_ = sess.Signal(ssh.SIGTERM) // honoured by some servers; harmless elsewhere
	select {
	case <-pids.ready:
	case <-time.After(time.Second):
	}
	signal := func(sig string) {
		pid := pids.PID()
		if pid <= 1 {
			return
		}
		if s, err := c.client.NewSession(); err == nil {
			_ = s.Run("kill -" + sig + " -- -" + strconv.Itoa(pid) + " 2>/dev/null; kill -" + sig + " " + strconv.Itoa(pid) + " 2>/dev/null; true")
			_ = s.Close()
		}
	}
	signal("TERM")
	select {
	case <-waited:
		return
	case <-time.After(cutGrace):
	}
	signal("KILL")
	_ = sess.Close()
	select {
	case <-waited:
	case <-time.After(cutGrace):
	}
}

// sftpClient returns the connection's SFTP client, starting it on first use.
func (c *sshConn) sftpClient() (*sftp.Client, error) {
	c.sftpMu.Lock()
	defer c.sftpMu.Unlock()
	if c.sftp != nil {
		return c.sftp, nil
	}
	select {
	case <-c.done:
		return nil, c.broken("starting SFTP", net.ErrClosed)
	default:
	}
	sc, err := newSFTPClient(c.client, sftp.UseConcurrentWrites(true))
	if err != nil {
		return nil, c.broken("starting SFTP (is the sftp subsystem enabled in sshd_config?)", err)
	}
	c.sftp = sc
	return sc, nil
}

// Put writes r to a temporary file beside p with the final mode, then
// renames it over p with posix-rename@openssh.com (p already a temporary
// name, IsTempName: to p itself, exclusively, no rename). On any failure the
// temporary file is removed.
func (c *sshConn) Put(ctx context.Context, p string, r io.Reader, opts PutOptions) (err error) {
	c.roundTrips.Add(1)
	sc, err := c.sftpClient()
	if err != nil {
		return err
	}
	fail := func(what string, err error) error {
		if c.isDone() {
			return c.broken(what, err)
		}
		return fmt.Errorf("%s: %s %s: %w", c.name(), what, p, err)
	}
	tmp, err := putTemp(p)
	if err != nil {
		return fail("writing", err)
	}
	mode := opts.Mode
	if mode == 0 {
		mode = 0o644
		if st, err := sc.Stat(p); err == nil && st.Mode().IsRegular() {
			mode = st.Mode() & (fs.ModePerm | fs.ModeSetuid | fs.ModeSetgid | fs.ModeSticky)
		}
	}
	f, err := sc.OpenFile(tmp, os.O_WRONLY|os.O_CREATE|os.O_EXCL)
	if err != nil {
		return fail("creating a temporary file for", err)
	}
	defer func() {
		if err != nil {
			f.Close()
			_ = sc.Remove(tmp)
		}
	}()
	// Set the mode before any content is written, so a secret is never
	// readable with the default permissions.
	if err := f.Chmod(mode); err != nil {
		return fail("setting the mode of", err)
	}
	if _, err := f.ReadFromWithConcurrency(ctxReader{ctx, r}, 0); err != nil {
		return fail("writing", err)
	}
	// The content reaches the disk before the new name does: after a
	// crash, path must not name a file whose data was never written.
	syncs := hasFsync(sc)
	if syncs {
		if err := f.Sync(); err != nil {
			return fail("syncing", err)
		}
	}
	if err := f.Close(); err != nil {
		return fail("writing", err)
	}
	if err := ctx.Err(); err != nil {
		return fail("writing", err)
	}
	if tmp != p {
		if err := sc.PosixRename(tmp, p); err != nil {
			return fail("renaming the temporary file onto", err)
		}
	}
	if syncs {
		syncDir(sc, path.Dir(p))
	}
	return nil
}

// hasFsync reports whether the server offers fsync@openssh.com (OpenSSH
// does since 6.5); without it files are written unsynced, as before.
func hasFsync(sc *sftp.Client) bool {
	v, ok := sc.HasExtension("fsync@openssh.com")
	return ok && v == "1"
}

// syncDir makes a rename in dir durable: it opens the directory as a file
// (OpenSSH's sftp-server open(2)s it read-only) and fsyncs that handle. Best
// effort: the file is in place and its content synced whatever happens
// here, and a directory the login user may write but not read cannot be
// opened.
func syncDir(sc *sftp.Client, dir string) {
	d, err := sc.Open(dir)
	if err != nil {
		return
	}
	_ = d.Sync()
	_ = d.Close()
}

// Get streams the file at p to w.
func (c *sshConn) Get(ctx context.Context, p string, w io.Writer) error {
	c.roundTrips.Add(1)
	sc, err := c.sftpClient()
	if err != nil {
		return err
	}
	f, err := sc.Open(p)
	if err != nil {
		if c.isDone() {
			return c.broken("reading "+p, err)
		}
		return fmt.Errorf("%s: reading %s: %w", c.name(), p, err)
	}
	defer f.Close()
	if _, err := f.WriteTo(ctxWriter{ctx, w}); err != nil {
		if c.isDone() {
			return c.broken("reading "+p, err)
		}
		return fmt.Errorf("%s: reading %s: %w", c.name(), p, err)
	}
	return nil
}

func (c *sshConn) isDone() bool {
	select {
	case <-c.done:
		return true
	default:
		return false
	}
}

// ctxReader stops a transfer when its context ends.
type ctxReader struct {
	ctx context.Context
	r   io.Reader
}

func (r ctxReader) Read(b []byte) (int, error) {
	if err := r.ctx.Err(); err != nil {
		return 0, err
	}
	return r.r.Read(b)
}

type ctxWriter struct {
	ctx context.Context
	w   io.Writer
}

func (w ctxWriter) Write(b []byte) (int, error) {
	if err := w.ctx.Err(); err != nil {
		return 0, err
	}
	return w.w.Write(b)
}
