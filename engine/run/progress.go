package run

import (
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/drover-cm/drover/engine/config"
	"github.com/drover-cm/drover/engine/report"
	"github.com/drover-cm/drover/engine/transport"
	"github.com/drover-cm/drover/modules/contract"
)

// What the executor tells the operator while a host runs: a KindTaskStart
// when an instance's step begins, and with its KindTask the time of that
// step (never the time since some earlier event) and what the step printed.

// stepTime is the time an instance reports: that of the step that did its
// work. The instances of a batch share the batch's time, and say so.
type stepTime struct {
	d     time.Duration
	batch int // instances applied in the step's round trip, when more than one
}

// batchTimes gives each instance of a run segment its time, work[k] saying
// whether instance k was applied in the batch, which took d: those applied
// share d and the batch's size; the others did nothing here and report no
// time at all.
func batchTimes(work []bool, d time.Duration) []stepTime {
	n := 0
	for _, w := range work {
		if w {
			n++
		}
	}
	if n < 2 {
		n = 0 // alone in its round trip: no batch to speak of
	}
	out := make([]stepTime, len(work))
	for k, w := range work {
		if w {
			out[k] = stepTime{d: d, batch: n}
		}
	}
	return out
}

// willRun reports whether a run segment applies in: read, diffed without
// error, and with changes or steps.
func willRun(in *instance) bool {
	return in.state == instChecked && in.checkErr == nil && hasWork(in.plan)
}

// start emits the KindTaskStart of in, once.
func (x *executor) start(in *instance, batch int) { x.startAddr(in.addr, in.task, batch) }

func (x *executor) startAddr(addr string, t *config.Task, batch int) {
	if x.started[addr] {
		return
	}
	x.started[addr] = true
	x.hr.r.em.Emit(report.Event{Kind: report.KindTaskStart, Host: x.hr.host.Name, Task: addr,
		Detail: &report.TaskResult{Module: t.Type, Handler: t.Handler, Batch: batch}})
}

// phase emits the host's KindPhase: what the live view shows on its line
// while none of its tasks is in flight (connecting, reading state).
func (hr *hostRun) phase(p string, tasks int) {
	hr.r.em.Emit(report.Event{Kind: report.KindPhase, Host: hr.host.Name, Detail: &report.HostPhase{Phase: p, Tasks: tasks}})
}

// hiddenOutput replaces what a sensitive task printed: a secret may be in
// it in a form the masker cannot know.
const hiddenOutput = "(hidden: the task is sensitive)"

// withOutput puts on e what in's steps printed (res), each stream on its
// own, and for a command-like module (one with an exit_code output) the
// exit status. err is the step's failure, if any: a non-zero exit is then
// the message, its stderr being shown as stderr rather than in it (but
// for a sensitive task, whose streams are hidden).
func withOutput(e *report.Event, in *instance, res transport.Result, err error) {
	e.Stdout, e.Stderr = string(res.Stdout), string(res.Stderr)
	if in.sensitive {
		for _, s := range []*string{&e.Stdout, &e.Stderr} {
			if strings.TrimSpace(*s) != "" {
				*s = hiddenOutput
			}
		}
	}
	e.Signal = res.Signal
	var se *contract.StepError
	exited := errors.As(err, &se) && se.Err == nil
	// Only a bare exit status: a message that says more (retries, a
	// stop during them) stays.
	if exited && err == error(se) && e.Status == report.StatusFailed && !in.sensitive {
		// A sensitive task's streams are hidden: its message keeps the end
		// of stderr, where the masker hides the secrets it knows.
		e.Message = fmt.Sprintf("exit status %d", se.ExitCode)
	}
	if !commandLike(in.task) {
		return
	}
	switch {
	case err == nil:
		e.ExitCode = report.Exit(res.ExitCode)
	case exited:
		e.ExitCode = report.Exit(se.ExitCode)
	}
}

// commandLike reports whether t's module runs a program whose exit status
// is one of its outputs (command, shell).
func commandLike(t *config.Task) bool {
	if t.Module == nil {
		return false
	}
	for _, o := range t.Module.Spec().Outputs {
		if o.Name == "exit_code" {
			return true
		}
	}
	return false
}

// cut notes that task addr was cut short by the run's cancellation (a
// second Ctrl-C), and returns the task's status.
func (t *hostTally) cut(addr string) report.Status {
	t.stopped = addr
	if t.status == report.StatusOK || t.status == report.StatusChanged {
		t.status = report.StatusCancelled
		t.msg = "interrupted: cut during " + addr
	}
	return report.StatusCancelled
}
