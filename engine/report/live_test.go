package report

import (
	"bytes"
	"strings"
	"sync"
	"testing"
	"time"
)

// syncBuffer is a bytes.Buffer the live view's ticker may write to while
// the test reads.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

// TestLiveLines: the live view's lines fit the terminal (cut, never
// wrapped), as many hosts as the screen holds and a line for the rest, a
// ticker only past a second, the count of hosts done, and task names
// masked and escaped like everything else.
func TestLiveLines(t *testing.T) {
	m := NewMasker()
	m.Add("s3cret")
	var out syncBuffer
	term := NewTerminal(&out, &out, TerminalOptions{Live: true, HostWidth: 4, Masker: m, Size: func() (int, int) { return 40, 6 }})
	defer term.Close()
	now := t0
	term.live.now = func() time.Time { return now }
	term.Emit(Event{Kind: KindRunStart, Hosts: []string{"h1", "h2", "h3", "h4", "h5", "h6"}})
	term.Emit(Event{Kind: KindTaskStart, Host: "h1", Task: `shell.x["s3cret` + "\x1b[2J" + `"]`})
	now = now.Add(500 * time.Millisecond)
	for _, h := range []string{"h2", "h3", "h4", "h5"} {
		term.Emit(Event{Kind: KindTaskStart, Host: h, Task: "file.a_rather_long_task_name_that_will_not_fit", Detail: &TaskResult{Batch: 3}})
	}
	term.Emit(Event{Kind: KindHostDone, Host: "h6", Status: StatusOK})
	now = now.Add(time.Second)

	term.mu.Lock()
	lines := term.live.lines(now)
	term.mu.Unlock()
	want := []string{
		`  h1    shell.x["********\x1b[2J"]  1.…`,
		"  h2    file.a_rather_long_task_name_t…",
		"  h3    file.a_rather_long_task_name_t…",
		"  … 2 more hosts at work",
		"  1/6 hosts done · 1.5s",
	}
	if strings.Join(lines, "\n") != strings.Join(want, "\n") {
		t.Errorf("lines:\n%s\nwant:\n%s", strings.Join(lines, "\n"), strings.Join(want, "\n"))
	}
	for _, l := range lines {
		if w := visibleWidth(l); w >= 40 {
			t.Errorf("%q is %d wide on a 40-column terminal", l, w)
		}
	}

	// Wide enough: elapsed time, the batch, a ticker past a second.
	term.opt.Size = func() (int, int) { return 120, 40 }
	term.mu.Lock()
	lines = term.live.lines(now)
	term.mu.Unlock()
	if !strings.HasPrefix(lines[0], `  h1    shell.x["********\x1b[2J"]  1.5s `) || !strings.Contains(lines[1], "(batch of 3)  1.0s ⠋") {
		t.Errorf("lines:\n%s", strings.Join(lines, "\n"))
	}
	term.Emit(Event{Kind: KindTask, Host: "h1", Task: `shell.x["s3cret` + "\x1b[2J" + `"]`, Status: StatusOK})
	term.Emit(Event{Kind: KindTaskStart, Host: "h1", Task: "file.new"})
	term.mu.Lock()
	lines = term.live.lines(now.Add(100 * time.Millisecond))
	term.mu.Unlock()
	if !strings.Contains(strings.Join(lines, "\n"), "  h1    file.new  0.1s\n") {
		t.Errorf("a task under a second has no ticker:\n%s", strings.Join(lines, "\n"))
	}
	// A batch shows its first and last tasks.
	term.Emit(Event{Kind: KindTask, Host: "h1", Task: "file.new", Status: StatusOK})
	for _, task := range []string{"file.b", "file.c", "shell.slow"} {
		term.Emit(Event{Kind: KindTaskStart, Host: "h1", Task: task, Detail: &TaskResult{Batch: 3}})
	}
	term.mu.Lock()
	lines = term.live.lines(now)
	term.mu.Unlock()
	if !strings.HasPrefix(lines[0], "  h1    file.b … shell.slow (batch of 3)  0.0s") {
		t.Errorf("a batch's line:\n%s", lines[0])
	}
	if strings.Contains(out.String(), "s3cret") || strings.Contains(out.String(), "\x1b[2J") {
		t.Errorf("the secret or the host's escape sequence reached the terminal:\n%q", out.String())
	}
}

