package report

import (
	"fmt"
	"strings"

	"github.com/drover-cm/drover/modules/contract"
)

// Kinds emitted by plan.
const (
	// KindPlan is one host's plan for one play: Detail is *HostPlan.
	KindPlan Kind = "plan"
	// KindPlanSummary ends a plan: Detail is *PlanSummary. Terminal does
	// not draw it (the CLI prints Line() after the host blocks); JSON
	// consumers get the totals.
	KindPlanSummary Kind = "plan_summary"
)

func init() {
	registerRenderer(KindPlan, renderPlan)
	registerRenderer(KindPlanSummary, func(*Printer, Event) {})
}

// HostPlan is what a play will do on one host.
type HostPlan struct {
	Play  string     `json:"play"`
	Tasks []TaskPlan `json:"tasks"`
	// Error is set when the host could not be planned (its tasks are then
	// incomplete).
	Error string `json:"error,omitempty"`
}

// TaskPlan is one task instance in a plan.
type TaskPlan struct {
	Task    string       `json:"task"` // address: template.site, directory.logs["a"]
	Module  string       `json:"module"`
	Changes []ChangeView `json:"changes,omitempty"`
	// Deferred: the task's configuration depends on values known only once
	// earlier tasks have run; it is evaluated and checked when reached.
	Deferred bool `json:"deferred,omitempty"`
	// Skipped says why the task does not run here ("when is false").
	Skipped string `json:"skipped,omitempty"`
	Error   string `json:"error,omitempty"`
	Handler bool   `json:"handler,omitempty"`
	// On is the host delegate_to runs the task on; RunOnce the host that
	// runs a run_once task for the batch (this one, or another whose plan
	// shows its changes); Reads the other hosts whose inventory data its
	// configuration used.
	On      string   `json:"on,omitempty"`
	RunOnce string   `json:"run_once,omitempty"`
	Reads   []string `json:"reads,omitempty"`
	// Rescue, for a task in a block's rescue, names that block: the task
	// runs only if the block fails, so its changes are shown but not
	// counted in the summary.
	Rescue string `json:"rescue,omitempty"`
	// IgnoreFailure: on_failure = "continue"; a failure will be reported
	// ignored and the host goes on.
	IgnoreFailure bool `json:"ignore_failure,omitempty"`
}

// ChangeView is a contract.Change made safe to show: sensitive content is
// already replaced, the action is a word.
type ChangeView struct {
	Action    string     `json:"action"` // create, update, delete, run
	Subject   string     `json:"subject"`
	Attrs     []AttrView `json:"attrs,omitempty"`
	Diff      string     `json:"diff,omitempty"`
	Sensitive bool       `json:"sensitive,omitempty"`
}

// AttrView is one attribute change.
type AttrView struct {
	Name string `json:"name"`
	Old  string `json:"old"`
	New  string `json:"new"`
}

// SensitiveText replaces sensitive values in plans and results.
const SensitiveText = "(sensitive)"

// Changes converts a module plan's changes for display. Diffs are masked
// when the task holds any sensitive value (content may derive from it);
// attribute values when sensitive is set (the task says sensitive = true),
// or when the attribute (or its parent: env for env.TOKEN) is in
// sensitiveAttrs. A non-nil sensitiveAttrs means the task holds sensitive
// values.
func Changes(p *contract.Plan, sensitive bool, sensitiveAttrs map[string]bool) []ChangeView {
	if p == nil {
		return nil
	}
	out := make([]ChangeView, 0, len(p.Changes))
	for _, c := range p.Changes {
		s := sensitive || c.Sensitive || len(sensitiveAttrs) > 0
		v := ChangeView{Action: c.Action.String(), Subject: c.Subject, Sensitive: s}
		if c.Diff != "" {
			v.Diff = c.Diff
			if s {
				v.Diff = "(sensitive content)"
			}
		}
		for _, a := range c.Attrs {
			av := AttrView{Name: a.Name, Old: a.Old, New: a.New}
			parent, _, _ := strings.Cut(a.Name, ".")
			if sensitive || sensitiveAttrs[a.Name] || sensitiveAttrs[parent] {
				if av.Old != "" {
					av.Old = SensitiveText
				}
				if av.New != "" {
					av.New = SensitiveText
				}
			}
			v.Attrs = append(v.Attrs, av)
		}
		out = append(out, v)
	}
	return out
}

// PlanSummary counts the changes of a whole plan.
type PlanSummary struct {
	Create   int `json:"create"`
	Update   int `json:"update"`
	Delete   int `json:"delete"`
	Run      int `json:"run"`
	Deferred int `json:"deferred"`
	Failed   int `json:"failed_hosts"`
}

// Add counts the changes of one host's plan.
func (s *PlanSummary) Add(hp *HostPlan) {
	for _, t := range hp.Tasks {
		if t.Rescue != "" {
			continue
		}
		if t.Deferred {
			s.Deferred++
		}
		for _, c := range t.Changes {
			switch c.Action {
			case "create":
				s.Create++
			case "update":
				s.Update++
			case "delete":
				s.Delete++
			case "run":
				s.Run++
			}
		}
	}
}

// Changed reports whether the plan would change anything (or might: a
// deferred task is known only after apply).
func (s PlanSummary) Changed() bool {
	return s.Create+s.Update+s.Delete+s.Run+s.Deferred > 0
}

// Line is "Plan: 2 to create, 1 to update, 0 to delete, 1 to run.", with
// the deferred tasks and failed hosts when there are any.
func (s PlanSummary) Line() string {
	line := fmt.Sprintf("Plan: %d to create, %d to update, %d to delete, %d to run.", s.Create, s.Update, s.Delete, s.Run)
	if s.Deferred > 0 {
		line += fmt.Sprintf(" %d %s known only after apply.", s.Deferred, plural(s.Deferred, "task", "tasks"))
	}
	if s.Failed > 0 {
		line += fmt.Sprintf(" %d %s could not be planned.", s.Failed, plural(s.Failed, "host", "hosts"))
	}
	return line
}

