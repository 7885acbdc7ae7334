package main

import (
	"bufio"
	"bytes"
	"fmt"
	"net"
	"os"
	"os/exec"
	"regexp"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/drover-cm/drover/integration"
)

// progressFleet starts one fleet host and writes its inventory and a
// playbook with body as its play.
func progressFleet(t *testing.T, body string) (h *integration.Host, args []string) {
	t.Helper()
	f := integration.Start(t, 1)
	h = f.Hosts[0]
	dir := t.TempDir()
	inv := writeFile(t, dir, "inv.hcl", fmt.Sprintf("host \"web1\" {\n  address = %q\n  port = %d\n  user = \"root\"\n  identity_file = %q\n}\n", h.Addr, h.Port, f.KeyFile))
	pb := writeFile(t, dir, "site.hcl", "play \"p\" {\n  hosts = \"all\"\n"+body+"}\n")
	return h, []string{"apply", "-i", inv, "--known-hosts", f.KnownHostsFile, pb}
}

// twoSleeps runs one task after the other: shell.second reads state (its
// creates), which shell.first running code makes stale, so it is read
// again and runs in a batch of its own (a task that reads nothing would
// go in shell.first's batch).
const twoSleeps = `
  shell "first" {
    run = "sleep 2"
  }
  shell "second" {
    run     = "sleep 2"
    creates = "/nonexistent/drover-progress-test"
  }
`

// TestCLILiveViewOnPTY: on a terminal, apply draws a live line for the host
// (its task and how many it has ended, elapsed time, a ticker) while the first of two 2-second tasks
// runs, and leaves a clean screen: the host's results, the recap, and no
// trace of the live view.
func TestCLILiveViewOnPTY(t *testing.T) {
	_, args := progressFleet(t, twoSleeps)
	r := startPTY(t, 100, 30, []string{"NO_COLOR=1"}, args...)
	if code := r.wait(t, 60*time.Second); code != 0 {
		t.Fatalf("exit %d:\n%s", code, r.raw())
	}
	raw := r.raw()
	live := r.firstAt("web1  [0/2] shell.first")
	second := r.firstAt("web1  [1/2] shell.second")
	if live.IsZero() || second.IsZero() {
		t.Fatalf("no live line for the tasks:\n%q", raw)
	}
	// shell.second starts when shell.first ends, 2 s after it started.
	if gap := second.Sub(live); gap < 1500*time.Millisecond {
		t.Errorf("the live line for shell.first appeared %v before shell.second started, want it during the first task (~2s)", gap)
	}
	if !regexp.MustCompile(`web1  \[0/2\] shell\.first  1\.\ds [⠋⠙⠹⠸⠼⠴⠦⠧⠇⠏]`).MatchString(raw) {
		t.Errorf("no elapsed time and ticker past a second:\n%q", raw)
	}
	if regexp.MustCompile(`\x1b\[[0-9;]*m`).MatchString(raw) {
		t.Errorf("colour with NO_COLOR set:\n%q", raw)
	}
	sc := newScreen(100)
	sc.write(raw)
	got := sc.text()
	if len(sc.unknown) > 0 {
		t.Errorf("sequences a terminal would not expect: %v", sc.unknown)
	}
	want := regexp.MustCompile(`^web1 \| changed \| shell\.first \| in 2\.\d+s
  > shell\.first: run sleep 2
web1 \| changed \| shell\.second \| in 2\.\d+s
  > shell\.second: run sleep 2

web1  changed  ok=0 changed=2 failed=0 skipped=0  4\.\d+s
1 host in 4\.\d+s: 0 ok, 1 changed
$`)
	if !want.MatchString(got) {
		t.Errorf("final screen:\n%s\nwant it to match:\n%s", got, want)
	}
}

