package report

import (
	"cmp"
	"fmt"
	"html/template"
	"io"
	"slices"
	"strings"
	"sync"
	"time"
)

// RunReport is a plan or an apply as its HTML report shows it, for change
// review and incident tickets. A RunCollector gathers it from the run's
// events; the command adds what only it knows (who, which files).
type RunReport struct {
	Command  string // "plan" or "apply"
	Started  time.Time
	Duration time.Duration
	// Operator is who ran it: user@machine.
	Operator string
	// Playbook and Inventory are digests of the files read ("sha256:…"),
	// so that a reviewer can tell whether two reports are of the same
	// input; the Files are the paths given.
	Playbook, Inventory           string
	PlaybookFiles, InventoryFiles []string
	Hosts                         []RunHost
	// PlanLine is the plan's summary ("Plan: 1 to create, ..."), for plan.
	PlanLine string
	// Recap is apply's recap.
	Recap    *Recap
	Warnings []string
}

// RunHost is one host's part of a run.
type RunHost struct {
	Host      string
	Status    Status // the host's KindHostDone status
	Duration  time.Duration
	ErrorKind string
	Message   string
	Hint      string
	Tasks     []RunTask
}

// RunTask is one task instance of a plan (what it would do) or an apply
// (what it did).
type RunTask struct {
	Task      string
	Play      string // plan: the play the task is in
	Module    string
	Handler   bool
	Status    Status
	Deferred  bool // plan: known only after apply
	Duration  time.Duration
	Batch     int // apply: the size of the batch whose time Duration is (see TaskResult)
	ErrorKind string
	Message   string // the error, or why it was skipped
	Hint      string
	Changes   []ChangeView
	Stdout    string
	Stderr    string
	ExitCode  *int
}

// Label is the task's status as the report shows it: a plan's tasks have
// not done anything yet.
func (t RunTask) Label() string {
	if t.Play == "" {
		return string(t.Status)
	}
	switch {
	case t.Deferred:
		return "after apply"
	case t.Status == StatusChanged:
		return "to change"
	case t.Status == StatusOK:
		return "no change"
	}
	return string(t.Status)
}

// RunCollector is a Sink that keeps what the HTML report of a plan or an
// apply needs. Events are kept as they come (raw): WriteRunHTML masks and
// escapes them once, at the end.
type RunCollector struct {
	mu    sync.Mutex
	rep   RunReport
	index map[string]int
}

// NewRunCollector returns an empty collector.
func NewRunCollector() *RunCollector { return &RunCollector{index: map[string]int{}} }

func (c *RunCollector) host(name string) *RunHost {
	i, ok := c.index[name]
	if !ok {
		i = len(c.rep.Hosts)
		c.index[name] = i
		c.rep.Hosts = append(c.rep.Hosts, RunHost{Host: name})
	}
	return &c.rep.Hosts[i]
}