// TestLiveErase: the view is taken down from the line below it, by as many
// rows as its lines take at the terminal's width now (after a resize a line
// may wrap), and the recap leaves nothing of it.
func TestLiveErase(t *testing.T) {
	cols := 80
	var out syncBuffer
	term := NewTerminal(&out, &out, TerminalOptions{Live: true, Size: func() (int, int) { return cols, 24 }})
	term.mu.Lock()
	term.live.running = true
	term.live.drawn = []int{50, 10}
	if got := term.live.erase(); got != "\r\x1b[2A\x1b[J" {
		t.Errorf("erase at 80 columns = %q", got)
	}
	cols = 30
	term.live.drawn = []int{50, 10}
	if got := term.live.erase(); got != "\r\x1b[3A\x1b[J" {
		t.Errorf("erase at 30 columns, a 50-wide line wrapped = %q", got)
	}
	term.live.running = false
	term.mu.Unlock()

	out2 := &syncBuffer{}
	term = NewTerminal(out2, out2, TerminalOptions{Live: true})
	term.Emit(Event{Kind: KindRunStart, Hosts: []string{"h"}})
	term.Emit(Event{Kind: KindTaskStart, Host: "h", Task: "file.a"})
	term.Emit(Event{Kind: KindTask, Host: "h", Task: "file.a", Status: StatusChanged})
	term.Emit(Event{Kind: KindHostDone, Host: "h", Status: StatusChanged})
	term.Emit(Event{Kind: KindRecap, Recap: &Recap{Hosts: []HostRecap{{Host: "h", Status: StatusChanged}}}})
	term.Close()
	raw := out2.String()
	if !strings.HasSuffix(raw, "1 host in 0s: 0 ok, 1 changed\n") {
		t.Errorf("the output does not end with the recap:\n%q", raw)
	}
	// Everything drawn was taken down before the recap: each draw is
	// followed by an erase of as many lines.
	if strings.Count(raw, "host done ·") != strings.Count(raw, "\x1b[J") {
		t.Errorf("draws and erases do not pair up:\n%q", raw)
	}
}

// TestTerminalStreamsTasks: without the live view (a CI log) each task's
// result is written as it ends, a task still running after announceAfter
// gets a running line, and its end a line even when ok; -v shows what a
// task printed.
func TestTerminalStreamsTasks(t *testing.T) {
	defer func(d time.Duration) { announceAfter = d }(announceAfter)
	announceAfter = 20 * time.Millisecond
	var out syncBuffer
	term := NewTerminal(&out, &out, TerminalOptions{HostWidth: 2, Verbose: true})
	term.Emit(Event{Kind: KindTaskStart, Host: "h1", Task: "file.a"})
	term.Emit(Event{Kind: KindTask, Host: "h1", Task: "file.a", Status: StatusChanged, Duration: 40 * time.Millisecond, Detail: &TaskResult{Batch: 2}})
	if got := out.String(); got != "h1 | changed | file.a | in 40ms, batch of 2\n" {
		t.Errorf("after the first task: %q", got)
	}
	term.Emit(Event{Kind: KindTaskStart, Host: "h2", Task: "shell.slow"})
	deadline := time.Now().Add(5 * time.Second)
	for !strings.Contains(out.String(), "h2 | running | shell.slow\n") && time.Now().Before(deadline) {
		time.Sleep(5 * time.Millisecond)
	}
	term.Emit(Event{Kind: KindTask, Host: "h2", Task: "shell.slow", Status: StatusOK, Duration: 1200 * time.Millisecond, Stdout: "hello\n", ExitCode: Exit(0)})
	term.Emit(Event{Kind: KindTaskStart, Host: "h1", Task: "shell.quiet"})
	term.Emit(Event{Kind: KindTask, Host: "h1", Task: "shell.quiet", Status: StatusOK, Duration: time.Millisecond})
	term.Emit(Event{Kind: KindHostDone, Host: "h1", Status: StatusChanged})
	term.Emit(Event{Kind: KindHostDone, Host: "h2", Status: StatusOK})
	// The tasks of a batch share one running line.
	for _, task := range []string{"file.x", "file.y", "shell.z"} {
		term.Emit(Event{Kind: KindTaskStart, Host: "h3", Task: task, Detail: &TaskResult{Batch: 3}})
	}
	for !strings.Contains(out.String(), "h3 | running") && time.Now().Before(deadline) {
		time.Sleep(5 * time.Millisecond)
	}
	time.Sleep(3 * announceAfter) // no second line comes
	for _, task := range []string{"file.x", "file.y", "shell.z"} {
		term.Emit(Event{Kind: KindTask, Host: "h3", Task: task, Status: StatusOK, Duration: time.Second, Detail: &TaskResult{Batch: 3}})
	}
	term.Close()
	want := `h1 | changed | file.a | in 40ms, batch of 2
h2 | running | shell.slow
h2 | ok | shell.slow | in 1.2s
  stdout:
    hello
h3 | running | file.x … shell.z (batch of 3)
h3 | ok | file.x | in 1s, batch of 3
h3 | ok | file.y | in 1s, batch of 3
h3 | ok | shell.z | in 1s, batch of 3
`
	if got := out.String(); got != want {
		t.Errorf("output:\n%s\nwant:\n%s", got, want)
	}
}

