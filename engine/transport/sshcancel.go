package transport

import (
	"bytes"
	"io"
	"strconv"
	"sync"
)

// Cancelling a remote command. OpenSSH's sshd does not act on the "signal"
// channel request for plain exec sessions, and closing the channel does not
// stop a command that neither reads stdin nor writes output. But sshd starts
// every session's shell with setsid(), so that shell leads a process group
// holding everything the command started. Each command therefore first
// reports its shell's PID on stderr (one line, tagged with a per-command
// random token and removed before the caller sees stderr); on cancel, drover
// opens a second session and signals the whole group: TERM, then KILL after
// a grace period. Under sudo, the signal reaches sudo itself (same real uid
// as the login user), which relays it to the command it runs.

// pidPrefix returns the shell snippet that reports the session's PID, and
// the tag that marks its line.
func pidPrefix() (snippet, tag string) {
	tag = "drover-pid-" + randomToken()
	return "printf '" + tag + " %s\\n' \"$$\" >&2; ", tag
}

// pidFilter passes stderr through to w, except the first line when it is the
// PID report, whose value it records.
type pidFilter struct {
	w   io.Writer
	tag []byte

	mu    sync.Mutex
	head  []byte // bytes of the first line seen so far
	done  bool   // first line handled
	pid   int
	ready chan struct{}
}

func newPIDFilter(w io.Writer, tag string) *pidFilter {
	return &pidFilter{w: w, tag: []byte(tag + " "), ready: make(chan struct{})}
}

func (f *pidFilter) Write(p []byte) (int, error) {
	f.mu.Lock()
	if f.done {
		f.mu.Unlock()
		return f.w.Write(p)
	}
	f.head = append(f.head, p...)
	i := bytes.IndexByte(f.head, '\n')
	if i < 0 && len(f.head) < len(f.tag)+32 {
		f.mu.Unlock()
		return len(p), nil
	}
	f.done = true
	rest := f.head
	if i >= 0 && bytes.HasPrefix(f.head, f.tag) {
		f.pid, _ = strconv.Atoi(string(f.head[len(f.tag):i]))
		rest = f.head[i+1:]
	}
	f.head = nil
	close(f.ready)
	f.mu.Unlock()
	if len(rest) > 0 {
		if _, err := f.w.Write(rest); err != nil {
			return 0, err
		}
	}
	return len(p), nil
}

// ReadFrom copies r through Write with a small buffer. x/crypto/ssh copies a
// session's stderr with io.Copy, which would otherwise allocate 32 KiB per
// command in flight; stderr is usually a line or two, and a host's
// connection runs one command at a time per session.
func (f *pidFilter) ReadFrom(r io.Reader) (int64, error) {
	buf := make([]byte, 2048)
	var n int64
	for {
		k, err := r.Read(buf)
		if k > 0 {
			n += int64(k)
			if _, werr := f.Write(buf[:k]); werr != nil {
				return n, werr
			}
		}
		if err == io.EOF {
			return n, nil
		}
		if err != nil {
			return n, err
		}
	}
}

// flush passes on a first line that never ended (a command whose whole
// stderr was shorter than the tag and had no newline).
func (f *pidFilter) flush() {
	f.mu.Lock()
	defer f.mu.Unlock()
	if !f.done {
		f.done = true
		close(f.ready)
		if len(f.head) > 0 {
			_, _ = f.w.Write(f.head)
		}
		f.head = nil
	}
}

// PID returns the process group to signal, or 0 when it is not known.
func (f *pidFilter) PID() int {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.pid
}