// Emit implements Sink.
func (c *RunCollector) Emit(e Event) {
	c.mu.Lock()
	defer c.mu.Unlock()
	switch e.Kind {
	case KindRunStart:
		if c.rep.Started.IsZero() {
			c.rep.Started, c.rep.Command = e.Time, e.Task
		}
		if ri, ok := e.Detail.(*RunInfo); ok && ri != nil {
			c.rep.Operator, c.rep.Playbook, c.rep.PlaybookFiles = ri.Operator, ri.Playbook, ri.PlaybookFiles
			c.rep.Inventory, c.rep.InventoryFiles = ri.Inventory, ri.InventoryFiles
		}
	case KindWarning:
		w := e.Message
		if e.Host != "" {
			w = e.Host + ": " + w
		}
		c.rep.Warnings = append(c.rep.Warnings, w)
	case KindPlan:
		hp, ok := e.Detail.(*HostPlan)
		if !ok {
			return
		}
		h := c.host(e.Host)
		for _, tp := range hp.Tasks {
			h.Tasks = append(h.Tasks, plannedTask(e.Host, hp.Play, tp))
		}
		if hp.Error != "" {
			h.Message, h.ErrorKind, h.Hint = hp.Error, e.ErrorKind, e.Hint
		}
	case KindTask:
		t := RunTask{Task: e.Task, Status: e.Status, Duration: e.Duration, ErrorKind: e.ErrorKind, Message: e.Message, Hint: e.Hint,
			Stdout: e.Stdout, Stderr: e.Stderr, ExitCode: e.ExitCode}
		if tr, ok := e.Detail.(*TaskResult); ok && tr != nil {
			t.Module, t.Handler, t.Changes, t.Batch = tr.Module, tr.Handler, tr.Changes, tr.Batch
		}
		h := c.host(e.Host)
		h.Tasks = append(h.Tasks, t)
	case KindHostDone:
		h := c.host(e.Host)
		h.Status, h.Duration = e.Status, e.Duration
		if e.Message != "" {
			h.Message, h.ErrorKind, h.Hint = e.Message, e.ErrorKind, e.Hint
		}
	case KindRecap:
		c.rep.Recap, c.rep.Duration = e.Recap, e.Duration
	case KindPlanSummary:
		c.rep.PlanLine = e.Message
		if !c.rep.Started.IsZero() {
			c.rep.Duration = e.Time.Sub(c.rep.Started)
		}
	}
}

// plannedTask is a plan's task in the report's terms: changed when it would
// change something, failed when it could not be planned.
func plannedTask(host, play string, tp TaskPlan) RunTask {
	t := RunTask{Task: tp.Task, Play: play, Module: tp.Module, Handler: tp.Handler, Deferred: tp.Deferred, Changes: tp.Changes, Status: StatusOK}
	switch {
	case tp.Error != "":
		t.Status, t.Message = StatusFailed, tp.Error
	case tp.Skipped != "":
		t.Status, t.Message = StatusSkipped, tp.Skipped
	case tp.NotSelected != "":
		t.Status, t.Message = StatusSkipped, tp.NotSelected
	case len(tp.Changes) > 0 || tp.Deferred:
		t.Status = StatusChanged
	}
	if tp.Rescue != "" {
		t.Message = "rescue: runs only if " + tp.Rescue + " fails"
	}
	if t.Message == "" {
		where, reads := crossHost(host, tp)
		if reads != "" {
			where = append(where, reads)
		}
		t.Message = strings.Join(where, "; ")
	}
	return t
}

// Close implements Sink.
func (c *RunCollector) Close() error { return nil }

// Report returns what was collected so far (a copy the caller may change).
func (c *RunCollector) Report() *RunReport {
	c.mu.Lock()
	defer c.mu.Unlock()
	rep := c.rep
	rep.Hosts = slices.Clone(c.rep.Hosts)
	for i := range rep.Hosts {
		rep.Hosts[i].Tasks = slices.Clone(rep.Hosts[i].Tasks)
	}
	rep.Warnings = slices.Clone(c.rep.Warnings)
	return &rep
}

var runTmpl = newPageTemplate("run.html.tmpl", template.FuncMap{
	"difflines": diffLines,
	"sym":       func(action string) string { return actionSymbol[action] },
})

// statusRank orders hosts and tasks worst first: what failed, then what
// did not finish, then what changed.
var statusRank = map[Status]int{
	StatusFailed: 7, StatusUnreachable: 6, StatusLocked: 5, StatusCancelled: 4, StatusNotStarted: 3,
	StatusChanged: 2, StatusSkipped: 1, StatusOK: 0,
}

// runHostView is one host section: its outcome (a plan's host that would
// change something is "changed") and its tasks, with ok ones folded.
type runHostView struct {
	*RunHost
	Outcome Status
	Label   string // Outcome in words: a plan's host has changes "to change"
	Counts  Counts
	Shown   []RunTask // not ok: changed, failed, skipped
	Folded  []RunTask // ok: nothing to do
}

// runFailure is one entry of the failures section: a failed task, or a host
// that failed without a task to blame (unreachable, locked, not planned).
type runFailure struct {
	Host string
	T    *RunTask // nil for a host-level failure
	H    *RunHost
}

