package main

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/spf13/cobra"

	"github.com/drover-cm/drover/engine/report"
	"github.com/drover-cm/drover/engine/transport"
	"github.com/drover-cm/drover/inventory"
)

var execOpts struct {
	timeout string
}

var execCmd = &cobra.Command{
	Use:   "exec -i FILE PATTERN -- COMMAND...",
	Short: "Run a shell command on every selected host, in parallel",
	Long: `Run a shell command on every host PATTERN selects, all in parallel (see --forks).

The words after -- are joined with spaces into one POSIX sh command line, as you
typed them (like ansible -a): pipes, redirections and variables work, and are
expanded on the host. Quote for your local shell as usual.

Each host's output is printed as one block when the host finishes. A host fails
when the command exits non-zero; a host that cannot be reached is reported with
the reason and a hint. Exit status: 0 if every host succeeded, 1 otherwise, 130
when interrupted.`,
	Example: `  drover exec -i hosts.hcl web -- uptime
  drover exec -i hosts.hcl 'web:!web3' --become -- systemctl restart nginx
  drover exec -i hosts.hcl all -- 'df -h / | tail -1'`,
	Args: func(cmd *cobra.Command, args []string) error {
		if _, _, err := execArgs(cmd, args); err != nil {
			return err
		}
		return nil
	},
	RunE: runExec,
}

func init() {
	execCmd.Flags().StringVar(&execOpts.timeout, "timeout", "", "time allowed for the command on each host (default: no limit)")
	rootCmd.AddCommand(execCmd)
}

// execArgs splits the arguments into the host pattern and the command line.
func execArgs(cmd *cobra.Command, args []string) (pattern, command string, err error) {
	dash := cmd.ArgsLenAtDash()
	var words []string
	switch {
	case dash == -1 && len(args) >= 2:
		// No "--": the command had no flags of its own, so cobra let it
		// through as plain arguments.
		pattern, words = args[0], args[1:]
	case dash == 1:
		pattern, words = args[0], args[1:]
	case dash == 0 || len(args) == 0:
		return "", "", usageErrorf("exec: missing host pattern: drover exec -i FILE PATTERN -- COMMAND")
	case dash > 1:
		return "", "", usageErrorf("exec: expected one host pattern before --, got %q", args[:dash])
	}
	command = strings.TrimSpace(strings.Join(words, " "))
	if command == "" {
		return "", "", usageErrorf("exec: missing command: drover exec -i FILE PATTERN -- COMMAND")
	}
	return pattern, command, nil
}

func runExec(cmd *cobra.Command, args []string) error {
	pattern, command, err := execArgs(cmd, args)
	if err != nil {
		return err
	}
	timeout, err := parseDurationFlag("timeout", execOpts.timeout)
	if err != nil {
		return err
	}
	s, err := openSession(cmd, pattern, "exec", command)
	if err != nil {
		return err
	}
	s.run(func(ctx context.Context, h *inventory.Host, t transport.Target) error {
		execHost(ctx, s, t, command, timeout)
		return nil
	})
	return s.finish()
}

// execHost runs command on one host and emits its command and host_done
// events.
func execHost(ctx context.Context, s *session, t transport.Target, command string, timeout time.Duration) {
	start := time.Now()
	conn, connectTime := s.connectHost(ctx, t)
	if conn == nil {
		return
	}
	ev := runCommand(ctx, conn, command, timeout)
	ev.Kind, ev.Host, ev.Task, ev.ConnectTime = report.KindCommand, t.Name, "exec", connectTime
	s.emit.Emit(ev)
	s.emit.Emit(report.Event{Kind: report.KindHostDone, Host: t.Name, Status: ev.Status,
		Duration: time.Since(start), ErrorKind: ev.ErrorKind, Message: ev.Message})
}

// runCommand runs command on conn within timeout (0: none) and describes the
// outcome as an event (without kind and host).
func runCommand(ctx context.Context, conn transport.Conn, command string, timeout time.Duration) report.Event {
	rctx := ctx
	if timeout > 0 {
		var cancel context.CancelFunc
		rctx, cancel = context.WithTimeout(ctx, timeout)
		defer cancel()
	}
	start := time.Now()
	res, err := runBounded(rctx, conn, transport.Cmd{Command: command})
	ev := report.Event{Command: command, Duration: time.Since(start),
		Stdout: string(res.Stdout), Stderr: string(res.Stderr), Signal: res.Signal}
	switch {
	case err != nil && ctx.Err() == nil && errors.Is(rctx.Err(), context.DeadlineExceeded):
		ev.Status, ev.ErrorKind = report.StatusFailed, "timeout"
		ev.Message = fmt.Sprintf("the command did not finish within --timeout %s and was stopped", timeout)
		if errors.Is(err, errStillRunning) {
			ev.Message = fmt.Sprintf("the command did not finish within --timeout %s; drover stopped waiting, but it may still be running on the host", timeout)
		}
		ev.Hint = "raise --timeout, or run the command in the background on the host"
	case err != nil:
		ev.Status, ev.ErrorKind, ev.Message, ev.Hint = describeError(ctx, err)
	case res.Signal != "":
		ev.Status = report.StatusFailed
		ev.Message = "killed by signal " + res.Signal
	default:
		ev.ExitCode = report.Exit(res.ExitCode)
		ev.Status = report.StatusOK
		if res.ExitCode != 0 {
			ev.Status = report.StatusFailed
		}
	}
	return ev
}

// errStillRunning: drover gave up waiting for a cancelled command.
var errStillRunning = errors.New("the command did not stop when cancelled; it may still be running on the host")

// runGrace is how long a cancelled or timed-out command gets to report
// before drover stops waiting for it.
var runGrace = 2 * time.Second

// runBounded is conn.Run, except that once ctx ends it waits at most
// runGrace for Run to return: a transport that cannot stop the remote
// command at once must not hold up a timeout or Ctrl-C. The command's
// connection is closed at the end of the run regardless.
func runBounded(ctx context.Context, conn transport.Conn, cmd transport.Cmd) (transport.Result, error) {
	type outcome struct {
		res transport.Result
		err error
	}
	done := make(chan outcome, 1)
	go func() {
		res, err := conn.Run(ctx, cmd)
		done <- outcome{res, err}
	}()
	select {
	case o := <-done:
		return o.res, o.err
	case <-ctx.Done():
	}
	select {
	case o := <-done:
		return o.res, o.err
	case <-time.After(runGrace):
		return transport.Result{ExitCode: -1}, fmt.Errorf("%w (%w)", errStillRunning, ctx.Err())
	}
}
