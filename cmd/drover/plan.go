package main

import (
	"context"
	"errors"
	"fmt"
	"sync"

	"github.com/spf13/cobra"

	"github.com/drover-cm/drover/engine/connect"
	"github.com/drover-cm/drover/engine/report"
	"github.com/drover-cm/drover/engine/run"
	"github.com/drover-cm/drover/engine/transport"
	"github.com/drover-cm/drover/inventory"
)

// playbookSession wires a run: the inventory, host selection per play with
// --limit and overrides, one connection pool per become setting (a play
// that becomes another user needs a connection that does), and the sinks.
type playbookSession struct {
	*loaded
	*connector
	mu    sync.Mutex
	pools map[string]*connect.Pool
	sink  report.Sink
	width int
	// unmatched says which patterns matched nothing, for noHosts.
	unmatched []string
	// shardEmptied: --shard left a play with none of its hosts, so no
	// host at all is this shard's share, not a typo (see keepShard).
	shardEmptied bool
	// instances are the provision blocks' changes, which the plan's
	// summary line counts with the tasks'.
	instances report.PlanSummary
	// sel is the run's --tags/--skip-tags/--start-at/--target selection.
	sel *run.Selection
}

func openPlaybookSession(cmd *cobra.Command, f *playbookFlags, args []string) (*playbookSession, error) {
	l, err := loadPlaybook(cmd, f, args)
	if err != nil {
		return nil, err
	}
	s, err := openConnections(cmd, l)
	if err != nil {
		return nil, err
	}
	for _, h := range s.inv.Hosts() {
		s.width = max(s.width, len(h.Name))
	}
	var rec *report.Recorder
	s.sink, rec = l.ui.sinks(s.width)
	_ = rec // apply keeps its own recorder for the recap
	return s, nil
}

// openConnections reads the command line's overrides and the inventory and
// makes the connector, for a command that runs a playbook or a runbook.
func openConnections(cmd *cobra.Command, l *loaded) (*playbookSession, error) {
	ov, err := cliOverrides(cmd)
	if err != nil {
		return nil, err
	}
	if err := checkShard(); err != nil {
		return nil, err
	}
	inv, err := loadInventory(l.ui)
	if err != nil {
		return nil, err
	}
	boundForks(l.ui, len(inv.Hosts())) // fdlimit.go; plays select hosts later
	c, err := newConnector(cmd, l.ui, inv, ov)
	if err != nil {
		return nil, err
	}
	return &playbookSession{loaded: l, connector: c, pools: map[string]*connect.Pool{}, sink: report.Multi()}, nil
}

func (s *playbookSession) options() run.Options {
	return run.Options{
		Playbook:  s.pb,
		Inputs:    s.inputs,
		Hosts:     s.selectHosts,
		Fleet:     func() []*inventory.Host { return withOverrides(s.inv.Hosts(), s.ov) },
		Connect:   s.connect,
		Forks:     global.forks,
		Sink:      s.sink,
		Masker:    s.ui.masker,
		Selection: s.sel,
	}
}

// selectHosts applies a play's pattern, --limit and --shard. A play that selects no
// host is skipped with a warning (an inventory may have no db hosts yet); a
// run where no play selects any host is an error (see noHosts).
func (s *playbookSession) selectHosts(pattern string) ([]*inventory.Host, error) {
	hosts, err := s.inv.SelectLimit(pattern, global.limit)
	var um *inventory.UnmatchedError
	switch {
	case errors.As(err, &um):
		why := s.unmatchedHosts(pattern, um.Terms)
		s.mu.Lock()
		s.unmatched = append(s.unmatched, why...)
		s.mu.Unlock()
	case err != nil:
		return nil, err
	}
	hosts, emptied := keepShard(s.ui, hosts)
	if emptied {
		s.mu.Lock()
		s.shardEmptied = true
		s.mu.Unlock()
	}
	if len(hosts) == 0 && !emptied {
		what := fmt.Sprintf("pattern %q", pattern)
		if global.limit != "" {
			what += fmt.Sprintf(" with --limit %q", global.limit)
		}
		s.ui.warnf("%s selects no hosts; the play is skipped", what)
	}
	return withOverrides(hosts, s.ov), nil
}

func (s *playbookSession) connect(ctx context.Context, h *inventory.Host, become *run.Become) (transport.Conn, error) {
	t, err := s.target(h)
	if err != nil {
		return nil, err
	}
	key := ""
	// A play's become beats the inventory's, and --become beats both.
	if become != nil && s.ov.Become == nil {
		connect.SetBecome(&t, become.Enabled, become.User, s.becomePass)
		if become.Enabled {
			key = "become:" + t.Become.User
		}
	}
	s.mu.Lock()
	p := s.pools[key]
	if p == nil {
		p = connect.NewPool(s.dialer)
		s.pools[key] = p
	}
	s.mu.Unlock()
	return p.Conn(ctx, t)
}