// TestCLILiveViewCtrlC: Ctrl-C twice on the terminal during a long task:
// the live view is taken down for each message, the task is reported
// cancelled (not failed with "context canceled") and the screen ends clean.
func TestCLILiveViewCtrlC(t *testing.T) {
	_, args := progressFleet(t, "  shell \"long\" {\n    run = \"sleep 30\"\n  }\n")
	r := startPTY(t, 80, 24, nil, args...)
	deadline := time.Now().Add(20 * time.Second)
	for r.firstAt("shell.long").IsZero() && time.Now().Before(deadline) { // in colour
		time.Sleep(50 * time.Millisecond)
	}
	for _, wait := range []string{"Press Ctrl-C again", "cutting running tasks"} {
		_, _ = r.ptmx.Write([]byte{3}) // what the terminal sends for Ctrl-C
		for r.firstAt(wait).IsZero() && time.Now().Before(deadline) {
			time.Sleep(50 * time.Millisecond)
		}
		time.Sleep(300 * time.Millisecond)
	}
	if code := r.wait(t, 30*time.Second); code != 130 {
		t.Fatalf("exit %d, want 130:\n%q", code, r.raw())
	}
	sc := newScreen(80)
	sc.write(r.raw())
	got := sc.text()
	for _, w := range []string{"web1 | cancelled | shell.long", "interrupted while it ran", "interrupted: 1 host in"} {
		if !strings.Contains(got, w) {
			t.Errorf("final screen lacks %q:\n%s", w, got)
		}
	}
	for _, no := range []string{"context canceled", "| failed", "host done ·", "hosts done ·"} {
		if strings.Contains(got, no) {
			t.Errorf("final screen has %q:\n%s", no, got)
		}
	}
}

// TestCLIProgressNotATerminal: with output to a pipe (a CI log) a task
// running longer than a second gets a "running" line within ~1.5 s of its
// start, and each task's result is written when it ends, not when the host
// is done; -v shows what a task printed.
func TestCLIProgressNotATerminal(t *testing.T) {
	h, args := progressFleet(t, `
  shell "slow" {
    run = "date +%s.%N > /tmp/slow.start; sleep 3"
  }
  # Reads state (creates), stale once shell.slow ran code: a batch of its
  # own after it, so each result comes when its task ends.
  shell "after" {
    run     = "echo hello; sleep 1.5"
    creates = "/nonexistent/drover-progress-test"
  }
`)
	cmd := exec.Command(droverBin(t), append(args, "-v")...)
	cmd.Env = append(os.Environ(), "NO_COLOR=1", "HOME="+t.TempDir(), "SSH_AUTH_SOCK=")
	cmd.SysProcAttr = &syscall.SysProcAttr{Setsid: true}
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	var errOut bytes.Buffer
	cmd.Stderr = &errOut
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	type line struct {
		at   time.Time
		text string
	}
	var lines []line
	sc := bufio.NewScanner(stdout)
	for sc.Scan() {
		lines = append(lines, line{time.Now(), sc.Text()})
	}
	if err := cmd.Wait(); err != nil {
		t.Fatalf("apply: %v\n%s", err, errOut.String())
	}
	exited := time.Now()
	at := func(prefix string) time.Time {
		for _, l := range lines {
			if strings.HasPrefix(l.text, prefix) {
				return l.at
			}
		}
		t.Fatalf("no line %q in\n%v", prefix, lines)
		return time.Time{}
	}
	secs, err := strconv.ParseFloat(strings.TrimSpace(h.Exec(t, "cat /tmp/slow.start")), 64)
	if err != nil {
		t.Fatal(err)
	}
	started := time.Unix(0, int64(secs*1e9))
	if d := at("web1 | running | shell.slow").Sub(started); d < 900*time.Millisecond || d > 1500*time.Millisecond {
		t.Errorf("the running line came %v after the task started, want ~1s (at most 1.5s)", d)
	}
	if d := exited.Sub(at("web1 | changed | shell.slow | in 3.")); d < time.Second {
		t.Errorf("shell.slow's result came only %v before the end: held back", d)
	}
	at("web1 | running | shell.after")
	at("web1 | changed | shell.after | in 1.")
	if at("  stdout:").Before(at("web1 | changed | shell.after")) || at("    hello").IsZero() {
		t.Errorf("-v does not show what shell.after printed: %v", lines)
	}
}