// TestFailedTaskStreams: a failed command shows its stdout and stderr under
// labels of their own, with or without -v.
func TestFailedTaskStreams(t *testing.T) {
	var out bytes.Buffer
	term := NewTerminal(&out, &out, TerminalOptions{})
	term.Emit(Event{Kind: KindTask, Host: "h", Task: "command.x", Status: StatusFailed, Duration: 2 * time.Second, Message: "exit status 3",
		Stdout: "partial\n", Stderr: "boom\n", ExitCode: Exit(3), Detail: &TaskResult{Module: "command"}})
	term.Close()
	want := "h | failed | command.x | in 2s\n    exit status 3\n  stdout:\n    partial\n  stderr:\n    boom\n"
	if out.String() != want {
		t.Errorf("output:\n%s\nwant:\n%s", out.String(), want)
	}
}

// TestLivePhases: a host connecting or reading its state has a line of its
// own saying so, timed from the phase's start; applying, its line counts
// the tasks ended; with more hosts at work than the screen holds, the lines
// are the hosts longest at what they do, in the run's order.
func TestLivePhases(t *testing.T) {
	var out syncBuffer
	term := NewTerminal(&out, &out, TerminalOptions{Live: true, HostWidth: 2, Size: func() (int, int) { return 80, 6 }})
	defer term.Close()
	now := t0
	term.live.now = func() time.Time { return now }
	phase := func(host, p string, n int) {
		term.Emit(Event{Kind: KindPhase, Host: host, Detail: &HostPhase{Phase: p, Tasks: n}})
	}
	lines := func() string {
		term.mu.Lock()
		defer term.mu.Unlock()
		return strings.Join(term.live.lines(now), "\n")
	}
	term.Emit(Event{Kind: KindRunStart, Task: "apply", Hosts: []string{"h1", "h2", "h3", "h4", "h5"}})
	phase("h1", PhaseConnecting, 0)
	now = now.Add(1500 * time.Millisecond)
	phase("h2", PhaseConnecting, 0)
	now = now.Add(300 * time.Millisecond)
	if got, want := lines(), "  h1  connecting…  1.8s ⠇\n  h2  connecting…  0.3s\n  0/5 hosts done · 1.8s"; got != want {
		t.Errorf("connecting:\n%s\nwant:\n%s", got, want)
	}
	phase("h1", PhaseReading, 3)
	phase("h2", PhaseFacts, 0)
	now = now.Add(200 * time.Millisecond)
	if got, want := lines(), "  h1  reading state of 3 tasks…  0.2s\n  h2  gathering facts…  0.2s\n  0/5 hosts done · 2.0s"; got != want {
		t.Errorf("reading state:\n%s\nwant:\n%s", got, want)
	}
	phase("h1", PhaseApplying, 3)
	term.Emit(Event{Kind: KindTaskStart, Host: "h1", Task: "file.a"})
	term.Emit(Event{Kind: KindTask, Host: "h1", Task: "file.a", Status: StatusChanged})
	term.Emit(Event{Kind: KindTaskStart, Host: "h1", Task: "shell.b"})
	now = now.Add(100 * time.Millisecond)
	if got := lines(); !strings.HasPrefix(got, "  h1  [1/3] shell.b  0.1s\n") {
		t.Errorf("applying:\n%s", got)
	}
	term.Emit(Event{Kind: KindTask, Host: "h1", Task: "shell.b", Status: StatusOK})
	if got := lines(); !strings.HasPrefix(got, "  h1  applying [2/3]…  0.1s\n") {
		t.Errorf("between tasks:\n%s", got)
	}
	// Five hosts at work, room for four lines: the three longest at it
	// (h2 gathering facts, h1 applying, h5 connecting), in the run's
	// order, and the rest counted (h3 and h4 began connecting later).
	now = now.Add(time.Second)
	phase("h5", PhaseConnecting, 0)
	now = now.Add(100 * time.Millisecond)
	phase("h3", PhaseConnecting, 0)
	phase("h4", PhaseConnecting, 0)
	now = now.Add(100 * time.Millisecond)
	want := "  h1  applying [2/3]…  1.3s ⠸\n  h2  gathering facts…  1.5s ⠴\n  h5  connecting…  0.2s\n  … 2 more hosts at work\n  0/5 hosts done · 3.3s"
	if got := lines(); got != want {
		t.Errorf("more hosts than rows:\n%s\nwant:\n%s", got, want)
	}
	term.Emit(Event{Kind: KindHostDone, Host: "h2", Status: StatusOK})
	term.Emit(Event{Kind: KindHostDone, Host: "h1", Status: StatusOK})
	want = "  h3  connecting…  0.1s\n  h4  connecting…  0.1s\n  h5  connecting…  0.2s\n  2/5 hosts done · 3.3s"
	if got := lines(); got != want {
		t.Errorf("after two hosts are done:\n%s\nwant:\n%s", got, want)
	}
}

