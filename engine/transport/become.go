package transport

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"os"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/drover-cm/drover/engine/shell"
)

// becomeStartTimeout bounds how long a command waits for sudo to accept the
// password before drover gives up loudly (a variable for tests).
var becomeStartTimeout = 30 * time.Second

// becomeConn runs every command, upload and download of an inner Conn
// through sudo as another user.
//
// How the password reaches sudo without being put anywhere else:
//
//	sudo -S -p '' -u USER -- /bin/sh -c WRAPPER drover-become BOOTSTRAP
//
// (BOOTSTRAP is viaStdin's: the command follows the preamble on stdin, so
// sudo's argv and log never hold it) and the command's stdin starts with
// the preamble
//
//	PASSWORD\n MARK\n MARK\n MARK\n
//
// where MARK is random per connection. sudo -S reads its password one byte at
// a time up to the newline, so when it asks it takes exactly the first line.
// When it does not ask (NOPASSWD, cached credentials) the password line is
// still there; WRAPPER, now running as USER, reads and discards lines until it
// has seen three MARKs, so the command never sees the password either way.
// With a wrong password sudo retries on the next lines, which are MARKs, not
// the command's input. WRAPPER then writes a random READY token to stderr and
// runs `/bin/sh -c BOOTSTRAP`. Everything after the preamble (the command,
// then its stdin) is only sent after READY is seen, and READY also tells a
// sudo refusal (no READY) from a command failure.
// Without a password sudo runs with -n (never prompts) and the same READY
// token.
type becomeConn struct {
	Conn
	cfg   BecomeConfig
	user  string // the become user
	login string
	host  string
	addr  string
	mark  string
	ready string
}

// withBecome wraps c for cfg, or returns c when no become is needed (not
// enabled, or the login user already is the become user).
func withBecome(c Conn, t Target, login string) (Conn, error) {
	cfg := t.Become
	if !cfg.Enabled {
		return c, nil
	}
	u := cfg.User
	if u == "" {
		u = "root"
	}
	if u == login {
		return c, nil
	}
	if bytes.ContainsAny(cfg.Password, "\n\r") {
		c.Close()
		return nil, &Error{Kind: ErrBecome, Host: t.Name, Addr: becomeAddr(t), Err: errors.New("the become password contains a line break"),
			Hint: "sudo reads the password as one line; use a password without line breaks"}
	}
	return &becomeConn{Conn: c, cfg: cfg, user: u, login: login, host: t.Name, addr: becomeAddr(t),
		mark: randomToken(), ready: "drover-become-ready-" + randomToken()}, nil
}

func becomeAddr(t Target) string {
	if t.Local {
		return "local"
	}
	return joinAddr(t.Address, t.Port)
}

func randomToken() string {
	var b [12]byte
	if _, err := rand.Read(b[:]); err != nil {
		panic(err) // crypto/rand never fails on supported systems
	}
	return hex.EncodeToString(b[:])
}

// wrap returns the sudo command line that runs command as the become user.
func (b *becomeConn) wrap(command string) string {
	// The command runs as a child rather than by exec, so that this shell (the
	// process sudo relays signals to) can pass a cancellation's SIGTERM on to
	// the command's whole process group: the login user may not signal the
	// become user's processes itself. Stdin goes through fd 3 because an
	// asynchronous command reads /dev/null, and dash and busybox apply that
	// before an explicit <&0.
	announce := "printf '%s\\n' " + b.ready + " >&2; trap 'trap - TERM; kill -TERM 0' TERM; exec 3<&0; /bin/sh -c \"$1\" <&3 3<&- & wait $!"
	if len(b.cfg.Password) == 0 {
		return shell.Join("sudo", "-n", "-u", b.user, "--", "/bin/sh", "-c", announce, "drover-become", command)
	}
	skip := `c=0; while [ "$c" -lt 3 ]; do IFS= read -r l || exit 125; [ "$l" = ` + b.mark + ` ] && c=$((c+1)); done; unset c l; `
	return shell.Join("sudo", "-S", "-p", "", "-u", b.user, "--", "/bin/sh", "-c", skip+announce, "drover-become", command)
}

