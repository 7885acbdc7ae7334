package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"strings"
	"testing"
	"time"

	"github.com/spf13/cobra"

	"github.com/drover-cm/drover/engine/report"
	"github.com/drover-cm/drover/engine/transport"
)

func TestExitCode(t *testing.T) {
	tests := []struct {
		name string
		err  error
		want int
	}{
		{"success", nil, exitOK},
		{"host failed", &exitCodeError{code: exitError}, exitError},
		{"interrupted", &exitCodeError{code: exitInterrupted}, 130},
		{"usage", usageErrorf("bad"), exitUsage},
		{"wrapped usage", fmt.Errorf("x: %w", usageErrorf("bad")), exitUsage},
		{"cobra unknown command", errors.New(`unknown command "x" for "drover"`), exitUsage},
		{"cobra arg count", errors.New("accepts at most 1 arg(s), received 2"), exitUsage},
		{"plain error", errors.New("cannot write"), exitError},
	}
	for _, tt := range tests {
		if got := exitCode(tt.err); got != tt.want {
			t.Errorf("%s: exitCode = %d, want %d", tt.name, got, tt.want)
		}
	}
	if msg := errorMessage(&exitCodeError{code: exitError}); msg != "" {
		t.Errorf("an already reported error prints %q", msg)
	}
	if msg := errorMessage(usageErrorf("no %s", "pattern")); msg != "no pattern" {
		t.Errorf("usage error prints %q", msg)
	}
}

func TestFlagErrorIsUsage(t *testing.T) {
	rootCmd.SetArgs([]string{"ping", "--no-such-flag"})
	rootCmd.SetOut(io.Discard)
	rootCmd.SetErr(io.Discard)
	defer rootCmd.SetArgs(nil)
	if got := exitCode(rootCmd.Execute()); got != exitUsage {
		t.Errorf("exit %d, want %d", got, exitUsage)
	}
}

func TestUseColor(t *testing.T) {
	tests := []struct {
		flag bool
		env  string
		tty  bool
		want bool
	}{
		{false, "", true, true},
		{true, "", true, false},
		{false, "1", true, false},
		{false, "", false, false},
	}
	for _, tt := range tests {
		if got := useColor(tt.flag, tt.env, tt.tty); got != tt.want {
			t.Errorf("useColor(%v, %q, %v) = %v", tt.flag, tt.env, tt.tty, got)
		}
	}
}

func TestExecArgs(t *testing.T) {
	tests := []struct {
		args    []string
		dash    int // position of "--" among args, -1 for none
		pattern string
		command string
		usage   bool
	}{
		{[]string{"web", "uname", "-a"}, 1, "web", "uname -a", false},
		{[]string{"web", "echo", "a b", "|", "wc"}, 1, "web", "echo a b | wc", false},
		{[]string{"web", "uptime"}, -1, "web", "uptime", false},
		{[]string{"web"}, 1, "", "", true},
		{[]string{"web"}, -1, "", "", true},
		{[]string{"uptime"}, 0, "", "", true},
		{[]string{"a", "b", "uptime"}, 2, "", "", true},
		{nil, -1, "", "", true},
	}
	for _, tt := range tests {
		cmd := &cobra.Command{Use: "exec", Run: func(*cobra.Command, []string) {}}
		full := append([]string{}, tt.args...)
		if tt.dash >= 0 {
			full = append(append(append([]string{}, tt.args[:tt.dash]...), "--"), tt.args[tt.dash:]...)
		}
		if err := cmd.ParseFlags(full); err != nil {
			t.Fatal(err)
		}
		p, c, err := execArgs(cmd, cmd.Flags().Args())
		if tt.usage {
			if exitCode(err) != exitUsage {
				t.Errorf("%q: err %v, want a usage error", full, err)
			}
			continue
		}
		if err != nil || p != tt.pattern || c != tt.command {
			t.Errorf("%q: got (%q, %q, %v), want (%q, %q)", full, p, c, err, tt.pattern, tt.command)
		}
	}
}

// scriptedConn answers Run with a fixed result, or blocks until ctx ends.
type scriptedConn struct {
	transport.Conn
	res   transport.Result
	err   error
	block bool
}

