package main

import (
	"context"
	"fmt"
	"strings"
	"sync"
	"time"

	"github.com/spf13/cobra"

	"github.com/drover-cm/drover/engine/report"
	"github.com/drover-cm/drover/engine/runlock"
	"github.com/drover-cm/drover/engine/transport"
	"github.com/drover-cm/drover/inventory"
	"github.com/drover-cm/drover/modules"
	"github.com/drover-cm/drover/modules/undo"
)

var historyCmd = &cobra.Command{
	Use:   "history -i FILE [PATTERN]",
	Short: "List the runs each selected host journaled, newest first",
	Long: `List, per host, the runs whose changes the host's journal records
(/var/lib/drover/journal, kept by every apply as root): the run id, when it
started, who ran it from where, the playbook, and how many changes it made.
An undo is a run too, marked "undo of RUN". The journal keeps the last 20 runs.
PATTERN defaults to all hosts. Exit status: 0 if every host answered, 1
otherwise. See docs/undo.md.`,
	Example: `  drover history -i hosts.hcl web-1
  drover history -i hosts.hcl --json`,
	Args: cobra.MaximumNArgs(1),
	RunE: runHistory,
}

var undoOpts struct {
	yes         bool
	skipRefused bool
}

var undoCmd = &cobra.Command{
	Use:   "undo -i FILE PATTERN [RUN] [--yes]",
	Short: "Reverse the last (or a named) run on every selected host, from its journal",
	Long: `Read RUN (default: the newest run that is not itself an undo) from each
selected host's journal and plan its reversal, shown as drover plan shows
changes; with --yes, apply it: each change is reversed, last first, through the
same atomic steps as an apply, and the undo is journaled as a run of its own
(so it can be undone too).

A change that cannot be reversed exactly is refused, with the reason: the path
changed since the run (its checksum is not what the run left), its previous
content was not journaled (larger than 64 MiB, or a file with other names), a
directory removed with its content, a package whose removal would remove
others (the package manager's dry run says so). A refusal fails the host and nothing is
undone there, unless --skip-refused. Previous contents are never shown.

Exit status: 0 if every host is planned (or undone) without refusal, 1
otherwise. See docs/undo.md.`,
	Example: `  drover undo -i hosts.hcl web-1
  drover undo -i hosts.hcl web-1 --yes
  drover undo -i hosts.hcl web 20261202T043800.123Z-3f2a9c1b --yes`,
	Args: cobra.RangeArgs(1, 2),
	RunE: runUndo,
}

func init() {
	undoCmd.Flags().BoolVar(&undoOpts.yes, "yes", false, "apply the reversal (without it, undo only shows the plan)")
	undoCmd.Flags().BoolVar(&undoOpts.skipRefused, "skip-refused", false, "undo what can be undone on a host even when some changes are refused")
	registerLockFlag(undoCmd)
	rootCmd.AddCommand(historyCmd, undoCmd)
}

func runHistory(cmd *cobra.Command, args []string) error {
	pattern := "all"
	if len(args) > 0 {
		pattern = args[0]
	}
	s, err := openSession(cmd, pattern, "history", "history")
	if err != nil {
		return err
	}
	s.readEach("history", "history", func(ctx context.Context, conn transport.Conn) (string, any, error) {
		runs, err := undo.History(ctx, conn)
		if err != nil {
			return "", nil, err
		}
		return formatHistory(runs), runs, nil
	})
	return s.finish()
}

// formatHistory is the human listing of one host's journaled runs.
func formatHistory(runs []modules.JournalRun) string {
	if len(runs) == 0 {
		return "no journaled runs\n"
	}
	var b strings.Builder
	fmt.Fprintf(&b, "%-30s  %-20s  %-7s  %s\n", "RUN", "TIME", "CHANGES", "BY / PLAYBOOK")
	for _, r := range runs {
		what := r.Meta["playbook"]
		if u := r.Meta["undo"]; u != "" {
			what = "undo of " + u
		}
		fmt.Fprintf(&b, "%-30s  %-20s  %-7d  %s  %s\n", r.ID, r.Meta["time"], r.Count, r.Meta["operator"], what)
	}
	return b.String()
}

