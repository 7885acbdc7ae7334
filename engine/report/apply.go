package report

import (
	"fmt"
	"strings"
	"time"
)

// Kinds emitted by apply.
const (
	// KindTaskStart is a task instance (or handler) beginning on a host:
	// Task is its address, Detail *TaskResult (module, handler, batch).
	// Every KindTask follows its KindTaskStart, except for the tasks a
	// failure or a stop left unreached, which are only reported skipped.
	KindTaskStart Kind = "task_start"
	// KindTask is one task instance (or handler) finished on a host:
	// Task is its address, Status ok/changed/failed/skipped/cancelled,
	// Duration the time of the step that did its work (zero when it had
	// nothing to do), Message the error or the reason it was skipped;
	// Stdout, Stderr and, for command-like modules, ExitCode what its steps
	// printed. Detail is *TaskResult. Recorder counts these per host.
	KindTask Kind = "task"
)

func init() {
	registerRenderer(KindTask, renderTask)
	registerRenderer(KindTaskStart, func(*Printer, Event) {}) // the live view shows it
	countsTasks[KindTask] = true
}

// TaskResult is what a task did, for KindTask events (and, without
// Changes, for KindTaskStart).
type TaskResult struct {
	Module  string       `json:"module"`
	Changes []ChangeView `json:"changes,omitempty"`
	Handler bool         `json:"handler,omitempty"`
	// Batch is the number of tasks applied together in one round trip with
	// this one, itself included, when more than one: the event's Duration
	// is then the whole batch's, shared by each of them.
	Batch int `json:"batch,omitempty"`
	// Attempt is which run of a task with retries this is (1 for the
	// first); 0 when the task has no retries.
	Attempt int `json:"attempt,omitempty"`
}

// TaskTime is how a task's time reads: "in 1.2s", "in 7.9s, batch of 3",
// or "" when no work of its own was timed (nothing to do).
func TaskTime(d time.Duration, batch int) string {
	if d <= 0 {
		return ""
	}
	s := "in " + FormatDuration(d)
	if batch > 1 {
		s += fmt.Sprintf(", batch of %d", batch)
	}
	return s
}

func renderTask(p *Printer, e Event) {
	tr, _ := e.Detail.(*TaskResult)
	hasOutput := strings.TrimSpace(e.Stdout+e.Stderr) != ""
	switch e.Status {
	case StatusOK:
		if !p.Verbose || !hasOutput {
			return // the recap counts them; a line per unchanged task is noise
		}
	case StatusSkipped:
		if e.Message == "" || strings.HasPrefix(e.Message, "when ") {
			return
		}
	}
	batch := 0
	if tr != nil {
		batch = tr.Batch
	}
	p.Header(e.Host, e.Status, e.Task, attemptField(tr), TaskTime(e.Duration, batch))
	if tr != nil && e.Status == StatusChanged {
		renderTaskChanges(p, e.Task, tr.Changes)
	}
	if e.Message != "" {
		p.Body(e.Message)
	}
	// A failure always shows what the step printed, each stream under its
	// own label (an ignored or rescued one too); a task that succeeded
	// only with -v.
	if e.Status == StatusFailed || e.Status == StatusCancelled || e.Status == StatusIgnored || e.Status == StatusRescued || p.Verbose {
		p.Streams(e.Stdout, e.Stderr)
	}
	p.Hint(e.Hint)
}
