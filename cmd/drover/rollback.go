package main

import (
	"context"
	"time"

	"github.com/spf13/cobra"

	"github.com/drover-cm/drover/engine/report"
	"github.com/drover-cm/drover/engine/runlock"
	"github.com/drover-cm/drover/engine/transport"
	"github.com/drover-cm/drover/inventory"
)

var rollbackOpts struct {
	to string
}

var rollbackCmd = &cobra.Command{
	Use:   "rollback -i FILE PATTERN APP [--to ID]",
	Short: "Switch an application back to an earlier release on every selected host",
	Long: `Switch APP's current link back, on every host PATTERN selects, to the newest
ready release older than the current one, or to --to ID. The switch is atomic
(a new link renamed over current), then the switch action and the health check
that the last deploy recorded on the host run; if the health check fails, current
is switched forward again and the host is reported failed.

APP is the release task's name or the application's absolute path; see
"drover releases" for the release ids. Exit status: 0 if every host is on the
wanted release and healthy, 1 otherwise.`,
	Example: `  drover rollback -i hosts.hcl web app
  drover rollback -i hosts.hcl web app --to 20261122T101500.123Z-3f2a9c1b7d4e`,
	Args: cobra.ExactArgs(2),
	RunE: runRollback,
}

func init() {
	rollbackCmd.Flags().StringVar(&rollbackOpts.to, "to", "", "release id to switch to (default: the one before the current)")
	registerLockFlag(rollbackCmd)
	rootCmd.AddCommand(rollbackCmd)
}

func runRollback(cmd *cobra.Command, args []string) error {
	pattern, app := args[0], args[1]
	admin, err := releaseAdmin()
	if err != nil {
		return err
	}
	s, err := openSession(cmd, pattern, "rollback", app)
	if err != nil {
		return err
	}
	s.run(func(ctx context.Context, h *inventory.Host, t transport.Target) error {
		start := time.Now()
		conn, connectTime := s.connectHost(ctx, t)
		if conn == nil {
			return nil
		}
		ev := report.Event{Kind: report.KindCommand, Host: t.Name, Task: "rollback", Command: "rollback " + app, ConnectTime: connectTime}
		lock, err := runlock.Start(ctx, conn, lockHolder("rollback "+app), lockTimeout).Wait()
		if err != nil {
			st := report.StatusFailed
			if runlock.IsBusy(err) {
				st = report.StatusLocked
			}
			s.emit.Emit(report.Event{Kind: report.KindHostDone, Host: t.Name, Status: st, Duration: time.Since(start), Message: err.Error()})
			return nil
		}
		defer lock.Release()
		// A failed health check that switched back is a failure on a
		// reachable host, like any other error that is not the connection's.
		from, to, err := admin.Rollback(ctx, conn, app, rollbackOpts.to)
		switch {
		case err != nil:
			ev.Status, ev.Message = report.StatusFailed, err.Error()
			if transport.Unreachable(err) {
				ev.Status = report.StatusUnreachable
			}
		case from == to:
			ev.Status, ev.Stdout = report.StatusOK, "already on "+to+"\n"
		default:
			ev.Status, ev.Stdout = report.StatusChanged, "current: "+from+" -> "+to+"\n"
		}
		ev.Duration = time.Since(start)
		s.emit.Emit(ev)
		s.emit.Emit(report.Event{Kind: report.KindHostDone, Host: t.Name, Status: ev.Status, Duration: time.Since(start), Message: ev.Message})
		return nil
	})
	return s.finish()
}
