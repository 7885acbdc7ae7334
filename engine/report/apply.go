package report

import (
	"strings"
)

// KindTask is one task instance (or handler) finished on a host during
// apply: Task is its address, Status ok/changed/failed/skipped, Duration its
// time, Message the error or the reason it was skipped; Detail is
// *TaskResult. Recorder counts these per host for the recap.
const KindTask Kind = "task"

func init() {
	registerRenderer(KindTask, renderTask)
	countsTasks[KindTask] = true
}

// TaskResult is what a task did, for KindTask events.
type TaskResult struct {
	Module  string       `json:"module"`
	Changes []ChangeView `json:"changes,omitempty"`
	Handler bool         `json:"handler,omitempty"`
	// Output is the task's stdout and stderr when it failed (or, for
	// commands, ran); masked like everything else.
	Output string `json:"output,omitempty"`
	// Attempt is which run of a task with retries this is (1 for the
	// first); 0 when the task has no retries.
	Attempt int `json:"attempt,omitempty"`
}

func renderTask(p *Printer, e Event) {
	tr, _ := e.Detail.(*TaskResult)
	switch e.Status {
	case StatusOK:
		return // the recap counts them; a line per unchanged task is noise
	case StatusSkipped:
		if e.Message == "" || strings.HasPrefix(e.Message, "when ") {
			return
		}
	}
	p.Header(e.Host, e.Status, e.Task, attemptField(tr), p.Duration("in", e.Duration))
	if tr != nil && e.Status == StatusChanged {
		renderTaskChanges(p, e.Task, tr.Changes)
	}
	if e.Message != "" {
		p.Body(e.Message)
	}
	if tr != nil && tr.Output != "" && (e.Status == StatusFailed || e.Status == StatusIgnored || e.Status == StatusRescued) {
		p.Label("output:")
		p.Body(tr.Output)
	}
	p.Hint(e.Hint)
}