func runUndo(cmd *cobra.Command, args []string) error {
	pattern, run := args[0], ""
	if len(args) > 1 {
		run = args[1]
		if !modules.JournalRunID.MatchString(run) {
			return usageErrorf("%q is not a run id (like 20261202T043800.123Z-3f2a9c1b; see drover history)", run)
		}
	}
	s, err := openSession(cmd, pattern, "undo", "undo "+run)
	if err != nil {
		return err
	}
	var mu sync.Mutex
	var sum report.PlanSummary
	pending := 0 // hosts with changes not applied (no --yes)
	holder := lockHolder("undo " + run)
	meta := map[string]string{"operator": holder.User + "@" + holder.Controller, "version": versionString()}
	s.run(func(ctx context.Context, h *inventory.Host, t transport.Target) error {
		start := time.Now()
		done := func(st report.Status, msg string) {
			s.emit.Emit(report.Event{Kind: report.KindHostDone, Host: t.Name, Status: st, Duration: time.Since(start), Message: msg})
		}
		conn, _ := s.connectHost(ctx, t)
		if conn == nil {
			return nil
		}
		if undoOpts.yes {
			lock, err := runlock.Start(ctx, conn, holder, lockTimeout).Wait()
			if err != nil {
				st := report.StatusFailed
				if runlock.IsBusy(err) {
					st = report.StatusLocked
				}
				done(st, err.Error())
				return nil
			}
			defer lock.Release()
		}
		u, err := undo.Plan(ctx, conn, run)
		if err != nil {
			st := report.StatusFailed
			if transport.Unreachable(err) {
				st = report.StatusUnreachable
			}
			done(st, err.Error())
			return nil
		}
		hp := u.HostPlan()
		s.emit.Emit(report.Event{Kind: report.KindPlan, Host: t.Name, Detail: hp})
		mu.Lock()
		sum.Add(hp)
		if !undoOpts.yes && u.Changed() {
			pending++
		}
		mu.Unlock()
		refused := len(u.Refused())
		switch {
		case refused > 0 && !undoOpts.skipRefused:
			done(report.StatusFailed, fmt.Sprintf("%d of the run's changes cannot be undone exactly (listed above); nothing was undone (--skip-refused undoes the rest)", refused))
			return nil
		case !u.Changed():
			done(report.StatusOK, "nothing to undo: the host is as it was before run "+u.Run.ID)
			return nil
		case !undoOpts.yes:
			done(report.StatusOK, "not applied: run drover undo again with --yes to undo run "+u.Run.ID)
			return nil
		}
		res, err := u.Apply(ctx, conn, meta)
		ev := report.Event{Kind: report.KindCommand, Host: t.Name, Task: "undo", Command: "undo " + u.Run.ID, Duration: time.Since(start)}
		ev.Status, ev.Stdout = report.StatusChanged, fmt.Sprintf("undid %d changes of run %s (journaled as run %s)\n", res.Undone, u.Run.ID, res.Journal)
		if refused > 0 {
			ev.Stdout += fmt.Sprintf("%d refused changes were left\n", refused)
		}
		switch {
		case err != nil:
			ev.Status, ev.Message = report.StatusFailed, err.Error()
			if transport.Unreachable(err) {
				ev.Status = report.StatusUnreachable
			}
		case res.Failed != "":
			ev.Status, ev.Message = report.StatusFailed, res.Failed
		}
		s.emit.Emit(ev)
		done(ev.Status, ev.Message)
		return nil
	})
	err = s.finish()
	if !global.jsonOut {
		line := sum.Line()
		if pending > 0 {
			line += " Not applied: run the same drover undo with --yes to undo it."
		}
		fmt.Fprintln(s.ui.stdout, "\n"+line)
	}
	return err
}
