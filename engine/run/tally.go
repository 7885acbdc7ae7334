package run

import (
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/drover-cm/drover/engine/fanout"
	"github.com/drover-cm/drover/engine/report"
	"github.com/drover-cm/drover/engine/transport"
)

// hostTally is one host's outcome across plays: the worst status so far and
// what its KindHostDone event says. Only the goroutine running the host
// changes it while a play runs.
type hostTally struct {
	status  report.Status
	start   time.Time
	dur     time.Duration
	ran     []string // tasks that ran (ok or changed), for unreachable reports
	stopped string   // where the host stopped, if it did
	kind    string
	msg     string
	hint    string
}

func newHostTally() *hostTally { return &hostTally{status: report.StatusOK} }

// begin notes the start of the host's first play; end the end of its last.
func (t *hostTally) begin() {
	if t.start.IsZero() {
		t.start = time.Now()
	}
}

func (t *hostTally) end() { t.dur = time.Since(t.start) }

// dead reports whether the host is out of later plays.
func (t *hostTally) dead() bool {
	return t.status == report.StatusFailed || t.status == report.StatusUnreachable || t.status == report.StatusLocked
}

// completed notes a task instance that ran (or had nothing to do).
func (t *hostTally) completed(addr string, changed bool) {
	t.ran = append(t.ran, addr)
	if changed && t.status == report.StatusOK {
		t.status = report.StatusChanged
	}
}

// failed notes that task addr failed with err, and returns the task's
// status and error kind: unreachable when the connection failed (then the
// host is too), failed otherwise.
func (t *hostTally) failed(addr string, err error) (report.Status, string) {
	t.stopped = addr
	if transport.Unreachable(err) && !isDelegateError(err) {
		t.status, t.kind = report.StatusUnreachable, errorKind(err)
		return t.status, t.kind
	}
	if t.status != report.StatusUnreachable {
		t.status = report.StatusFailed
	}
	return report.StatusFailed, ""
}

// unreachableMessage is what a task during which the host became
// unreachable reports: the error and the tasks that had completed.
func (t *hostTally) unreachableMessage(addr string, err error) string {
	msg := errorMessage(err)
	if len(t.ran) > 0 {
		return msg + fmt.Sprintf("\nthe host became unreachable during %s; these tasks had completed: %s", addr, strings.Join(t.ran, ", "))
	}
	return msg + fmt.Sprintf("\nthe host became unreachable during %s, before any task completed", addr)
}

// unevaluated notes that the playbook could not be evaluated for the host.
func (t *hostTally) unevaluated() error {
	t.status = report.StatusFailed
	t.msg = "the playbook could not be evaluated for this host (see the errors below)"
	return errors.New(t.msg)
}

// unprepared notes that connecting, gathering facts or reading state failed
// before any task ran.
func (t *hostTally) unprepared(err error) {
	t.status, t.kind, t.hint = failureStatus(err), errorKind(err), hintOf(err)
	t.msg = hostErrorMessage(err, t)
}

// interrupted notes that a stop came before task addr began.
func (t *hostTally) interrupted(addr string) {
	if t.status == report.StatusOK || t.status == report.StatusChanged {
		t.status = report.StatusCancelled
		t.msg = "interrupted: stopped before " + addr
		t.stopped = addr
	}
}

// held notes that the host was not started in a play (a stop, or max_fail):
// not started when it never was, cancelled when an earlier play ran it.
func (t *hostTally) held(why string) {
	t.status = report.StatusNotStarted
	if !t.start.IsZero() {
		t.status = report.StatusCancelled
	}
	t.msg = why
}

// crashed notes a bug (a panic) while the host ran: not the host's fault,
// but it failed.
func (t *hostTally) crashed(pe *fanout.PanicError) {
	t.status, t.msg = report.StatusFailed, pe.Error()
}

// doneEvent is the host's KindHostDone event.
func (t *hostTally) doneEvent(host string) report.Event {
	msg := t.msg
	if msg == "" && t.stopped != "" && t.status == report.StatusFailed {
		msg = "stopped at " + t.stopped // the recap says where
	}
	return report.Event{Kind: report.KindHostDone, Host: host, Status: t.status, Duration: t.dur, ErrorKind: t.kind, Message: msg, Hint: t.hint}
}

// hintOf returns the transport's hint for a connection failure.
func hintOf(err error) string {
	var terr *transport.Error
	if errors.As(err, &terr) {
		return terr.Hint
	}
	return ""
}

// errorMessage is err without the hint (shown on its own line) and without
// the host name (the output shows it already).
func errorMessage(err error) string {
	var terr *transport.Error
	if errors.As(err, &terr) && terr.Err != nil {
		return fmt.Sprintf("%s: %v", terr.Addr, terr.Err)
	}
	return err.Error()
}

// hostErrorMessage is errorMessage, and for a host that became unreachable
// the tasks that had run.
func hostErrorMessage(err error, t *hostTally) string {
	msg := errorMessage(err)
	if transport.Unreachable(err) {
		if len(t.ran) > 0 {
			msg += fmt.Sprintf("\nthe connection was lost after these tasks ran: %s", strings.Join(t.ran, ", "))
		} else {
			msg += "\nno task ran on this host"
		}
	}
	return msg
}
