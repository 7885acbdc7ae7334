package report

import (
	"bytes"
	"encoding/json"
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"
)

var t0 = time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)

func TestCountsString(t *testing.T) {
	tests := []struct {
		c    Counts
		want string
	}{
		{Counts{}, "0 ok"},
		{Counts{OK: 12, Failed: 1, Unreachable: 2}, "12 ok, 1 failed, 2 unreachable"},
		{Counts{OK: 5, Unreachable: 1}, "5 ok, 1 unreachable"},
		{Counts{OK: 1, Changed: 3, Skipped: 2}, "1 ok, 3 changed, 2 skipped"},
		{Counts{OK: 2, Cancelled: 2, NotStarted: 6}, "2 ok, 2 cancelled, 6 not started"},
	}
	for _, tt := range tests {
		if got := tt.c.String(); got != tt.want {
			t.Errorf("%+v: got %q, want %q", tt.c, got, tt.want)
		}
	}
}

func TestFormatDuration(t *testing.T) {
	tests := []struct {
		d    time.Duration
		want string
	}{
		{0, "0s"},
		{850 * time.Microsecond, "850µs"},
		{2345 * time.Microsecond, "2.3ms"},
		{41*time.Millisecond + 400*time.Microsecond, "41ms"},
		{1234 * time.Millisecond, "1.23s"},
		{123 * time.Second, "2m3s"},
	}
	for _, tt := range tests {
		if got := FormatDuration(tt.d); got != tt.want {
			t.Errorf("%v: got %q, want %q", tt.d, got, tt.want)
		}
	}
}

func TestRecorderRecap(t *testing.T) {
	r := NewRecorder()
	r.Emit(Event{Kind: KindHostDone, Host: "a", Status: StatusOK, Duration: time.Second})
	r.Emit(Event{Kind: KindHostDone, Host: "b", Status: StatusUnreachable, ErrorKind: "refused"})
	r.Emit(Event{Kind: KindCommand, Host: "c", Status: StatusOK}) // never done: cut
	rc := r.Recap([]string{"a", "b", "c", "d"}, 2*time.Second, true)
	want := []Status{StatusOK, StatusUnreachable, StatusCancelled, StatusNotStarted}
	for i, h := range rc.Hosts {
		if h.Status != want[i] {
			t.Errorf("host %s: %s, want %s", h.Host, h.Status, want[i])
		}
	}
	if got := rc.Counts().String(); got != "1 ok, 1 unreachable, 1 cancelled, 1 not started" {
		t.Errorf("counts %q", got)
	}
	if rc.OK() {
		t.Error("interrupted recap reported OK")
	}
	if ok := (&Recap{Hosts: []HostRecap{{Status: StatusOK}, {Status: StatusChanged}}}).OK(); !ok {
		t.Error("ok+changed recap not OK")
	}
}

// adhocEvents is a run of `drover exec` over four hosts, emitted with the
// hosts' events interleaved as parallel hosts would.
func adhocEvents() []Event {
	return []Event{
		{Kind: KindRunStart, Task: "exec", Command: "uname -n", Hosts: []string{"web1", "web2", "db1", "cache1"}},
		{Kind: KindConnect, Host: "web1", Status: StatusOK, ConnectTime: 41 * time.Millisecond},
		{Kind: KindConnect, Host: "web2", Status: StatusOK, ConnectTime: 40 * time.Millisecond},
		{Kind: KindCommand, Host: "web2", Status: StatusFailed, Command: "uname -n", ExitCode: Exit(2),
			Stdout: "partial\n", Stderr: "uname: extra operand\n", ConnectTime: 40 * time.Millisecond, Duration: 3 * time.Millisecond},
		{Kind: KindConnect, Host: "db1", Status: StatusUnreachable, ErrorKind: "refused",
			Message: "127.0.0.1:2207: connection refused", Hint: "check that sshd runs on the host"},
		{Kind: KindCommand, Host: "web1", Status: StatusOK, Command: "uname -n", ExitCode: Exit(0),
			Stdout: "web1\n", ConnectTime: 41 * time.Millisecond, Duration: 2 * time.Millisecond},
		{Kind: KindHostDone, Host: "db1", Status: StatusUnreachable, ErrorKind: "refused"},
		{Kind: KindHostDone, Host: "web2", Status: StatusFailed},
		{Kind: KindHostDone, Host: "web1", Status: StatusOK},
		{Kind: KindWarning, Message: "no host matches \"nope\""},
		{Kind: KindHostDone, Host: "cache1", Status: StatusCancelled, Message: "interrupted", Duration: 1500 * time.Millisecond},
	}
}

