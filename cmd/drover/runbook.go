package main

import (
	"bytes"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"sync"

	"github.com/hashicorp/hcl/v2"
	"github.com/hashicorp/hcl/v2/hclparse"
	"github.com/spf13/cobra"

	"github.com/drover-cm/drover/engine/config"
	"github.com/drover-cm/drover/engine/report"
	"github.com/drover-cm/drover/engine/run"
	"github.com/drover-cm/drover/inventory"
	"github.com/drover-cm/drover/modules"
)

var runbookFlags struct {
	playbookFlags
	html string
	full bool
	// requireEnforced refuses probes that would run as root unenforced.
	requireEnforced bool
	runbook         string
	failOn          string
	validate        bool
}

var runbookCmd = &cobra.Command{
	Use:   "run -i INVENTORY RUNBOOK [PATTERN]",
	Short: "Run a troubleshooting runbook: read-only probes, findings ranked by severity",
	Long: `Run a runbook on the hosts PATTERN selects (default: the runbook's hosts, or
all): every probe of a host runs in one round trip, without privilege escalation
unless the probe sets become = true, under its timeout and with its output
capped; checks then turn what the probes read into findings (crit, warn).

A runbook cannot change a host: drover refuses, before connecting anywhere, any
task whose module can change state (only probe tasks are allowed), and never
applies anything on this path. A probe that runs as root runs in a read-only
mount namespace as an unprivileged uid with no capability to undo it; one that
runs as another user is bounded by that user's permissions. The report says
per host which held; --require-enforced refuses to run a root probe where the
namespace cannot be set up. See docs/runbooks.md for exactly what is enforced.

The report lists, per host, the findings first (most severe on top), then each
probe's output; with several hosts, a table of hosts × findings comes first
and the worst hosts lead. --json prints it for programs, --html FILE writes a
single self-contained page to attach to an incident ticket.

Exit status: 0 when the runbook ran (whatever it found; see --fail-on), 1 on
errors or when a host could not be examined, 2 with --fail-on when a finding
is at least that severe.`,
	Example: `  drover run -i hosts.hcl examples/runbooks/first-five-minutes.hcl web3
  drover run -i hosts.hcl examples/runbooks/disk-full.hcl all --html report.html
  drover run -i hosts.hcl examples/runbooks/high-load.hcl web --json`,
	Args: cobra.RangeArgs(1, 2),
	RunE: runRunbook,
}

func init() {
	runbookFlags.register(runbookCmd)
	fl := runbookCmd.Flags()
	fl.StringVar(&runbookFlags.html, "html", "", "also write the report as one self-contained HTML page to this file")
	fl.BoolVar(&runbookFlags.full, "full", false, "show every probe's whole output (default: folded for one host, left out for several)")
	fl.StringVar(&runbookFlags.runbook, "runbook", "", "run only the runbook with this name (when the files hold several)")
	fl.StringVar(&runbookFlags.failOn, "fail-on", "", "exit 2 when a finding is at least this severe: warn or crit")
	fl.BoolVar(&runbookFlags.requireEnforced, "require-enforced", false, "refuse to run a probe as root on a host where drover cannot enforce read-only (a read-only mount namespace)")
	fl.BoolVar(&runbookFlags.validate, "validate", false, "check the runbook without an inventory or any connection, and stop")
	rootCmd.AddCommand(runbookCmd)
}

