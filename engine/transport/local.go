package transport

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"os/exec"
	"os/user"
	"path/filepath"
	"sync/atomic"
	"syscall"
	"time"
)

// localKillDelay is how long a cancelled local command has between SIGTERM
// and SIGKILL.
const localKillDelay = 5 * time.Second

// localPipeDelay is how long Run waits for output pipes held open by
// background processes after the shell exited or was cancelled.
const localPipeDelay = 2 * time.Second

// Local runs commands on this machine with /bin/sh -c, with the same
// semantics as the SSH transport. It implements Connector.
type Local struct{}

// Connect returns a Conn to this machine. t.Become applies as over SSH.
func (Local) Connect(ctx context.Context, t Target) (Conn, error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	login := os.Getenv("USER")
	if u, err := user.Current(); err == nil {
		login = u.Username
	}
	return withBecome(&localConn{name: t.Name}, t, login)
}

type localConn struct {
	name                            string
	roundTrips, bytesSent, bytesRcv atomic.Int64
}

func (c *localConn) Stats() Stats {
	return Stats{RoundTrips: c.roundTrips.Load(), BytesSent: c.bytesSent.Load(), BytesRecv: c.bytesRcv.Load()}
}

func (c *localConn) Close() error { return nil }

// Run runs cmd.Command with sh, the command on stdin (see viaStdin).
func (c *localConn) Run(ctx context.Context, cmd Cmd) (Result, error) {
	cmd, err := viaStdin(cmd)
	if err != nil {
		return Result{}, err
	}
	return c.runArgv(ctx, cmd)
}

// runArgv runs cmd.Command with /bin/sh -c in a process group of its own; on
// cancellation the whole group gets SIGTERM, then SIGKILL.
func (c *localConn) runArgv(ctx context.Context, cmd Cmd) (Result, error) {
	c.roundTrips.Add(1)
	if err := ctx.Err(); err != nil {
		return Result{}, fmt.Errorf("command not started: %w", err)
	}
	p := exec.CommandContext(ctx, "/bin/sh", "-c", cmd.Command)
	p.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	// On cancellation the whole process group gets SIGTERM, and SIGKILL
	// if it is still there localKillDelay later.
	p.Cancel = func() error {
		pgid := p.Process.Pid
		time.AfterFunc(localKillDelay, func() { _ = syscall.Kill(-pgid, syscall.SIGKILL) })
		return syscall.Kill(-pgid, syscall.SIGTERM)
	}
	// A background process that keeps stdout open must not hold Run
	// forever once the shell has exited or the run is cancelled.
	p.WaitDelay = localPipeDelay
	var stdout, stderr bytes.Buffer
	p.Stdout, p.Stderr = &stdout, &stderr
	if cmd.Stdout != nil {
		p.Stdout = cmd.Stdout
	}
	if cmd.Stderr != nil {
		p.Stderr = cmd.Stderr
	}
	stdin, err := p.StdinPipe()
	if err != nil {
		return Result{}, err
	}
	if err := p.Start(); err != nil {
		return Result{}, fmt.Errorf("starting /bin/sh: %w", err)
	}
	// As over SSH, stdin is copied without being waited for.
	go func() {
		if cmd.Stdin != nil {
			_, _ = io.Copy(stdin, cmd.Stdin)
		}
		_ = stdin.Close()
	}()

	err = p.Wait()
	res := Result{Stdout: stdout.Bytes(), Stderr: stderr.Bytes()}
	if ctx.Err() != nil {
		res.ExitCode = -1
		return res, fmt.Errorf("command cancelled: %w", ctx.Err())
	}
	var exit *exec.ExitError
	switch {
	case err == nil, errors.Is(err, exec.ErrWaitDelay): // exited 0; a background process kept the output open
	case errors.As(err, &exit):
		ws, _ := exit.Sys().(syscall.WaitStatus)
		if ws.Signaled() {
			res.ExitCode = 128 + int(ws.Signal())
			res.Signal = signalName(ws.Signal())
		} else {
			res.ExitCode = exit.ExitCode()
		}
	default:
		res.ExitCode = -1
		return res, fmt.Errorf("running /bin/sh: %w", err)
	}
	return res, nil
}

// signalName gives the SSH name of a signal ("TERM"), as sshd reports it.
func signalName(s syscall.Signal) string {
	names := map[syscall.Signal]string{
		syscall.SIGABRT: "ABRT", syscall.SIGALRM: "ALRM", syscall.SIGFPE: "FPE", syscall.SIGHUP: "HUP",
		syscall.SIGILL: "ILL", syscall.SIGINT: "INT", syscall.SIGKILL: "KILL", syscall.SIGPIPE: "PIPE",
		syscall.SIGQUIT: "QUIT", syscall.SIGSEGV: "SEGV", syscall.SIGTERM: "TERM", syscall.SIGUSR1: "USR1",
		syscall.SIGUSR2: "USR2",
	}
	if n, ok := names[s]; ok {
		return n
	}
	return s.String()
}

// Put writes r into a temporary file beside p, syncs it, and renames it over
// p. On failure the temporary file is removed.
func (c *localConn) Put(ctx context.Context, p string, r io.Reader, opts PutOptions) (err error) {
	c.roundTrips.Add(1)
	tmp, err := putTemp(filepath.ToSlash(p))
	if err != nil {
		return err
	}
	mode := opts.Mode
	if mode == 0 {
		mode = 0o644
		if st, err := os.Stat(p); err == nil && st.Mode().IsRegular() {
			mode = st.Mode() & (fs.ModePerm | fs.ModeSetuid | fs.ModeSetgid | fs.ModeSticky)
		}
	}
	f, err := os.OpenFile(tmp, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o600)
	if err != nil {
		return fmt.Errorf("writing %s: %w", p, err)
	}
	defer func() {
		if err != nil {
			f.Close()
			os.Remove(tmp)
		}
	}()
	if err := f.Chmod(mode); err != nil {
		return fmt.Errorf("writing %s: %w", p, err)
	}
	n, err := io.Copy(f, ctxReader{ctx, r})
	c.bytesSent.Add(n)
	if err != nil {
		return fmt.Errorf("writing %s: %w", p, err)
	}
	if err := f.Sync(); err != nil {
		return fmt.Errorf("writing %s: %w", p, err)
	}
	if err := f.Close(); err != nil {
		return fmt.Errorf("writing %s: %w", p, err)
	}
	if tmp != filepath.ToSlash(p) {
		if err := os.Rename(tmp, p); err != nil {
			return fmt.Errorf("writing %s: %w", p, err)
		}
	}
	// Best effort, as over SFTP: the content is synced and in place.
	if d, err := os.Open(filepath.Dir(p)); err == nil {
		_ = d.Sync()
		d.Close()
	}
	return nil
}

// Get copies the file at p to w.
func (c *localConn) Get(ctx context.Context, p string, w io.Writer) error {
	c.roundTrips.Add(1)
	f, err := os.Open(p)
	if err != nil {
		return fmt.Errorf("reading %s: %w", p, err)
	}
	defer f.Close()
	n, err := io.Copy(ctxWriter{ctx, w}, f)
	c.bytesRcv.Add(n)
	if err != nil {
		return fmt.Errorf("reading %s: %w", p, err)
	}
	return nil
}
