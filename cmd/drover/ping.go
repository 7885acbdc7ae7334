package main

import (
	"context"
	"time"

	"github.com/spf13/cobra"

	"github.com/drover-cm/drover/engine/report"
	"github.com/drover-cm/drover/engine/transport"
	"github.com/drover-cm/drover/inventory"
)

var pingCmd = &cobra.Command{
	Use:   "ping -i FILE [PATTERN]",
	Short: "Check that drover can reach and log in to every selected host",
	Long: `Connect to every host PATTERN selects (default: all), in parallel, and run
` + "`true`" + ` there. For each host it prints the time to connect and authenticate
(through any ProxyJump hops) and the round-trip time of one command on the open
connection. With --become the command runs through sudo, which checks the
privilege escalation too.

Exit status: 0 if every host answered, 1 otherwise, 130 when interrupted.`,
	Example: `  drover ping -i hosts.hcl
  drover ping -i hosts.hcl web --become -K`,
	Args: func(cmd *cobra.Command, args []string) error {
		if len(args) > 1 {
			return usageErrorf("ping: expected at most one host pattern, got %d arguments (quote a pattern with spaces)", len(args))
		}
		return nil
	},
	RunE: runPing,
}

func init() { rootCmd.AddCommand(pingCmd) }

func runPing(cmd *cobra.Command, args []string) error {
	pattern := "all"
	if len(args) == 1 {
		pattern = args[0]
	}
	s, err := openSession(cmd, pattern, "ping", "true")
	if err != nil {
		return err
	}
	s.run(func(ctx context.Context, h *inventory.Host, t transport.Target) error {
		pingHost(ctx, s, t)
		return nil
	})
	return s.finish()
}

func pingHost(ctx context.Context, s *session, t transport.Target) {
	start := time.Now()
	conn, connectTime := s.connectHost(ctx, t)
	if conn == nil {
		return
	}
	ev := runCommand(ctx, conn, "true", 0)
	ev.Kind, ev.Host, ev.Task, ev.ConnectTime = report.KindPing, t.Name, "ping", connectTime
	if ev.Status == report.StatusFailed && ev.ExitCode != nil {
		ev.Message = "`true` exited non-zero: the login shell or sudo is failing"
		if ev.Stderr != "" {
			ev.Message += ": " + ev.Stderr
		}
	}
	s.emit.Emit(ev)
	s.emit.Emit(report.Event{Kind: report.KindHostDone, Host: t.Name, Status: ev.Status,
		Duration: time.Since(start), ErrorKind: ev.ErrorKind, Message: ev.Message})
}
