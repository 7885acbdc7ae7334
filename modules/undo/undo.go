// Package undo reads a host's journal (modules' journalFS, docs/undo.md)
// and reverses a run with it: History lists the runs, Plan reads one run's
// entries with the current state of their paths and plans the reversal,
// Apply runs it through the same safeFS steps as an apply, journaled under
// a run of its own (so an undo can be undone). Nothing is kept on the
// controller: the journal on each host is the record.
package undo

import (
	"context"
	"fmt"
	"strings"

	"github.com/drover-cm/drover/engine/remote"
	"github.com/drover-cm/drover/engine/report"
	"github.com/drover-cm/drover/engine/transport"
	"github.com/drover-cm/drover/modules"
	"github.com/drover-cm/drover/modules/contract"
)

// ErrNoJournal is History's and Plan's error when the host keeps no
// journal for the connecting user (only root runs journal).
var ErrNoJournal = fmt.Errorf("no journal: only runs as root are journaled; connect as root or with become (docs/undo.md)")

// History lists the host's journaled runs, newest first, in one round trip.
func History(ctx context.Context, conn transport.Conn) ([]modules.JournalRun, error) {
	res, err := conn.Run(ctx, transport.Cmd{Command: "sh -s", Stdin: strings.NewReader(modules.JournalHistoryScript)})
	if err != nil {
		return nil, fmt.Errorf("reading the journal: %w", err)
	}
	if res.ExitCode != 0 {
		return nil, fmt.Errorf("reading the journal failed (exit status %d)%s", res.ExitCode, contract.StderrTail(res.Stderr, ": "))
	}
	runs, no, err := modules.ParseJournalHistory(res.Stdout)
	if err != nil {
		return nil, err
	}
	if no {
		return nil, ErrNoJournal
	}
	return runs, nil
}

// Undo is the planned reversal of one run on one host.
type Undo struct {
	Run       modules.JournalRun
	Reversals []modules.Reversal // last entry first
}

// Plan reads run (the newest run that is not itself an undo when "") from
// the host's journal and plans its reversal: two round trips with the
// history that finds the run, one with a named run.
func Plan(ctx context.Context, conn transport.Conn, run string) (*Undo, error) {
	runs, err := History(ctx, conn)
	if err != nil {
		return nil, err
	}
	u := &Undo{}
	for _, r := range runs {
		if (run == "" && r.Meta["undo"] == "") || r.ID == run {
			u.Run = r
			break
		}
	}
	switch {
	case u.Run.ID == "" && run == "":
		return nil, fmt.Errorf("the journal has no run to undo (see drover history)")
	case u.Run.ID == "":
		return nil, fmt.Errorf("no run %s in this host's journal (see drover history; the journal keeps the last %d runs)", run, modules.JournalKeep)
	case !modules.JournalRunID.MatchString(u.Run.ID):
		// The id is what the host listed: it reaches the next script, so it
		// must be the form drover writes, whatever the host printed.
		return nil, fmt.Errorf("the journal lists a run named %q, which drover did not write; look at the host's journal directory", u.Run.ID)
	}
	res, err := conn.Run(ctx, transport.Cmd{Command: "sh -s", Stdin: strings.NewReader(modules.JournalReadScript(u.Run.ID))})
	if err != nil {
		return nil, fmt.Errorf("reading run %s from the journal: %w", u.Run.ID, err)
	}
	if res.ExitCode != 0 {
		return nil, fmt.Errorf("reading run %s from the journal failed (exit status %d)%s", u.Run.ID, res.ExitCode, contract.StderrTail(res.Stderr, ": "))
	}
	es, err := modules.ParseJournalRead(res.Stdout)
	if err != nil {
		return nil, fmt.Errorf("run %s: %w", u.Run.ID, err)
	}
	u.Reversals = modules.PlanUndo(u.Run.ID, es)
	return u, nil
}

// Refused is the reversals that cannot be made exactly.
func (u *Undo) Refused() []modules.Reversal {
	var out []modules.Reversal
	for _, r := range u.Reversals {
		if r.Refused != "" {
			out = append(out, r)
		}
	}
	return out
}

// Changed reports whether the undo changes anything (refusals aside).
func (u *Undo) Changed() bool {
	for _, r := range u.Reversals {
		if r.Plan.Changed() {
			return true
		}
	}
	return false
}

// TaskName is how plans and results name the reversal of entry n.
func TaskName(n int) string { return fmt.Sprintf("undo[%d]", n) }

// HostPlan is the undo as drover plan shows a play: one task per entry to
// reverse or refused (those with nothing to do are left out). Previous
// contents are never shown: a file's change is its checksum.
func (u *Undo) HostPlan() *report.HostPlan {
	hp := &report.HostPlan{Play: "undo " + u.Run.ID}
	for _, r := range u.Reversals {
		switch {
		case r.Refused != "":
			hp.Tasks = append(hp.Tasks, report.TaskPlan{Task: TaskName(r.Entry.N), Module: "undo", Error: "refused: " + r.Entry.Path + ": " + r.Refused})
		case r.Plan.Changed():
			hp.Tasks = append(hp.Tasks, report.TaskPlan{Task: TaskName(r.Entry.N), Module: "undo", Changes: report.Changes(r.Plan, false, nil)})
		}
	}
	return hp
}

// Result is what Apply did.
type Result struct {
	Undone  int    // entries reversed
	Failed  string // the first failure's message, "" when none
	Journal string // the undo's own run id in the journal
}

// Apply makes the reversals (refused ones are skipped: the caller decides
// whether a refusal stops the host) in one batch, journaled under a new run
// whose metadata is meta with undo=<the run's id>. It stops at the first
// failure.
func (u *Undo) Apply(ctx context.Context, conn transport.Conn, meta map[string]string) (Result, error) {
	m := map[string]string{"undo": u.Run.ID}
	for k, v := range meta {
		m[k] = v
	}
	j := remote.NewJournal(m)
	var plans []*contract.Plan
	var names []string
	for _, r := range u.Reversals {
		if r.Plan.Changed() {
			plans = append(plans, r.Plan)
			names = append(names, TaskName(r.Entry.N)+" "+r.Entry.Path)
		}
	}
	res := Result{Journal: j.Run}
	if len(plans) == 0 {
		return res, nil
	}
	out, err := remote.ApplyAll(remote.WithJournal(ctx, j), conn, plans)
	for i, o := range out {
		switch {
		case !o.Ran:
		case o.Err != nil:
			if res.Failed == "" {
				res.Failed = names[i] + ": " + o.Err.Error()
			}
		default:
			res.Undone++
		}
	}
	return res, err
}
