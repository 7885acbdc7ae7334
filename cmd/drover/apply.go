package main

import (
	"context"
	"fmt"
	"os"
	"os/signal"
	"syscall"

	"github.com/spf13/cobra"

	"github.com/drover-cm/drover/engine/remote"
	"github.com/drover-cm/drover/engine/run"
)

var (
	applyFlags    playbookFlags
	applyFailFast bool
	applyReplan   bool
	applyHTML     string
)

var applyCmd = &cobra.Command{
	Use:   "apply -i INVENTORY PLAYBOOK...",
	Short: "Bring every selected host to the state the playbook describes",
	Long: `Evaluate the playbook for every host, read the state of all tasks in one round
trip per host, then apply the changes task by task in dependency order, on all
hosts in parallel. A task is re-read just before it acts when an earlier task
has changed something on the host, so it never acts on stale state.

A failed task stops its host (the rest of its tasks are skipped); other hosts
carry on, unless --fail-fast. Handlers notified by a changed task run once at
the end of the play. The recap shows per host how many tasks were ok, changed,
failed and skipped.

drover apply FILE applies a plan saved by drover plan -out FILE, exactly: the
inventory, playbook, limit, variables and connection settings are the plan's
(giving them again is refused). A changed playbook, inventory or local file
refuses the whole plan; a host whose state moved since the plan is refused
with what moved (--replan plans it again instead); a plan is applied once.

Ctrl-C once: no new task starts, running ones finish. Twice: running tasks are
cut. Exit status: 0 when every host succeeded, 1 otherwise, 130 when
interrupted.`,
	Example: `  drover apply -i hosts.hcl site.hcl
  drover apply -i hosts.hcl site.hcl --limit web-1 --var-file prod.hcl
  drover apply -i hosts.hcl site.hcl --tags deploy --start-at service.app
  drover apply site.plan`,
	Args: cobra.MinimumNArgs(1),
	RunE: runApply,
}

func init() {
	applyFlags.register(applyCmd)
	applySelect.register(applyCmd)
	registerLockFlag(applyCmd)
	applyCmd.Flags().BoolVar(&applyFailFast, "fail-fast", false, "after the first failure on any host, start no new task anywhere")
	applyCmd.Flags().BoolVar(&applyReplan, "replan", false, "with a plan file: plan a host whose state moved since the plan again, instead of refusing it")
	registerHTMLFlag(applyCmd, &applyHTML)
	rootCmd.AddCommand(applyCmd)
}

func runApply(cmd *cobra.Command, args []string) error {
	var saved *savedApply
	if isPlanFile(args[0]) {
		var err error
		if saved, err = openSavedPlan(cmd, args); saved == nil {
			return err // an error, or nothing to do
		}
		args = saved.plan.Command.Playbooks
	} else if applyReplan {
		return usageErrorf("--replan is for applying a plan file: drover apply FILE --replan")
	}
	s, err := openPlaybookSession(cmd, &applyFlags, args)
	if err != nil {
		return err
	}
	if saved != nil && applySelect.set() {
		s.close()
		return usageErrorf("apply PLANFILE applies the whole saved plan; --tags, --skip-tags, --start-at and --target cannot narrow it")
	}
	if err := applySelect.apply(s); err != nil {
		s.close()
		return err
	}
	if saved != nil {
		if err := saved.verify(s.loaded); err != nil {
			s.close()
			return err
		}
	}
	page := s.startHTML(applyHTML)
	s.stampRunInfo(args)
	// First signal: stop starting tasks. Second: cut the running ones.
	// Third: the default action (exit at once).
	ctx, cancel := context.WithCancel(cmd.Context())
	defer cancel()
	stopCh := make(chan struct{})
	sigs := make(chan os.Signal, 2)
	signal.Notify(sigs, os.Interrupt, syscall.SIGTERM)
	defer signal.Stop(sigs)
	go func() {
		select {
		case sig := <-sigs:
			fmt.Fprintf(s.ui.errWriter(), "\ndrover: %v: no new task starts; running tasks finish. Press Ctrl-C again to cut them.\n", sig)
			close(stopCh)
		case <-ctx.Done():
			return
		}
		select {
		case <-sigs:
			signal.Stop(sigs)
			fmt.Fprintln(s.ui.errWriter(), "\ndrover: cutting running tasks.")
			cancel()
		case <-ctx.Done():
		}
	}()
	if _, err := s.provision(ctx, true); err != nil {
		s.close()
		return err
	}
	opts := s.options()
	if saved != nil {
		if err := saved.markApplied(); err != nil {
			s.close()
			return err
		}
		opts.Saved = saved.options(applyReplan)
		saved.announce(s.ui)
	}
	opts.Stop = stopCh
	opts.FailFast = applyFailFast
	opts.Lock = &run.RunLock{Holder: lockHolder(args[0]), Wait: lockTimeout}
	ctx = remote.WithJournal(ctx, remote.NewJournal(run.JournalMeta(opts, versionString())))
	res, runErr := run.Apply(ctx, opts)
	s.close()
	if err := page.write(s, args, ""); err != nil {
		return err
	}
	if err := s.report(res.Diagnostics); err != nil {
		return err
	}
	switch {
	case runErr != nil:
		return &exitCodeError{code: exitError, err: runErr}
	case res.Recap != nil && res.Recap.Interrupted:
		return &exitCodeError{code: exitInterrupted}
	case res.Recap != nil && len(res.Recap.Hosts) == 0 && !s.shardEmptied:
		return noHosts(s.unmatched)
	case res.Recap == nil || !res.Recap.OK():
		return &exitCodeError{code: exitError}
	}
	return nil
}