// Run runs cmd as the become user.
func (b *becomeConn) Run(ctx context.Context, cmd Cmd) (Result, error) {
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()

	var capture bytes.Buffer
	errOut := cmd.Stderr
	if errOut == nil {
		errOut = &capture
	}
	filter := &readyFilter{token: []byte(b.ready + "\n"), out: errOut, ready: make(chan struct{})}
	done := make(chan struct{})
	defer close(done)

	// The command goes on stdin too (viaStdin): sudo's argv, which local
	// users can read and sudo logs, holds only the fixed bootstrap.
	enc, err := viaStdin(cmd)
	if err != nil {
		return Result{}, fmt.Errorf("%s: %w", b.host, err)
	}
	in := &becomeStdin{user: enc.Stdin, ready: filter.ready, done: done}
	if len(b.cfg.Password) > 0 {
		pre := make([]byte, 0, len(b.cfg.Password)+3*(len(b.mark)+1)+1)
		pre = append(pre, b.cfg.Password...)
		pre = append(pre, '\n')
		for range 3 {
			pre = append(pre, b.mark...)
			pre = append(pre, '\n')
		}
		in.pre = pre
		// Nothing after the preamble before sudo has started the wrapper: a
		// sudo allowed more than three tries would read it as passwords.
		in.gated = true
	}
	var slow bool
	var slowMu sync.Mutex
	if in.gated {
		t := time.AfterFunc(becomeStartTimeout, func() {
			select {
			case <-filter.ready:
			default:
				slowMu.Lock()
				slow = true
				slowMu.Unlock()
				cancel()
			}
		})
		defer t.Stop()
	}

	run := b.Conn.Run
	if r, ok := b.Conn.(argvRunner); ok {
		run = r.runArgv // the sudo line holds nothing secret
	}
	res, err := run(ctx, Cmd{Command: b.wrap(enc.Command), Stdin: in, Stdout: cmd.Stdout, Stderr: filter})
	pre, seen := filter.finish()
	if cmd.Stderr == nil {
		res.Stderr = capture.Bytes()
	}
	slowMu.Lock()
	timedOut := slow
	slowMu.Unlock()
	if timedOut {
		return res, b.refused(fmt.Sprintf("sudo did not start the command within %s", becomeStartTimeout), pre)
	}
	if err != nil {
		return res, b.redact(err)
	}
	if !seen {
		return res, b.refused("sudo did not run the command", pre)
	}
	return res, nil
}

// refused builds the ErrBecome for a sudo that did not run the command, from
// what sudo wrote to stderr (never containing the password; redacted anyway).
func (b *becomeConn) refused(what string, sudoSaid []byte) error {
	said := strings.TrimSpace(string(b.redactBytes(sudoSaid)))
	hint := "see sudo's message; check sudo on the host"
	switch {
	case strings.Contains(said, "password is required"):
		hint = fmt.Sprintf("sudo needs a password to run commands as %s: re-run with --ask-become-pass, or allow %s NOPASSWD in sudoers", b.user, b.login)
	case strings.Contains(said, "incorrect password"), strings.Contains(said, "try again"), strings.Contains(said, "no password was provided"):
		hint = "sudo refused the become password: re-run with --ask-become-pass and the right password"
	case strings.Contains(said, "sudoers"), strings.Contains(said, "not allowed"), strings.Contains(said, "may not run"):
		hint = fmt.Sprintf("%s may not run commands as %s with sudo on this host: fix sudoers there (visudo)", b.login, b.user)
	case strings.Contains(said, "must have a tty"):
		hint = fmt.Sprintf("sudoers has requiretty: add 'Defaults:%s !requiretty' on the host (drover runs without a terminal)", b.login)
	case strings.Contains(said, "not found"):
		hint = fmt.Sprintf("sudo is not installed on the host: install it, or log in as %s", b.user)
	case strings.Contains(said, "unknown user"):
		hint = fmt.Sprintf("there is no user %s on the host: fix become_user", b.user)
	}
	if said != "" {
		what += ": " + said
	}
	return &Error{Kind: ErrBecome, Host: b.host, Addr: b.addr, Err: errors.New(what), Hint: hint}
}