func runRunbook(cmd *cobra.Command, args []string) error {
	var failOn report.Severity
	switch runbookFlags.failOn {
	case "":
	case "warn":
		failOn = report.SevWarn
	case "crit":
		failOn = report.SevCrit
	default:
		return usageErrorf("--fail-on must be warn or crit, not %q", runbookFlags.failOn)
	}
	l := &loaded{ui: newUI(cmd), parser: hclparse.NewParser(), flags: &runbookFlags.playbookFlags}
	rf, diags := config.LoadRunbookFiles(l.parser, modules.Catalog(), args[0])
	if rf != nil && rf.Playbook != nil {
		rf.Playbook.AllowLocal = runbookFlags.allowLocal
	}
	if !diags.HasErrors() {
		var ds hcl.Diagnostics
		l.inputs, ds = run.ParseInputsWithKeys(l.parser, rf.Playbook, os.Environ(), runbookFlags.varFiles, runbookFlags.vars, secretKeys(l.ui))
		diags = append(diags, ds...)
		maskInputSecrets(l.ui, l.inputs)
		if !ds.HasErrors() {
			diags = append(diags, run.ValidateRunbooks(rf, l.inputs)...)
		}
	}
	if rf != nil {
		l.pb = rf.Playbook
	}
	if err := l.report(diags); err != nil {
		return err
	}
	if runbookFlags.runbook != "" {
		var keep []*config.Runbook
		var names []string
		for _, rb := range rf.Runbooks {
			names = append(names, rb.Name)
			if rb.Name == runbookFlags.runbook {
				keep = append(keep, rb)
			}
		}
		if len(keep) == 0 {
			return usageErrorf("no runbook %q in %s (it has %s)", runbookFlags.runbook, args[0], strings.Join(names, ", "))
		}
		rf.Runbooks = keep
	}
	if runbookFlags.validate {
		fmt.Fprintf(l.ui.stdout, "%s: %d runbook(s) valid, read-only.\n", args[0], len(rf.Runbooks))
		return nil
	}
	pattern := ""
	if len(args) > 1 {
		pattern = args[1]
	}
	// Connects like plan and apply (inventory, known hosts, one pool per
	// become setting), without a playbook's sinks: a runbook's output is a
	// report written at the end.
	s, err := openConnections(cmd, l)
	if err != nil {
		return err
	}
	ctx, stop := signalContext(cmd.Context(), l.ui.stderr)
	defer stop()
	opts := run.RunbookOptions{
		File:    rf,
		Pattern: pattern,
		Inputs:  l.inputs,
		Hosts: func(p string) ([]*inventory.Host, error) {
			hosts, err := s.selectHosts(p)
			if err == nil && len(hosts) == 0 && !s.shardEmptied {
				err = fmt.Errorf("no hosts selected by %q; see `drover inventory list` for the names", p)
			}
			return hosts, err
		},
		Fleet:           func() []*inventory.Host { return withOverrides(s.inv.Hosts(), s.ov) },
		Connect:         s.connect,
		Forks:           global.forks,
		RequireEnforced: runbookFlags.requireEnforced,
		Masker:          l.ui.masker,
	}
	if isTerminal(l.ui.stderr) && !global.jsonOut {
		// A counter while hosts answer (probes like vmstat take seconds).
		var mu sync.Mutex
		total, done := 0, 0
		hosts := opts.Hosts
		opts.Hosts = func(p string) ([]*inventory.Host, error) {
			hs, err := hosts(p)
			mu.Lock()
			total, done = len(hs), 0
			mu.Unlock()
			return hs, err
		}
		opts.Progress = func(string, report.Status) {
			mu.Lock()
			done++
			fmt.Fprintf(l.ui.stderr, "\r%d/%d hosts examined", done, total)
			if done == total {
				fmt.Fprint(l.ui.stderr, "\r\033[K")
			}
			mu.Unlock()
		}
	}
	reports, rdiags, runErr := run.RunRunbooks(ctx, opts)
	s.close()
	if err := l.report(rdiags); err != nil && runErr == nil {
		runErr = err
	}
	failed := false
	worst := report.SevOK
	for i, rep := range reports {
		for _, h := range rep.Hosts {
			if h.Status != report.StatusOK {
				failed = true
			}
			worst = max(worst, h.Worst())
		}
		if global.jsonOut {
			if err := report.WriteRunbookJSON(l.ui.stdout, rep, l.ui.masker); err != nil {
				return err
			}
		} else {
			if i > 0 {
				fmt.Fprintln(l.ui.stdout)
			}
			if err := report.WriteRunbookText(l.ui.stdout, rep, report.RunbookTextOptions{Color: l.ui.color, Masker: l.ui.masker, Full: runbookFlags.full}); err != nil {
				return err
			}
		}
		if runbookFlags.html != "" {
			path := runbookFlags.html
			if len(reports) > 1 {
				ext := filepath.Ext(path)
				path = strings.TrimSuffix(path, ext) + "-" + rep.Runbook + ext
			}
			if err := writeHTMLReport(path, rep, l.ui.masker); err != nil {
				return &exitCodeError{code: exitError, err: err}
			}
			if !global.jsonOut {
				fmt.Fprintf(l.ui.stdout, "\nHTML report: %s\n", path)
			}
		}
	}
	switch {
	case interrupted(ctx):
		return &exitCodeError{code: exitInterrupted}
	case runErr != nil:
		return &exitCodeError{code: exitError, err: runErr}
	case failed:
		return &exitCodeError{code: exitError, err: errors.New("some hosts could not be examined (see the report)")}
	case failOn != report.SevOK && worst >= failOn:
		return &exitCodeError{code: exitChanges}
	}
	return nil
}

// writeHTMLReport writes the page to a temporary file renamed into place, so
// a reader never sees half a report.
func writeHTMLReport(path string, rep *report.RunbookReport, m *report.Masker) error {
	var b bytes.Buffer
	if err := report.WriteRunbookHTML(&b, rep, m); err != nil {
		return fmt.Errorf("rendering the HTML report: %w", err)
	}
	if err := writeAtomic(path, b.Bytes(), 0o644); err != nil {
		return fmt.Errorf("the HTML report: %w", err)
	}
	return nil
}