func plural(n int, one, many string) string {
	if n == 1 {
		return one
	}
	return many
}

func renderPlan(p *Printer, e Event) {
	hp, ok := e.Detail.(*HostPlan)
	if !ok {
		return
	}
	var s PlanSummary
	s.Add(hp)
	counts := []string{}
	for _, c := range []struct {
		n    int
		what string
	}{{s.Create, "to create"}, {s.Update, "to update"}, {s.Delete, "to delete"}, {s.Run, "to run"}, {s.Deferred, "known after apply"}} {
		if c.n > 0 {
			counts = append(counts, fmt.Sprintf("%d %s", c.n, c.what))
		}
	}
	summary := "no changes"
	if len(counts) > 0 {
		summary = strings.Join(counts, ", ")
	}
	st := Status("")
	if hp.Error != "" {
		st, summary = e.Status, e.ErrorKind
		if st == "" {
			st = StatusFailed
		}
	}
	p.Header(e.Host, st, "play "+hp.Play, summary)
	for _, t := range hp.Tasks {
		renderTaskChanges(p, t.Task, t.Changes)
		renderCrossHost(p, e.Host, t)
		switch {
		case t.Error != "":
			p.Line("  " + p.Style.Status(StatusFailed) + " " + t.Task + ": " + t.Error)
		case t.Deferred:
			p.Line("  ? " + t.Task + ": (known after apply)")
		}
		if t.Rescue != "" && (len(t.Changes) > 0 || t.Deferred) {
			p.Line("      " + p.Style.Dim.Sprint("(rescue: only if "+t.Rescue+" fails)"))
		}
		if t.IgnoreFailure && (len(t.Changes) > 0 || t.Deferred) {
			p.Line("      " + p.Style.Dim.Sprint(`(on_failure = "continue": a failure is ignored)`))
		}
	}
	if hp.Error != "" {
		p.Body(hp.Error)
		p.Hint(e.Hint)
	}
}

// actionSymbol is how plans mark a change, as Terraform does.
var actionSymbol = map[string]string{"create": "+", "update": "~", "delete": "-", "run": ">"}

// renderTaskChanges draws a task's changes:
//
//   - directory.app: create /srv/app
//     mode: "0755"
//     ~ template.site: update /etc/site.conf
//     --- /etc/site.conf
//     ...
func renderTaskChanges(p *Printer, task string, changes []ChangeView) {
	for _, c := range changes {
		sym := actionSymbol[c.Action]
		line := fmt.Sprintf("  %s %s: %s %s", p.Style.action(c.Action, sym), task, c.Action, c.Subject)
		p.Line(strings.TrimRight(line, " "))
		for _, a := range c.Attrs {
			switch {
			case a.Old == "":
				p.Line(fmt.Sprintf("      %s: %s", a.Name, a.New))
			case a.New == "":
				p.Line(fmt.Sprintf("      %s: %s → (none)", a.Name, a.Old))
			default:
				p.Line(fmt.Sprintf("      %s: %s → %s", a.Name, a.Old, a.New))
			}
		}
		if c.Diff != "" {
			for _, l := range strings.Split(strings.TrimRight(c.Diff, "\n"), "\n") {
				p.Line("      " + p.Style.diffLine(l))
			}
		}
	}
}

// action colours a change symbol.
func (s *Style) action(action, sym string) string {
	switch action {
	case "create":
		return s.OK.Sprint(sym)
	case "delete":
		return s.Failed.Sprint(sym)
	default:
		return s.Changed.Sprint(sym)
	}
}

func (s *Style) diffLine(l string) string {
	switch diffClass(l) {
	case "head":
		return s.Bold.Sprint(l)
	case "add":
		return s.OK.Sprint(l)
	case "del":
		return s.Failed.Sprint(l)
	case "hunk":
		return s.Dim.Sprint(l)
	}
	return l
}

// renderCrossHost says where a task runs when not simply on its host, and
// which other hosts' data it read.
func renderCrossHost(p *Printer, host string, t TaskPlan) {
	where, reads := crossHost(host, t)
	if len(t.Changes) == 0 && t.RunOnce != "" && t.RunOnce != host {
		p.Line("  = " + t.Task + ": " + strings.Join(where, ", "))
		where = nil
	}
	if len(where) > 0 {
		p.Line("      (" + strings.Join(where, ", ") + ")")
	}
	if reads != "" {
		p.Line("      " + reads)
	}
}

// crossHost is where a task runs when not simply on its host ("on lb1",
// "run once for the batch, by web1") and what it read of other hosts.
func crossHost(host string, t TaskPlan) (where []string, reads string) {
	if t.On != "" {
		where = append(where, "on "+t.On)
	}
	switch {
	case t.RunOnce == "":
	case t.RunOnce == host:
		where = append(where, "run once for the batch, here")
	default:
		where = append(where, "run once for the batch, by "+t.RunOnce)
	}
	if len(t.Reads) > 0 {
		reads = "reads inventory data of " + strings.Join(t.Reads, ", ")
	}
	return where, reads
}

// diffClass names what a line of a unified diff is: a file header, an
// added or deleted line, a hunk header, or context ("").
func diffClass(l string) string {
	switch {
	case strings.HasPrefix(l, "+++"), strings.HasPrefix(l, "---"):
		return "head"
	case strings.HasPrefix(l, "+"):
		return "add"
	case strings.HasPrefix(l, "-"):
		return "del"
	case strings.HasPrefix(l, "@@"):
		return "hunk"
	}
	return ""
}
