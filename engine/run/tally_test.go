package run

import (
	"errors"
	"strings"
	"testing"

	"github.com/drover-cm/drover/engine/report"
	"github.com/drover-cm/drover/engine/transport"
)

// TestHostTally: a host's outcome as its tasks report, in order.
func TestHostTally(t *testing.T) {
	lost := &transport.Error{Kind: transport.ErrConnLost, Addr: "10.0.0.1:22", Err: errors.New("connection reset")}
	for _, tc := range []struct {
		name  string
		steps func(t *hostTally)
		want  report.Event // Kind and Host left out
	}{
		{"nothing ran", func(t *hostTally) {}, report.Event{Status: report.StatusOK}},
		{"ok then changed", func(t *hostTally) {
			t.completed("a", false)
			t.completed("b", true)
			t.completed("c", false)
		}, report.Event{Status: report.StatusChanged}},
		{"a failed task says where the host stopped", func(t *hostTally) {
			t.completed("a", true)
			t.failed("b", errors.New("exit status 1"))
		}, report.Event{Status: report.StatusFailed, Message: "stopped at b"}},
		{"unreachable stays unreachable", func(t *hostTally) {
			t.failed("a", lost)
			t.failed("handler.h", errors.New("exit status 1"))
		}, report.Event{Status: report.StatusUnreachable, ErrorKind: "connection-lost"}},
		{"a stop before a task", func(t *hostTally) {
			t.completed("a", true)
			t.interrupted("b")
		}, report.Event{Status: report.StatusCancelled, Message: "interrupted: stopped before b"}},
		{"a stop after a failure leaves the failure", func(t *hostTally) {
			t.failed("a", errors.New("exit status 1"))
			t.interrupted("b")
		}, report.Event{Status: report.StatusFailed, Message: "stopped at a"}},
		{"held before it started", func(t *hostTally) {
			t.held("not started: max_fail")
		}, report.Event{Status: report.StatusNotStarted, Message: "not started: max_fail"}},
		{"held after an earlier play", func(t *hostTally) {
			t.begin()
			t.held(`stopped before play "two"`)
		}, report.Event{Status: report.StatusCancelled, Message: `stopped before play "two"`}},
		{"not evaluated", func(t *hostTally) {
			t.unevaluated()
		}, report.Event{Status: report.StatusFailed, Message: "the playbook could not be evaluated for this host (see the errors below)"}},
	} {
		ta := newHostTally()
		tc.steps(ta)
		got := ta.doneEvent("web1")
		tc.want.Kind, tc.want.Host = report.KindHostDone, "web1"
		if got.Status != tc.want.Status || got.Message != tc.want.Message || got.ErrorKind != tc.want.ErrorKind || got.Kind != tc.want.Kind || got.Host != tc.want.Host {
			t.Errorf("%s: %+v, want %+v", tc.name, got, tc.want)
		}
	}
}

func TestHostTallyUnreachableMessage(t *testing.T) {
	lost := &transport.Error{Kind: transport.ErrConnLost, Addr: "10.0.0.1:22", Err: errors.New("connection reset")}
	ta := newHostTally()
	if got := ta.unreachableMessage("file.a", lost); got != "10.0.0.1:22: connection reset\nthe host became unreachable during file.a, before any task completed" {
		t.Errorf("before any task: %q", got)
	}
	ta.completed("file.a", true)
	ta.completed("file.b", false)
	got := ta.unreachableMessage("command.c", lost)
	if !strings.HasSuffix(got, "during command.c; these tasks had completed: file.a, file.b") {
		t.Errorf("after two tasks: %q", got)
	}
	if st, kind := ta.failed("command.c", lost); st != report.StatusUnreachable || kind == "" {
		t.Errorf("failed = %s %q", st, kind)
	}
}