func (c *scriptedConn) Run(ctx context.Context, _ transport.Cmd) (transport.Result, error) {
	if c.block {
		<-ctx.Done()
		return transport.Result{}, fmt.Errorf("command cut: %w", ctx.Err())
	}
	return c.res, c.err
}

func TestRunCommandOutcomes(t *testing.T) {
	lost := &transport.Error{Kind: transport.ErrConnLost, Host: "h", Addr: "127.0.0.1:22", Err: errors.New("EOF"), Hint: "check the host"}
	becomeErr := &transport.Error{Kind: transport.ErrBecome, Host: "h", Err: errors.New("sudo: incorrect password")}
	tests := []struct {
		name    string
		conn    *scriptedConn
		timeout time.Duration
		status  report.Status
		kind    string
		exit    int // -1: no exit code
	}{
		{"ok", &scriptedConn{res: transport.Result{Stdout: []byte("hi\n")}}, 0, report.StatusOK, "", 0},
		{"non-zero", &scriptedConn{res: transport.Result{ExitCode: 3}}, 0, report.StatusFailed, "", 3},
		{"signal", &scriptedConn{res: transport.Result{ExitCode: -1, Signal: "KILL"}}, 0, report.StatusFailed, "", -1},
		{"timeout", &scriptedConn{block: true}, 20 * time.Millisecond, report.StatusFailed, "timeout", -1},
		{"connection lost", &scriptedConn{err: lost}, 0, report.StatusUnreachable, "connection-lost", -1},
		{"become refused", &scriptedConn{err: becomeErr}, 0, report.StatusFailed, "become", -1},
	}
	for _, tt := range tests {
		ev := runCommand(context.Background(), tt.conn, "cmd", tt.timeout)
		if ev.Status != tt.status || ev.ErrorKind != tt.kind {
			t.Errorf("%s: status %s kind %q, want %s %q (%+v)", tt.name, ev.Status, ev.ErrorKind, tt.status, tt.kind, ev)
		}
		if (ev.ExitCode == nil) != (tt.exit == -1) || ev.ExitCode != nil && *ev.ExitCode != tt.exit {
			t.Errorf("%s: exit code %v, want %d", tt.name, ev.ExitCode, tt.exit)
		}
	}
	// The connection-lost message names the address once and keeps the hint.
	ev := runCommand(context.Background(), &scriptedConn{err: lost}, "cmd", 0)
	if ev.Message != "127.0.0.1:22: EOF" || ev.Hint != "check the host" {
		t.Errorf("message %q hint %q", ev.Message, ev.Hint)
	}
}

func TestRunCommandInterrupted(t *testing.T) {
	ctx, cancel := context.WithCancelCause(context.Background())
	go func() {
		time.Sleep(10 * time.Millisecond)
		cancel(errInterrupted)
	}()
	ev := runCommand(ctx, &scriptedConn{block: true}, "sleep 100", time.Minute)
	if ev.Status != report.StatusCancelled || !strings.Contains(ev.Message, "interrupted") {
		t.Errorf("got %s %q, want cancelled", ev.Status, ev.Message)
	}
}

// stuckConn ignores cancellation, like a transport that waits for the
// remote command to finish.
type stuckConn struct {
	transport.Conn
	release chan struct{}
}

func (c *stuckConn) Run(ctx context.Context, _ transport.Cmd) (transport.Result, error) {
	<-c.release
	return transport.Result{}, nil
}

func TestRunCommandTimeoutWithStuckTransport(t *testing.T) {
	defer func(g time.Duration) { runGrace = g }(runGrace)
	runGrace = 50 * time.Millisecond
	c := &stuckConn{release: make(chan struct{})}
	defer close(c.release)
	start := time.Now()
	ev := runCommand(context.Background(), c, "sleep 100", 20*time.Millisecond)
	if el := time.Since(start); el > time.Second {
		t.Errorf("runCommand waited %v for a stuck transport", el)
	}
	if ev.Status != report.StatusFailed || ev.ErrorKind != "timeout" {
		t.Errorf("got %s %q", ev.Status, ev.ErrorKind)
	}
}
