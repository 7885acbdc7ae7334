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
// One run may reach one machine as several hosts (local hosts, two names
// of one address): they share one lock file. A session started with
// StartShared that finds the lock held by its own run (the holder line,
// which carries the run's id, is its own) does not wait: it reports the
// lock shared, with the lock file's identity (Lock.Key), and the caller
// keeps the holding session open until every host sharing it is done.
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
	// Run tells runs apart (random, one per run): a lock held with the
	// same holder line is this run's (StartShared).
	Run string
}

// String is the holder line: "alice@ctl pid 42 since 2026-12-02T00:10:00Z playbook site.hcl".
func (h Holder) String() string {
	s := fmt.Sprintf("%s@%s pid %d since %s", h.User, h.Controller, h.PID, h.Start.UTC().Format(time.RFC3339))
	if h.Playbook != "" {
		s += " playbook " + h.Playbook
	}
	if h.Run != "" {
		s += " run " + h.Run
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
	markShared = "DROVER-LOCK-SHARED"
	markBusy   = "DROVER-LOCK-BUSY"
	markWait   = "DROVER-LOCK-WAIT"
)

// script locks; $1 is the wait in seconds, $2 the holder line, $3
// "share" to accept a lock its own run holds (the holder line is $2), $4
// the directory of the lock (tests; "" is the default). Exit 4: busy (the
// holder follows the busy marker); 3: the lock file cannot be opened. When
// another run holds the lock, the wait marker and the holder's line come
// first, so the operator is told who is waited for. The held and shared
// markers are followed by the lock's identity: its inode and the boot.
const script = `set -u
if [ "$(id -u)" = 0 ]; then d=/run; else d=${HOME:?}; f=.drover.lock; fi
[ -z "${4:-}" ] || d=$4
f=$d/${f:-drover.lock}
boot=$(cat /proc/sys/kernel/random/boot_id 2>/dev/null || echo none)
ours() {
  [ "$3" = share ] && [ "$(head -n 1 "$1" 2>/dev/null)" = "$2" ] || return 1
  k=$(ls -di "$4" 2>/dev/null) && [ -n "$k" ] || return 1
  echo ` + markShared + ` "${k%% *}" "$boot"
  cat >/dev/null
  exit 0
}
if command -v flock >/dev/null 2>&1; then
  exec 9>>"$f" || exit 3
  if ! flock -n 9; then
    ours "$f" "$2" "$3" "$f"
    # A holder writes its line just after it locks: the line read may
    # still be the one before it. Give it a second before saying who is
    # waited for, so that a lock this run took a moment ago is shared, not
    # announced as another run's.
    n=0
    if [ "$1" -gt 0 ]; then
      n=1
      if flock -w 1 9; then n=-1; else ours "$f" "$2" "$3" "$f"; fi
    fi
    if [ "$n" -ge 0 ]; then
      echo ` + markWait + `; head -n 1 "$f" 2>/dev/null; echo
      while :; do
        if [ "$n" -ge "$1" ]; then
          echo ` + markBusy + `; head -n 1 "$f" 2>/dev/null; exit 4
        fi
        n=$((n + 1))
        if flock -w 1 9; then break; fi
        ours "$f" "$2" "$3" "$f"
      done
    fi
  fi
  printf '%s\n' "$2" >"$f"
  k=$(ls -di "$f")
  echo ` + markLocked + ` "${k%% *}" "$boot"
  cat >/dev/null
  exit 0
fi
l=$f.d
end=$(( $(date +%s) + $1 )) said=
while ! mkdir "$l" 2>/dev/null; do
  p='' b=''
  [ -r "$l/pid" ] && read -r p b <"$l/pid"
  if [ -n "$p" ] && { [ "$b" != "$boot" ] || [ ! -d "/proc/$p" ]; }; then
    rm -rf "$l"; continue
  fi
  ours "$l/holder" "$2" "$3" "$l"
  if [ "$(date +%s)" -ge "$end" ]; then
    echo ` + markBusy + `; head -n 1 "$l/holder" 2>/dev/null; exit 4
  fi
  # As above: the holder writes its line just after its mkdir.
  case $said in '') said=0 ;; 0) said=1; echo ` + markWait + `; head -n 1 "$l/holder" 2>/dev/null; echo ;; esac
  sleep 1
done
trap 'rm -rf "$l"' EXIT HUP TERM
printf '%s\n' "$2" >"$l/holder"
echo "$$ $boot" >"$l/pid"
k=$(ls -di "$l")
echo ` + markLocked + ` "${k%% *}" "$boot"
cat >/dev/null
`

// TestDir, when set, is the directory of the lock file instead of /run or
// $HOME: tests keep their locks apart from the machine's (drover itself
// never sets it).
var TestDir string

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
	return start(ctx, conn, h, wait, false)
}

// StartShared is Start that does not wait for a lock its own run holds
// (h.Run set, the same holder line): the Lock is then Shared, the holding
// session elsewhere in the run. Without h.Run it is Start.
func StartShared(ctx context.Context, conn transport.Conn, h Holder, wait time.Duration) *Pending {
	return start(ctx, conn, h, wait, h.Run != "")
}

func start(ctx context.Context, conn transport.Conn, h Holder, wait time.Duration, share bool) *Pending {
	secs := int((wait + time.Second - 1) / time.Second)
	pr, pw := io.Pipe()
	p := &Pending{held: make(chan struct{}), busy: make(chan struct{}), done: make(chan struct{}), stdin: pw, wait: wait}
	p.out.held, p.out.busy = p.held, p.busy
	mode := ""
	if share {
		mode = "share"
	}
	cmd := "sh -c " + shell.Quote(script) + " drover-lock " + shell.Quote(fmt.Sprint(secs)) + " " + shell.Quote(h.String()) + " " + shell.Quote(mode) + " " + shell.Quote(TestDir)
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

// Shared reports whether the lock is held by another session of this run
// (StartShared): this session holds nothing, and the holding one must stay
// open while this one's host runs.
func (l *Lock) Shared() bool { return l.p.out.isShared() }

// Key is the identity of the lock on its machine (the lock file's inode
// and the boot): the hosts of a run whose locks have the same key are one
// machine's.
func (l *Lock) Key() string { return l.p.out.key() }

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
	if !w.seen && w.markLine() != "" {
		w.seen = true
		close(w.held)
	}
	return len(b), nil
}

// markLine is the whole held or shared marker line, "" before it arrived.
// The caller holds w.mu.
func (w *markWriter) markLine() string {
	for _, l := range strings.SplitAfter(w.buf.String(), "\n") {
		if !strings.HasSuffix(l, "\n") {
			break
		}
		if f := strings.Fields(l); len(f) > 0 && (f[0] == markLocked || f[0] == markShared) {
			return strings.TrimSpace(l)
		}
	}
	return ""
}

func (w *markWriter) isShared() bool {
	w.mu.Lock()
	defer w.mu.Unlock()
	return strings.HasPrefix(w.markLine(), markShared+" ")
}

func (w *markWriter) key() string {
	w.mu.Lock()
	defer w.mu.Unlock()
	_, k, _ := strings.Cut(w.markLine(), " ")
	return k
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
