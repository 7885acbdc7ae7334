// Package runlock takes drover's per-host run lock: apply, rollback and
// release runs hold it for a host's whole run so that two controllers
// never apply to one host at once, and the second plans from state no one
// else is changing.
//
// The lock is one extra session on the run's own connection: a script
// that locks a file (flock, or a mkdir lock directory where flock is
// missing), prints a marker and then blocks reading stdin. Releasing
// closes its stdin; a controller that dies drops the connection, the
// script reads EOF and the kernel drops the flock, so no lock outlives its
// connection (a mkdir lock left by a killed shell is detected as stale:
// its holder's process is gone or the host rebooted).
//
// Where: root (the connection becomes root) locks /run/drover.lock — /run
// is writable only by root, so no other user can create or replace the
// path. A connection that is not root locks $HOME/.drover.lock, a path
// under the login user's control: it keeps runs of that user apart, not
// runs of different users.
package runlock

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"strings"
	"sync"
	"time"

	"github.com/drover-cm/drover/engine/shell"
	"github.com/drover-cm/drover/engine/transport"
)

// Holder says who holds a lock; it is written inside the lock.
type Holder struct {
	User       string // login name on the controller
	Controller string // the controller's host name
	PID        int
	Start      time.Time
	Playbook   string // or the command, for rollback
}

// String is the holder line: "alice@ctl pid 42 since 2026-12-02T00:10:00Z playbook site.hcl".
func (h Holder) String() string {
	s := fmt.Sprintf("%s@%s pid %d since %s", h.User, h.Controller, h.PID, h.Start.UTC().Format(time.RFC3339))
	if h.Playbook != "" {
		s += " playbook " + h.Playbook
	}
	// One line: the holder file is read back line by line.
	return strings.Map(func(r rune) rune {
		if r < ' ' || r == 0x7f {
			return ' '
		}
		return r
	}, s)
}

// BusyError is returned when another run held the lock for the whole wait.
type BusyError struct {
	Holder string // the holder's line, as written by it ("" if unreadable)
	Wait   time.Duration
}

func (e *BusyError) Error() string {
	who := e.Holder
	if who == "" {
		who = "another run (holder unknown)"
	}
	return fmt.Sprintf("locked by %s (waited %s; retry when it has finished, or raise --lock-timeout)", who, e.Wait)
}

// IsBusy reports whether err is (or wraps) a BusyError.
func IsBusy(err error) bool {
	var b *BusyError
	return errors.As(err, &b)
}

const (
	markLocked = "DROVER-LOCK-HELD"
	markBusy   = "DROVER-LOCK-BUSY"
	markWait   = "DROVER-LOCK-WAIT"
)

// script locks; $1 is the wait in seconds, $2 the holder line. Exit 4:
// busy (the holder follows the busy marker); 3: the lock file cannot be
// opened. When another run holds the lock, the wait marker and the
// holder's line come first, so the operator is told who is waited for.
const script = `set -u
if [ "$(id -u)" = 0 ]; then d=/run; else d=${HOME:?}; f=.drover.lock; fi
f=$d/${f:-drover.lock}
if command -v flock >/dev/null 2>&1; then
  exec 9>>"$f" || exit 3
  if ! flock -n 9; then
    echo ` + markWait + `; head -n 1 "$f" 2>/dev/null; echo
  fi
  if ! flock -w "$1" 9; then
    echo ` + markBusy + `; head -n 1 "$f" 2>/dev/null; exit 4
  fi
  printf '%s\n' "$2" >"$f"
  echo ` + markLocked + `
  cat >/dev/null
  exit 0
fi
l=$f.d
boot=$(cat /proc/sys/kernel/random/boot_id 2>/dev/null || echo none)
end=$(( $(date +%s) + $1 )) said=
while ! mkdir "$l" 2>/dev/null; do
  p='' b=''
  [ -r "$l/pid" ] && read -r p b <"$l/pid"
  if [ -n "$p" ] && { [ "$b" != "$boot" ] || [ ! -d "/proc/$p" ]; }; then
    rm -rf "$l"; continue
  fi
  if [ "$(date +%s)" -ge "$end" ]; then
    echo ` + markBusy + `; head -n 1 "$l/holder" 2>/dev/null; exit 4
  fi
  [ -n "$said" ] || { said=1; echo ` + markWait + `; head -n 1 "$l/holder" 2>/dev/null; echo; }
  sleep 1
done
trap 'rm -rf "$l"' EXIT HUP TERM
printf '%s\n' "$2" >"$l/holder"
echo "$$ $boot" >"$l/pid"
echo ` + markLocked + `
cat >/dev/null
`