func (b *becomeConn) redactBytes(s []byte) []byte {
	if len(b.cfg.Password) == 0 {
		return s
	}
	return bytes.ReplaceAll(s, b.cfg.Password, []byte("[redacted]"))
}

// redact keeps the password out of an inner error, should any ever echo it.
func (b *becomeConn) redact(err error) error {
	if len(b.cfg.Password) == 0 || !strings.Contains(err.Error(), string(b.cfg.Password)) {
		return err
	}
	return &redactedError{msg: string(b.redactBytes([]byte(err.Error()))), err: err}
}

type redactedError struct {
	msg string
	err error
}

func (e *redactedError) Error() string { return e.msg }
func (e *redactedError) Unwrap() error { return e.err }

// Put writes r to p as the become user: one sudo command reads the content
// from stdin into a temporary file beside p, checks that every byte arrived,
// gives it the mode (and, for an existing p, its owner and mode), then
// renames it over p. A broken transfer never replaces p. The temporary file
// is created private (umask 077, noclobber: O_EXCL, so no planted link is
// followed) and then reached only through that one descriptor, fd 3, never
// by name: the owner of p's directory can rename it and put a link in its
// place at any moment, and root would then write or chmod what it points to.
func (b *becomeConn) Put(ctx context.Context, p string, r io.Reader, opts PutOptions) error {
	size, r, cleanup, err := sized(r)
	if err != nil {
		return fmt.Errorf("writing %s: %w", p, err)
	}
	defer cleanup()
	tmp, err := putTemp(p)
	if err != nil {
		return err
	}
	// chown (which clears setuid bits) before chmod; both on the open file.
	setMode := "chmod " + modeString(opts.Mode) + " /proc/self/fd/3"
	if opts.Mode == 0 {
		// One lstat: p's owner and mode only if it is a regular file, not
		// what a link there points to.
		setMode = `s=$(stat -c '%u:%g %a %F' -- "$p" 2>/dev/null) || s=
case $s in
*' regular file' | *' regular empty file') chown "${s%% *}" /proc/self/fd/3; s=${s#* }; chmod "${s%% *}" /proc/self/fd/3 ;;
*) chmod 644 /proc/self/fd/3 ;;
esac`
	}
	script := SyncFuncs + strings.Join([]string{
		"set -e",
		"umask 077",
		"p=" + shell.Quote(p) + "; t=" + shell.Quote(tmp),
		`trap 'rm -f "$t"' EXIT`,
		// mv would move the file into a directory instead of replacing it.
		`if [ -d "$p" ]; then printf 'drover: %s is a directory\n' "$p" >&2; exit 1; fi`,
		`set -C`,
		`exec 3>"$t"`,
		`set +C`,
		`cat >&3`,
		`n=$(stat -L -c %s /proc/self/fd/3)`,
		`if [ "$n" -ne ` + strconv.FormatInt(size, 10) + ` ]; then echo "drover: transfer cut short ($n of ` + strconv.FormatInt(size, 10) + ` bytes)" >&2; exit 1; fi`,
		setMode,
		`exec 3>&-`,
		`drover_sync "$t"`,
		`[ "$t" = "$p" ] || mv -f "$t" "$p"`,
		`trap - EXIT`,
		`drover_syncdir "$p"`,
	}, "\n")
	res, err := b.Run(ctx, Cmd{Command: script, Stdin: r})
	if err != nil {
		return err
	}
	if res.ExitCode != 0 {
		return fmt.Errorf("writing %s as %s: exit %d: %s", p, b.user, res.ExitCode, strings.TrimSpace(string(res.Stderr)))
	}
	return nil
}

// modeString is the octal chmod argument for m, with setuid, setgid and
// sticky bits.
func modeString(m os.FileMode) string {
	v := uint64(m.Perm())
	if m&os.ModeSetuid != 0 {
		v |= 0o4000
	}
	if m&os.ModeSetgid != 0 {
		v |= 0o2000
	}
	if m&os.ModeSticky != 0 {
		v |= 0o1000
	}
	return strconv.FormatUint(v, 8)
}