func TestTerminalGroupsPerHost(t *testing.T) {
	var out, errOut bytes.Buffer
	term := NewTerminal(&out, &errOut, TerminalOptions{HostWidth: 6})
	for _, e := range adhocEvents() {
		term.Emit(e)
	}
	rc := &Recap{Duration: 1234 * time.Millisecond, Interrupted: true, Hosts: []HostRecap{
		{Host: "web1", Status: StatusOK}, {Host: "web2", Status: StatusFailed},
		{Host: "db1", Status: StatusUnreachable, ErrorKind: "refused"}, {Host: "cache1", Status: StatusCancelled},
		{Host: "mail1", Status: StatusNotStarted},
	}}
	term.Emit(Event{Kind: KindRecap, Recap: rc})
	if err := term.Close(); err != nil {
		t.Fatal(err)
	}
	want := `db1    | unreachable | refused
    127.0.0.1:2207: connection refused
  hint: check that sshd runs on the host
web2   | failed | exit 2 | connect 40ms | run 3ms
    partial
  stderr:
    uname: extra operand
web1   | ok | exit 0 | connect 41ms | run 2ms
    web1
cache1 | cancelled | after 1.5s
    interrupted

failed:      web2
unreachable: db1 (refused)
cancelled:   cache1
not started: mail1
interrupted: 5 hosts in 1.23s: 1 ok, 1 failed, 1 unreachable, 1 cancelled, 1 not started
`
	if got := out.String(); got != want {
		t.Errorf("terminal output:\n%s\nwant:\n%s", got, want)
	}
	if got, want := errOut.String(), "warning: no host matches \"nope\"\n"; got != want {
		t.Errorf("stderr %q, want %q", got, want)
	}
}

func TestTerminalPing(t *testing.T) {
	var out bytes.Buffer
	term := NewTerminal(&out, &out, TerminalOptions{})
	term.Emit(Event{Kind: KindPing, Host: "h1", Status: StatusOK, ConnectTime: 12 * time.Millisecond, Duration: 900 * time.Microsecond})
	term.Emit(Event{Kind: KindHostDone, Host: "h1", Status: StatusOK})
	term.Emit(Event{Kind: KindPing, Host: "h2", Status: StatusUnreachable, ErrorKind: "auth", Message: "no key accepted", Hint: "add your key"})
	term.Emit(Event{Kind: KindHostDone, Host: "h2", Status: StatusUnreachable})
	term.Emit(Event{Kind: KindRecap, Recap: &Recap{Hosts: []HostRecap{{Host: "h1", Status: StatusOK}, {Host: "h2", Status: StatusUnreachable, ErrorKind: "auth"}}, Duration: 20 * time.Millisecond}})
	want := `h1 | ok | connect 12ms | rtt 900µs
h2 | unreachable | auth
    no key accepted
  hint: add your key

unreachable: h2 (auth)
2 hosts in 20ms: 1 ok, 1 unreachable
`
	if got := out.String(); got != want {
		t.Errorf("got:\n%s\nwant:\n%s", got, want)
	}
}

func TestTerminalColour(t *testing.T) {
	for _, on := range []bool{true, false} {
		var out bytes.Buffer
		term := NewTerminal(&out, &out, TerminalOptions{Color: on})
		term.Emit(Event{Kind: KindHostDone, Host: "h", Status: StatusFailed, Message: "x"})
		if has := strings.Contains(out.String(), "\x1b["); has != on {
			t.Errorf("colour %v: escape codes present = %v in %q", on, has, out.String())
		}
	}
}

// Parallel hosts emitting at once must each come out as one unbroken block.
func TestTerminalConcurrentBlocksDoNotInterleave(t *testing.T) {
	var out bytes.Buffer
	term := NewTerminal(&out, &out, TerminalOptions{})
	var wg sync.WaitGroup
	for i := range 20 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			host := fmt.Sprintf("h%02d", i)
			for j := range 5 {
				term.Emit(Event{Kind: KindWarning, Host: host, Message: fmt.Sprintf("%s line %d", host, j)})
			}
			term.Emit(Event{Kind: KindHostDone, Host: host, Status: StatusOK})
		}()
	}
	wg.Wait()
	lines := strings.Split(strings.TrimSpace(out.String()), "\n")
	if len(lines) != 100 {
		t.Fatalf("%d lines, want 100", len(lines))
	}
	for b := 0; b < 100; b += 5 {
		host := strings.Fields(lines[b])[0]
		for j := range 5 {
			if want := fmt.Sprintf("%s line %d", host, j); !strings.HasSuffix(lines[b+j], want) {
				t.Fatalf("block of %s broken at line %d: %q", host, b+j, lines[b+j])
			}
		}
	}
}