// Pending is a lock being taken.
type Pending struct {
	held  chan struct{} // closed when the marker arrived
	busy  chan struct{} // closed when the wait marker and holder arrived
	done  chan struct{} // closed when the session ended
	stdin *io.PipeWriter
	res   transport.Result
	err   error
	out   markWriter
	wait  time.Duration
}

// Start begins taking the lock over conn, waiting up to wait for another
// holder, without waiting for the answer: the caller does other work (the
// lock costs no round trip of its own) and calls Wait before it reads
// state.
func Start(ctx context.Context, conn transport.Conn, h Holder, wait time.Duration) *Pending {
	secs := int((wait + time.Second - 1) / time.Second)
	pr, pw := io.Pipe()
	p := &Pending{held: make(chan struct{}), busy: make(chan struct{}), done: make(chan struct{}), stdin: pw, wait: wait}
	p.out.held, p.out.busy = p.held, p.busy
	cmd := "sh -c " + shell.Quote(script) + " drover-lock " + shell.Quote(fmt.Sprint(secs)) + " " + shell.Quote(h.String())
	go func() {
		defer close(p.done)
		p.res, p.err = conn.Run(ctx, transport.Cmd{Command: cmd, Stdin: pr, Stdout: &p.out})
	}()
	return p
}

// Wait returns the lock once held, a *BusyError when another run held it
// for the whole wait, or the error that kept it from being taken.
func (p *Pending) Wait() (*Lock, error) { return p.WaitNotify(nil) }

// WaitNotify is Wait that calls onWait (when not nil) with the holder's
// line as soon as the host says another run holds the lock, before
// waiting for it: a wait of minutes is not silent.
func (p *Pending) WaitNotify(onWait func(holder string)) (*Lock, error) {
	busy := p.busy
	for {
		select {
		case <-p.held:
			return &Lock{p: p}, nil
		case <-busy:
			busy = nil
			if onWait != nil {
				onWait(p.out.waitHolder())
			}
			continue
		case <-p.done:
		}
		break
	}
	select {
	case <-p.held: // the marker and the end of the session raced
		return &Lock{p: p}, nil
	default:
	}
	out := p.out.bytes()
	if i := bytes.Index(out, []byte(markBusy+"\n")); i >= 0 && p.err == nil {
		who, _, _ := strings.Cut(string(out[i+len(markBusy)+1:]), "\n")
		return nil, &BusyError{Holder: strings.TrimSpace(who), Wait: p.wait}
	}
	if p.err != nil {
		return nil, fmt.Errorf("taking the run lock: %w", p.err)
	}
	return nil, fmt.Errorf("taking the run lock: the lock script exited with status %d: %s", p.res.ExitCode, strings.TrimSpace(string(p.res.Stderr)))
}

// Lock is a held run lock.
type Lock struct {
	p    *Pending
	once sync.Once
}

// Release ends the lock session and waits (up to a few seconds) for the
// host to drop the lock, so that a run started right after this one finds
// it free.
func (l *Lock) Release() {
	if l == nil {
		return
	}
	l.once.Do(func() {
		l.p.stdin.Close()
		select {
		case <-l.p.done:
		case <-time.After(5 * time.Second):
		}
	})
}

// markWriter collects the lock session's output and closes held when the
// held marker line arrives.
type markWriter struct {
	mu   sync.Mutex
	buf  bytes.Buffer
	held chan struct{}
	busy chan struct{}
	seen bool
	wait bool
}

func (w *markWriter) Write(b []byte) (int, error) {
	w.mu.Lock()
	defer w.mu.Unlock()
	if w.buf.Len() < 4096 {
		w.buf.Write(b)
	}
	if !w.wait && w.holderAfter(markWait) != "" {
		w.wait = true
		close(w.busy)
	}
	if !w.seen && bytes.Contains(w.buf.Bytes(), []byte(markLocked+"\n")) {
		w.seen = true
		close(w.held)
	}
	return len(b), nil
}

// holderAfter returns the holder line (and its newline) following mark's
// line once both arrived, "" before. The caller holds w.mu.
func (w *markWriter) holderAfter(mark string) string {
	b := w.buf.Bytes()
	i := bytes.Index(b, []byte(mark+"\n"))
	if i < 0 {
		return ""
	}
	rest := b[i+len(mark)+1:]
	j := bytes.IndexByte(rest, '\n')
	if j < 0 {
		return ""
	}
	return string(rest[:j+1])
}

// waitHolder is the holder line that came with the wait marker.
func (w *markWriter) waitHolder() string {
	w.mu.Lock()
	defer w.mu.Unlock()
	return strings.TrimSpace(w.holderAfter(markWait))
}

func (w *markWriter) bytes() []byte {
	w.mu.Lock()
	defer w.mu.Unlock()
	return append([]byte(nil), w.buf.Bytes()...)
}
