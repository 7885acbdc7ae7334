package main

import (
	"fmt"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"golang.org/x/sys/unix"
)

// A small expect-style harness: the real drover binary on a pseudo-terminal
// (from /dev/ptmx, so that drover sees a terminal as a user's shell gives
// it), every byte it writes kept with the time it arrived, and a screen
// that replays them as a terminal would.

// ptyRun is drover running on a pty.
type ptyRun struct {
	cmd  *exec.Cmd
	ptmx *os.File
	mu   sync.Mutex
	out  []ptyChunk
	done chan struct{}
}

type ptyChunk struct {
	at   time.Time
	data string
}

// startPTY starts drover with args on a new pty of cols×rows.
func startPTY(t *testing.T, cols, rows uint16, env []string, args ...string) *ptyRun {
	t.Helper()
	ptmx, err := os.OpenFile("/dev/ptmx", os.O_RDWR|syscall.O_CLOEXEC, 0)
	if err != nil {
		t.Skipf("no pseudo-terminals: %v", err)
	}
	if err := unix.IoctlSetPointerInt(int(ptmx.Fd()), unix.TIOCSPTLCK, 0); err != nil {
		t.Fatalf("unlocking the pty: %v", err)
	}
	n, err := unix.IoctlGetInt(int(ptmx.Fd()), unix.TIOCGPTN)
	if err != nil {
		t.Fatalf("pty number: %v", err)
	}
	tty, err := os.OpenFile("/dev/pts/"+strconv.Itoa(n), os.O_RDWR|syscall.O_NOCTTY, 0)
	if err != nil {
		t.Fatalf("opening the pty: %v", err)
	}
	defer tty.Close() // the child has its copy
	if err := unix.IoctlSetWinsize(int(tty.Fd()), unix.TIOCSWINSZ, &unix.Winsize{Col: cols, Row: rows}); err != nil {
		t.Fatalf("pty size: %v", err)
	}
	cmd := exec.Command(droverBin(t), args...)
	cmd.Env = append(append(os.Environ(), "HOME="+t.TempDir(), "SSH_AUTH_SOCK=", "TERM=xterm-256color"), env...)
	cmd.Stdin, cmd.Stdout, cmd.Stderr = tty, tty, tty
	// A session of its own with the pty as controlling terminal, as a
	// login shell's child has: Ctrl-C is then the pty's to send.
	cmd.SysProcAttr = &syscall.SysProcAttr{Setsid: true, Setctty: true, Ctty: 0}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	r := &ptyRun{cmd: cmd, ptmx: ptmx, done: make(chan struct{})}
	go func() {
		defer close(r.done)
		buf := make([]byte, 4096)
		for {
			n, err := ptmx.Read(buf)
			if n > 0 {
				r.mu.Lock()
				r.out = append(r.out, ptyChunk{time.Now(), string(buf[:n])})
				r.mu.Unlock()
			}
			if err != nil {
				return // EIO once drover and its copies of the pty are gone
			}
		}
	}()
	t.Cleanup(func() {
		_ = cmd.Process.Kill()
		_ = ptmx.Close()
	})
	return r
}

// wait waits for drover to exit and for its output to be read, and returns
// its exit status.
func (r *ptyRun) wait(t *testing.T, timeout time.Duration) int {
	t.Helper()
	exited := make(chan error, 1)
	go func() { exited <- r.cmd.Wait() }()
	select {
	case err := <-exited:
		select {
		case <-r.done:
		case <-time.After(2 * time.Second):
		}
		if ee, ok := err.(*exec.ExitError); ok {
			return ee.ExitCode()
		}
		if err != nil {
			t.Fatal(err)
		}
		return 0
	case <-time.After(timeout):
		t.Fatalf("drover still running after %v:\n%s", timeout, r.raw())
	}
	return -1
}

// raw is everything written so far.
func (r *ptyRun) raw() string {
	r.mu.Lock()
	defer r.mu.Unlock()
	var b strings.Builder
	for _, c := range r.out {
		b.WriteString(c.data)
	}
	return b.String()
}

// firstAt is when s first appeared in the output (zero when it did not).
func (r *ptyRun) firstAt(s string) time.Time {
	r.mu.Lock()
	defer r.mu.Unlock()
	var b strings.Builder
	for _, c := range r.out {
		b.WriteString(c.data)
		if strings.Contains(b.String(), s) {
			return c.at
		}
	}
	return time.Time{}
}

// screen replays terminal output: printable characters, CR, LF, and the
// sequences drover's live view uses (cursor up, erase below, erase line);
// colour sequences are dropped. Lines are kept without a height limit (what
// scrolled off is the scrollback), wrapped at cols.
type screen struct {
	cols     int
	lines    [][]rune
	row, col int
	unknown  []string // sequences it does not know: the test shows them
}

func newScreen(cols int) *screen { return &screen{cols: cols, lines: [][]rune{nil}} }

func (s *screen) write(data string) {
	rs := []rune(data)
	for i := 0; i < len(rs); i++ {
		switch r := rs[i]; {
		case r == '\r':
			s.col = 0
		case r == '\n':
			s.row++
			s.col = 0 // the pty's ONLCR
			for len(s.lines) <= s.row {
				s.lines = append(s.lines, nil)
			}
		case r == '\x1b' && i+1 < len(rs) && rs[i+1] == '[':
			j := i + 2
			for j < len(rs) && (rs[j] < '@' || rs[j] > '~') {
				j++
			}
			if j == len(rs) {
				return
			}
			s.csi(string(rs[i+2:j]), rs[j])
			i = j
		case r < ' ':
			s.unknown = append(s.unknown, fmt.Sprintf("%q", r))
		default:
			if s.col >= s.cols {
				s.write("\n")
			}
			line := s.lines[s.row]
			for len(line) <= s.col {
				line = append(line, ' ')
			}
			line[s.col] = r
			s.lines[s.row] = line
			s.col++
		}
	}
}

func (s *screen) csi(param string, final rune) {
	n, err := strconv.Atoi(param)
	if err != nil {
		n = 1
	}
	switch final {
	case 'm': // colour
	case 'A':
		s.row = max(0, s.row-n)
	case 'J': // erase below (0, the default)
		if s.col < len(s.lines[s.row]) {
			s.lines[s.row] = s.lines[s.row][:s.col]
		}
		for i := s.row + 1; i < len(s.lines); i++ {
			s.lines[i] = nil
		}
	case 'K':
		if s.col < len(s.lines[s.row]) {
			s.lines[s.row] = s.lines[s.row][:s.col]
		}
	default:
		s.unknown = append(s.unknown, "CSI "+param+string(final))
	}
}

// text is the screen's lines, trailing blanks and empty lines at the end
// left out.
func (s *screen) text() string {
	var out []string
	for _, l := range s.lines {
		out = append(out, strings.TrimRight(string(l), " "))
	}
	return strings.TrimRight(strings.Join(out, "\n"), "\n") + "\n"
}
