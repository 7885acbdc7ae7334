package report

import "fmt"

// KindRetry is an attempt of a task with retries that did not succeed,
// with another to come: Task is its address, Message why the attempt
// failed, Detail *TaskResult (Attempt is the attempt that failed). The
// task's final KindTask event says how it ended.
const KindRetry Kind = "task_retry"

func init() { registerRenderer(KindRetry, renderRetry) }

func renderRetry(p *Printer, e Event) {
	tr, _ := e.Detail.(*TaskResult)
	what := "retrying"
	if tr != nil && tr.Attempt > 0 {
		what = fmt.Sprintf("attempt %d failed, retrying", tr.Attempt)
	}
	p.Header(e.Host, Status("retry"), e.Task, what, p.Duration("in", e.Duration))
	p.Body(e.Message)
}

// recapExtra is the recap's per-host counts that only failure handling
// produces, shown when there are any: " ignored=1 rescued=1".
func recapExtra(c Counts) string {
	s := ""
	if c.Ignored > 0 {
		s += fmt.Sprintf(" ignored=%d", c.Ignored)
	}
	if c.Rescued > 0 {
		s += fmt.Sprintf(" rescued=%d", c.Rescued)
	}
	return s
}

// attemptField is "attempt 3" for the header of a task that ran more than
// once, "" otherwise.
func attemptField(tr *TaskResult) string {
	if tr == nil || tr.Attempt < 2 {
		return ""
	}
	return fmt.Sprintf("attempt %d", tr.Attempt)
}