func TestJSONShape(t *testing.T) {
	var out bytes.Buffer
	sink := NewJSON(&out, nil)
	for _, e := range adhocEvents() {
		e.Time = t0
		sink.Emit(e)
	}
	sink.Emit(Event{Time: t0, Kind: KindRecap, Recap: &Recap{Duration: time.Second, Hosts: []HostRecap{
		{Host: "web1", Status: StatusOK, Duration: 43 * time.Millisecond},
		{Host: "db1", Status: StatusUnreachable, ErrorKind: "refused"},
	}}})
	lines := strings.Split(strings.TrimSuffix(out.String(), "\n"), "\n")
	if len(lines) != len(adhocEvents())+1 {
		t.Fatalf("%d lines", len(lines))
	}
	for _, l := range lines {
		var m map[string]any
		if err := json.Unmarshal([]byte(l), &m); err != nil {
			t.Fatalf("not JSON: %q: %v", l, err)
		}
		if m["time"] != "2026-01-02T03:04:05Z" || m["kind"] == nil {
			t.Errorf("missing time/kind: %s", l)
		}
	}
	// Exact encodings of the kinds a consumer reads most.
	want := map[int]string{
		0: `{"time":"2026-01-02T03:04:05Z","kind":"run_start","task":"exec","command":"uname -n","hosts":["web1","web2","db1","cache1"]}`,
		4: `{"time":"2026-01-02T03:04:05Z","kind":"connect","host":"db1","status":"unreachable","error_kind":"refused","message":"127.0.0.1:2207: connection refused","hint":"check that sshd runs on the host"}`,
		5: `{"time":"2026-01-02T03:04:05Z","kind":"command","host":"web1","status":"ok","duration_ms":2,"connect_ms":41,"command":"uname -n","exit_code":0,"stdout":"web1\n","stderr":""}`,
		11: `{"time":"2026-01-02T03:04:05Z","kind":"recap","duration_ms":1000,"counts":{"ok":1,"changed":0,"failed":0,"unreachable":1,"skipped":0,"cancelled":0,"not_started":0},"interrupted":false,` +
			`"recap":[{"host":"web1","status":"ok","duration_ms":43},{"host":"db1","status":"unreachable","duration_ms":0,"error_kind":"refused"}]}`,
	}
	for i, w := range want {
		if lines[i] != w {
			t.Errorf("line %d:\n got %s\nwant %s", i, lines[i], w)
		}
	}
}

func TestMasking(t *testing.T) {
	const secret = `pa"ss\word`
	m := NewMasker()
	m.Add(secret)
	m.Add("")      // ignored
	m.Add(secret)  // twice is fine
	m.Add("pa\"s") // a prefix of the other: the longer one still wins
	ev := Event{Kind: KindCommand, Host: "h", Status: StatusFailed, ExitCode: Exit(1), Command: "echo " + secret,
		Stdout: "got " + secret + "\n", Stderr: "sudo: " + secret, Message: secret, Detail: map[string]string{"x": secret}}

	var term, js bytes.Buffer
	s := Multi(NewTerminal(&term, &term, TerminalOptions{Masker: m}), NewJSON(&js, m))
	s.Emit(ev)
	s.Emit(Event{Kind: KindHostDone, Host: "h", Status: StatusFailed})
	s.Emit(Event{Kind: KindWarning, Message: "w " + secret})
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	for name, out := range map[string]string{"terminal": term.String(), "json": js.String()} {
		if strings.Contains(out, "ss\\word") || strings.Contains(out, `ss\\word`) || strings.Contains(out, `pa"s`) || strings.Contains(out, `pa\"s`) {
			t.Errorf("%s output leaks the secret:\n%s", name, out)
		}
		if !strings.Contains(out, Redacted) {
			t.Errorf("%s output has no %s:\n%s", name, Redacted, out)
		}
	}
	if got := m.String("a " + secret + " b"); got != "a ******** b" {
		t.Errorf("String: %q", got)
	}
	var nilMasker *Masker
	if got := nilMasker.String("x"); got != "x" {
		t.Errorf("nil masker: %q", got)
	}
}

func TestMaskerMultiline(t *testing.T) {
	m := NewMasker()
	m.Add("line one\nline two")
	if got := m.String("x line two y"); got != "x ******** y" {
		t.Errorf("got %q", got)
	}
}

func TestRecapShowsHostDuration(t *testing.T) {
	var out bytes.Buffer
	term := NewTerminal(&out, &out, TerminalOptions{HostWidth: 4})
	term.Emit(Event{Kind: KindRecap, Recap: &Recap{PerTask: true, Duration: 3 * time.Second, Hosts: []HostRecap{
		{Host: "web1", Status: StatusChanged, Duration: 1240 * time.Millisecond, Tasks: Counts{OK: 2, Changed: 1}},
		{Host: "web2", Status: StatusOK, Tasks: Counts{OK: 3}},
	}}})
	term.Close()
	lines := strings.Split(out.String(), "\n")
	var web1, web2 string
	for _, l := range lines {
		switch {
		case strings.HasPrefix(l, "web1"):
			web1 = l
		case strings.HasPrefix(l, "web2"):
			web2 = l
		}
	}
	if !strings.HasSuffix(web1, "skipped=0  1.24s") {
		t.Errorf("web1 row = %q; want its duration at the end", web1)
	}
	if !strings.HasSuffix(web2, "skipped=0") {
		t.Errorf("web2 row = %q; a host without a duration shows none", web2)
	}
}