// savedNote says where the plan was saved and how to apply it.
func (s *playbookSession) savedNote(path string, changes bool) {
	out := s.ui.stdout
	if global.jsonOut {
		out = s.ui.stderr
	}
	if !changes {
		fmt.Fprintf(out, "Saved the plan to %s: it has nothing to do.\n", path)
		return
	}
	fmt.Fprintf(out, "Saved the plan to %s. Apply exactly it with: drover apply %s\n", path, path)
}

func (s *playbookSession) close() {
	for _, p := range s.pools {
		_ = p.Close()
	}
	_ = s.dialer.Close()
	_ = s.sink.Close()
}

var (
	planFlags            playbookFlags
	planDetailedExitcode bool
	planOut              string
	planHTML             string
)

var planCmd = &cobra.Command{
	Use:   "plan -i INVENTORY PLAYBOOK...",
	Short: "Show what apply would change on each host, changing nothing",
	Long: `Evaluate the playbook for every host its plays select, read the current state
of all tasks on each host in one round trip, and print what apply would do:
+ create, ~ update (with a diff), - delete, > run. Nothing is changed on any
host. Tasks whose settings depend on what an earlier task outputs are shown as
"(known after apply)". Sensitive values are masked.

With -out FILE (or --out), the plan is also saved: the changes per host, the
digest of the state each was computed from, and the digests of every file and
variable it was made from. drover apply FILE applies exactly that plan, and
refuses a host whose state moved since (see docs/cli.md, "Saved plans").

Exit status: 0 on success (with --detailed-exitcode: 0 no changes, 2 changes),
1 on errors.`,
	Example: `  drover plan -i hosts.hcl site.hcl
  drover plan -i hosts.hcl site.hcl --var app_port=9090 --detailed-exitcode
  drover plan -i hosts.hcl site.hcl --tags deploy --skip-tags slow
  drover plan -i hosts.hcl site.hcl --target template.site
  drover plan -i hosts.hcl site.hcl -out site.plan && drover apply site.plan`,
	Args: cobra.MinimumNArgs(1),
	RunE: runPlan,
}

func init() {
	planFlags.register(planCmd)
	planSelect.register(planCmd)
	planCmd.Flags().BoolVar(&planDetailedExitcode, "detailed-exitcode", false, "exit 0 when there are no changes, 2 when there are, 1 on errors")
	planCmd.Flags().StringVar(&planOut, "out", "", "save the plan to this file (also -out FILE) for drover apply FILE")
	registerHTMLFlag(planCmd, &planHTML)
	rootCmd.AddCommand(planCmd)
}

func runPlan(cmd *cobra.Command, args []string) error {
	var rec *planRecorder
	if planOut != "" {
		var err error
		if rec, err = startPlanRecord(planOut); err != nil {
			return err
		}
	}
	s, err := openPlaybookSession(cmd, &planFlags, args)
	if err != nil {
		return err
	}
	if err := planSelect.apply(s); err != nil {
		s.close()
		return err
	}
	if rec != nil {
		if err := refuseUnsaveable(s.loaded); err != nil {
			s.close()
			return err
		}
	}
	page := s.startHTML(planHTML)
	s.stampRunInfo(args)
	ctx, stop := signalContext(cmd.Context(), s.ui.errWriter())
	defer stop()
	pending, err := s.provision(ctx, false)
	if err != nil {
		s.close()
		return err
	}
	opts := s.options()
	if rec != nil {
		opts.Saved = &run.Saved{Digest: rec.d}
	}
	opts.Instances = s.instances
	res, runErr := run.Plan(ctx, opts)
	s.close()
	if !global.jsonOut {
		fmt.Fprintln(s.ui.stdout, "\n"+res.Summary.Line())
	}
	if err := page.write(s, args, res.Summary.Line()); err != nil {
		return err
	}
	if err := s.report(res.Diagnostics); err != nil {
		return err
	}
	if rec != nil && runErr == nil && !res.Failed() && !interrupted(ctx) && len(res.Hosts) > 0 {
		if err := rec.write(s.loaded, res); err != nil {
			return &exitCodeError{code: exitError, err: err}
		}
		s.savedNote(rec.path, res.Summary.Changed() || res.Summary.Deferred > 0)
	} else if rec != nil {
		s.ui.warnf("no plan file written: the plan did not complete on every host; fix what failed (or leave hosts out with --limit) and plan again")
	}
	switch {
	case interrupted(ctx):
		return &exitCodeError{code: exitInterrupted}
	case runErr != nil:
		return &exitCodeError{code: exitError, err: runErr}
	case len(res.Hosts) == 0 && !pending && !s.shardEmptied: // hosts yet to be created select nothing yet
		return noHosts(s.unmatched)
	case res.Failed():
		return &exitCodeError{code: exitError}
	case planDetailedExitcode && (res.Summary.Changed() || pending):
		return &exitCodeError{code: exitChanges}
	}
	return nil
}