// Phases are for the live view only: without it (a CI log) they write
// nothing, and the recap is as without them.
func TestPhasesWriteNothingWithoutLiveView(t *testing.T) {
	var out, errOut bytes.Buffer
	term := NewTerminal(&out, &errOut, TerminalOptions{})
	rec := NewRecorder()
	sink := Multi(term, rec)
	sink.Emit(Event{Kind: KindRunStart, Task: "apply", Hosts: []string{"h1", "h2"}})
	for _, p := range []string{PhaseConnecting, PhaseFacts, PhaseReading, PhaseApplying} {
		sink.Emit(Event{Kind: KindPhase, Host: "h1", Detail: &HostPhase{Phase: p}})
		sink.Emit(Event{Kind: KindPhase, Host: "h2", Detail: &HostPhase{Phase: p}})
	}
	sink.Emit(Event{Kind: KindHostDone, Host: "h1", Status: StatusOK})
	_ = term.Close()
	if out.String() != "h1 | ok\n" || errOut.Len() != 0 {
		t.Errorf("output %q, errors %q; want only h1's line", out.String(), errOut.String())
	}
	rc := rec.Recap([]string{"h1", "h2"}, 0, true)
	if rc.Hosts[1].Status != StatusNotStarted {
		t.Errorf("h2, which only had phases, is %s in the recap, want not_started", rc.Hosts[1].Status)
	}
}

// An ad-hoc command's host is connecting until its connect event, then at
// the command, timed from the connection.
func TestLivePhaseConnectingAdHoc(t *testing.T) {
	var out syncBuffer
	term := NewTerminal(&out, &out, TerminalOptions{Live: true, HostWidth: 2})
	defer term.Close()
	now := t0
	term.live.now = func() time.Time { return now }
	term.Emit(Event{Kind: KindRunStart, Task: "exec", Hosts: []string{"h1"}})
	term.Emit(Event{Kind: KindPhase, Host: "h1", Detail: &HostPhase{Phase: PhaseConnecting}})
	now = now.Add(2 * time.Second)
	lines := func() string {
		term.mu.Lock()
		defer term.mu.Unlock()
		return term.live.lines(now)[0]
	}
	if got := lines(); got != "  h1  connecting…  2.0s ⠋" {
		t.Errorf("connecting: %q", got)
	}
	term.Emit(Event{Kind: KindConnect, Host: "h1", Status: StatusOK})
	now = now.Add(300 * time.Millisecond)
	if got := lines(); got != "  h1  exec…  0.3s" {
		t.Errorf("connected: %q", got)
	}
}