// Get streams the file at p, read as the become user, to w.
func (b *becomeConn) Get(ctx context.Context, p string, w io.Writer) error {
	var stderr bytes.Buffer
	res, err := b.Run(ctx, Cmd{Command: shell.Join("cat", "--", p), Stdout: w, Stderr: &stderr})
	if err != nil {
		return err
	}
	if res.ExitCode != 0 {
		msg := strings.TrimSpace(stderr.String())
		if strings.Contains(msg, "No such file") {
			return fmt.Errorf("reading %s as %s: %s: %w", p, b.user, msg, os.ErrNotExist)
		}
		return fmt.Errorf("reading %s as %s: exit %d: %s", p, b.user, res.ExitCode, msg)
	}
	return nil
}

// sized returns the length of r's content and a reader of it, spooling r to
// a local temporary file when its length is not known in advance.
func sized(r io.Reader) (int64, io.Reader, func(), error) {
	switch v := r.(type) {
	case interface{ Len() int }:
		return int64(v.Len()), r, func() {}, nil
	case interface{ Size() int64 }:
		if s, ok := r.(io.Seeker); ok {
			if pos, err := s.Seek(0, io.SeekCurrent); err == nil {
				return v.Size() - pos, r, func() {}, nil
			}
		}
	case *os.File:
		if st, err := v.Stat(); err == nil && st.Mode().IsRegular() {
			if pos, err := v.Seek(0, io.SeekCurrent); err == nil {
				return st.Size() - pos, r, func() {}, nil
			}
		}
	}
	f, err := os.CreateTemp("", "drover-put-*")
	if err != nil {
		return 0, nil, nil, err
	}
	cleanup := func() { f.Close(); os.Remove(f.Name()) }
	n, err := io.Copy(f, r)
	if err == nil {
		_, err = f.Seek(0, io.SeekStart)
	}
	if err != nil {
		cleanup()
		return 0, nil, nil, err
	}
	return n, f, cleanup, nil
}

// readyFilter passes stderr through, removing the READY token and noting
// that it was seen. Until then it holds what arrives (sudo's messages).
type readyFilter struct {
	token []byte
	out   io.Writer
	ready chan struct{}

	mu   sync.Mutex
	buf  []byte
	pre  []byte
	seen bool
}

func (f *readyFilter) Write(p []byte) (int, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.seen {
		return f.out.Write(p)
	}
	f.buf = append(f.buf, p...)
	i := bytes.Index(f.buf, f.token)
	if i < 0 {
		return len(p), nil
	}
	f.seen = true
	close(f.ready)
	f.pre = append([]byte(nil), f.buf[:i]...)
	rest := append(f.buf[:i:i], f.buf[i+len(f.token):]...)
	f.buf = nil
	if len(rest) > 0 {
		if _, err := f.out.Write(rest); err != nil {
			return 0, err
		}
	}
	return len(p), nil
}

// finish flushes what was held and returns what came before READY and
// whether READY was seen.
func (f *readyFilter) finish() ([]byte, bool) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if !f.seen {
		f.pre = f.buf
		if len(f.buf) > 0 {
			_, _ = f.out.Write(f.buf)
		}
		f.buf = nil
	}
	return f.pre, f.seen
}

// becomeStdin is the stdin of a become command: the password preamble, then
// (once sudo has started the command) the command's own input.
type becomeStdin struct {
	pre    []byte
	user   io.Reader
	gated  bool
	ready  <-chan struct{}
	done   <-chan struct{}
	opened bool
}

func (s *becomeStdin) Read(p []byte) (int, error) {
	if len(s.pre) > 0 {
		n := copy(p, s.pre)
		s.pre = s.pre[n:]
		return n, nil
	}
	if s.user == nil {
		return 0, io.EOF
	}
	if s.gated && !s.opened {
		select {
		case <-s.ready:
			s.opened = true
		case <-s.done:
			return 0, io.EOF
		}
	}
	return s.user.Read(p)
}