// TestCLIApplyEvents: --json gives run_start with the hosts, task_start
// before each task's task event, a command's stdout, stderr and exit_code
// separately, a batch's time on each of its tasks with its size, and no
// time for tasks with nothing to do.
func TestCLIApplyEvents(t *testing.T) {
	_, args := progressFleet(t, `
  directory "d" {
    path = "/srv/ev"
  }
  file "a" {
    path    = "/srv/ev/a"
    content = "a"
  }
  file "b" {
    path    = "/srv/ev/b"
    content = "b"
  }
  shell "talk" {
    run     = "echo out; echo err >&2"
    creates = "/srv/ev/talked"
  }
  shell "mark" {
    run     = "touch /srv/ev/talked"
    creates = "/srv/ev/talked"
  }
`)
	for run := 1; run <= 2; run++ {
		r := drover(t, "", append(args, "--json")...)
		if r.code != 0 {
			t.Fatalf("apply %d: exit %d\n%s%s", run, r.code, r.stdout, r.stderr)
		}
		events := parseEvents(t, r.stdout)
		if e := events[0]; e["kind"] != "run_start" || fmt.Sprint(e["hosts"]) != "[web1]" {
			t.Errorf("apply %d: first event %v, want run_start with hosts [web1]", run, e)
		}
		started := map[string]bool{}
		tasks := map[string]map[string]any{}
		for _, e := range events {
			task, _ := e["task"].(string)
			switch e["kind"] {
			case "task_start":
				if started[task] {
					t.Errorf("apply %d: %s started twice", run, task)
				}
				started[task] = true
			case "task":
				if !started[task] {
					t.Errorf("apply %d: task event of %s before its task_start", run, task)
				}
				tasks[task] = e
			}
		}
		if len(tasks) != 5 {
			t.Fatalf("apply %d: task events %v", run, tasks)
		}
		detail := func(task string) map[string]any { d, _ := tasks[task]["detail"].(map[string]any); return d }
		if run == 2 {
			for name, e := range tasks {
				if e["status"] != "ok" || e["duration_ms"] != nil || e["stdout"] != nil {
					t.Errorf("apply 2: %s had nothing to do, yet %v", name, e)
				}
			}
			continue
		}
		// The directory, both files and the first command go in one round
		// trip: each says the batch's time and size.
		batch, _ := detail("directory.d")["batch"].(float64)
		if batch < 3 {
			t.Errorf("directory.d: %v, want it in a batch with the files", tasks["directory.d"])
		}
		for _, name := range []string{"directory.d", "file.a", "file.b", "shell.talk"} {
			e := tasks[name]
			if e["status"] != "changed" || detail(name)["batch"] != batch || e["duration_ms"] != tasks["directory.d"]["duration_ms"] || e["duration_ms"] == nil {
				t.Errorf("%s: %v, want changed with the batch's time and size", name, e)
			}
		}
		talk := tasks["shell.talk"]
		if talk["stdout"] != "out\n" || talk["stderr"] != "err\n" || talk["exit_code"] != 0.0 {
			t.Errorf("shell.talk: %v, want stdout, stderr and exit_code apart", talk)
		}
	}
}

// TestCLILiveViewPhases: on a terminal, a host still connecting has a live
// line saying so, with its time (here one that accepts the connection and
// never speaks SSH, until --connect-timeout), beside a fleet host applying,
// whose line counts its tasks; the final screen keeps none of it.
func TestCLILiveViewPhases(t *testing.T) {
	_, args := progressFleet(t, twoSleeps)
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	go func() {
		var held []net.Conn // accepted, never answered
		defer func() {
			for _, c := range held {
				c.Close()
			}
		}()
		for {
			c, err := l.Accept()
			if err != nil {
				return
			}
			held = append(held, c)
		}
	}()
	inv := args[2]
	if err := os.WriteFile(inv, append([]byte(readFile(t, inv)), fmt.Sprintf("host \"mute\" {\n  address = \"127.0.0.1\"\n  port = %d\n}\n", l.Addr().(*net.TCPAddr).Port)...), 0o644); err != nil {
		t.Fatal(err)
	}
	r := startPTY(t, 100, 30, []string{"NO_COLOR=1"}, append(args, "--connect-timeout", "3s")...)
	if code := r.wait(t, 60*time.Second); code != 1 {
		t.Fatalf("exit %d, want 1 (mute is unreachable):\n%s", code, r.raw())
	}
	raw := r.raw()
	if !regexp.MustCompile(`mute  connecting…  [12]\.\ds [⠋⠙⠹⠸⠼⠴⠦⠧⠇⠏]`).MatchString(raw) {
		t.Errorf("no live line for the host connecting, with its time and a ticker:\n%q", raw)
	}
	if !regexp.MustCompile(`web1  \[0/2\] shell\.first  1\.\ds`).MatchString(raw) || !strings.Contains(raw, "web1  [1/2] shell.second") {
		t.Errorf("no live line counting web1's tasks:\n%q", raw)
	}
	sc := newScreen(100)
	sc.write(raw)
	got := sc.text()
	if len(sc.unknown) > 0 {
		t.Errorf("sequences a terminal would not expect: %v", sc.unknown)
	}
	for _, no := range []string{"connecting…", "[0/2]", "hosts done ·"} {
		if strings.Contains(got, no) {
			t.Errorf("the final screen keeps %q of the live view:\n%s", no, got)
		}
	}
	if !strings.Contains(got, "2 hosts in ") || !strings.Contains(got, "1 unreachable") {
		t.Errorf("final screen without the recap:\n%s", got)
	}
}