// WriteRunHTML writes the report of a plan or an apply as one self-contained
// page: the run's summary, the failures first, then each host (worst first)
// with its tasks, their diffs and output.
func WriteRunHTML(w io.Writer, r *RunReport, m *Masker) error {
	rep := cleaned(m, r)
	var hosts []runHostView
	var failures []runFailure
	var tasks, outcomes Counts
	for i := range rep.Hosts {
		h := &rep.Hosts[i]
		v := runHostView{RunHost: h, Outcome: h.Status}
		if v.Outcome == "" {
			v.Outcome = StatusCancelled // no host_done: the run was cut
		}
		blamed := false
		for j := range h.Tasks {
			t := &h.Tasks[j]
			v.Counts.Add(t.Status)
			tasks.Add(t.Status)
			if t.Status == StatusOK {
				v.Folded = append(v.Folded, *t)
				continue
			}
			v.Shown = append(v.Shown, *t)
			if t.Status == StatusFailed || t.Status == StatusUnreachable {
				failures = append(failures, runFailure{Host: h.Host, T: t, H: h})
				blamed = true
			}
		}
		v.Label = string(v.Outcome)
		if v.Outcome == StatusOK && v.Counts.Changed > 0 && rep.Command == "plan" {
			v.Outcome, v.Label = StatusChanged, "to change"
		}
		if !blamed && statusRank[v.Outcome] >= statusRank[StatusLocked] {
			failures = append(failures, runFailure{Host: h.Host, H: h})
		}
		outcomes.Add(v.Outcome)
		hosts = append(hosts, v)
	}
	// Worst first, then by name: hosts run in parallel, so the order they
	// reported in is not the same from run to run (nor from one controller
	// to several: drover report merge --html).
	slices.SortStableFunc(hosts, func(a, b runHostView) int {
		return cmp.Or(statusRank[b.Outcome]-statusRank[a.Outcome], cmp.Compare(a.Host, b.Host))
	})
	slices.SortStableFunc(failures, func(a, b runFailure) int {
		return cmp.Or(statusRank[b.H.Status]-statusRank[a.H.Status], cmp.Compare(a.Host, b.Host))
	})

	verb := map[string]string{"plan": "Plan", "apply": "Apply"}[rep.Command]
	if verb == "" {
		verb = "Run"
	}
	summary := rep.PlanLine
	if rep.Recap != nil {
		summary = rep.Recap.Line()
	}
	data := struct {
		R        *RunReport
		Started  string
		Summary  string
		Hosts    []runHostView
		Failures []runFailure
		Outcomes Counts
		Tasks    Counts
	}{R: rep, Started: htmlTime(rep.Started), Summary: summary, Hosts: hosts, Failures: failures, Outcomes: outcomes, Tasks: tasks}
	sub := fmt.Sprintf("%d %s · %s · %s", len(hosts), plural(len(hosts), "host", "hosts"), data.Started, FormatDuration(rep.Duration))
	if len(failures) > 0 {
		sub += fmt.Sprintf(" · %d %s", len(failures), plural(len(failures), "failure", "failures"))
	}
	footer := "Generated by drover " + rep.Command + "."
	if rep.Command == "plan" {
		footer += " A plan changes nothing: it shows what apply would do."
	}
	return writePage(w, runTmpl, htmlPage{
		Title:   fmt.Sprintf("drover %s — %s", rep.Command, summary),
		Heading: "drover " + rep.Command,
		Sub:     sub,
		Footer:  footer + " Secrets are masked; control characters from hosts are shown escaped.",
		Body:    data,
	})
}

// diffLine is one line of a unified diff with its class for colouring.
type diffLine struct{ Class, Text string }

func diffLines(diff string) []diffLine {
	var out []diffLine
	for _, l := range strings.Split(strings.TrimRight(diff, "\n"), "\n") {
		out = append(out, diffLine{diffClass(l), l})
	}
	return out
}
