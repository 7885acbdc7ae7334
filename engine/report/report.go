// Package report turns what a run does into output. Engine code emits Events;
// Sinks render them: Terminal for people (with a live view on a terminal,
// live.go, and running lines in a log, announce.go), JSON for programs,
// Recorder for the
// recap, RunCollector for the HTML report (html.go holds the one HTML layer
// of every report). Every string a sink writes passes through a Masker first, so a
// registered secret (a become password, a sensitive value) never appears;
// sinks mask values before encoding them, and writers for people escape
// control characters from hosts too (clean.go, escape.go).
//
// Sinks are safe for concurrent use: hosts run in parallel and emit as they go.
//
// Adding a kind of event (plan, apply): declare its Kind, put its data in the
// Event fields or in Detail, register how Terminal draws it with
// registerRenderer in an init function of the file that declares it, and
// list it in docs/cli.md (a test checks the kinds and members there).
package report

import (
	"errors"
	"sync"
	"time"
)

// Kind says what an Event is about.
type Kind string

// Kinds emitted by ad-hoc commands. JSON consumers may rely on these names.
const (
	KindRunStart Kind = "run_start" // Task names the command, Hosts the selection
	KindConnect  Kind = "connect"   // a host was connected to (ok) or not (unreachable)
	KindCommand  Kind = "command"   // a command finished on a host
	KindPing     Kind = "ping"      // connect + `true` round trip on a host
	KindHostDone Kind = "host_done" // a host has finished; its final Status
	KindWarning  Kind = "warning"   // something the user should know; Host may be empty
	KindRecap    Kind = "recap"     // the end of the run: Recap is set
)

// Status is the outcome of a task or a host.
type Status string

const (
	StatusOK          Status = "ok"
	StatusChanged     Status = "changed"
	StatusFailed      Status = "failed"
	StatusUnreachable Status = "unreachable"
	StatusSkipped     Status = "skipped"
	// StatusIgnored: a task failed, and its on_failure = "continue" said
	// to go on (a task status only: the host is not failed by it).
	StatusIgnored Status = "ignored"
	// StatusRescued: a task failed inside a block whose rescue tasks then
	// ran (a task status only).
	StatusRescued Status = "rescued"
	// StatusCancelled: the host was being worked on when the run was
	// interrupted, and was cut short.
	StatusCancelled Status = "cancelled"
	// StatusNotStarted: the run was interrupted before the host's turn.
	StatusNotStarted Status = "not_started"
	// StatusLocked: another run held the host's run lock (engine/runlock)
	// for the whole --lock-timeout; nothing was read or applied.
	StatusLocked Status = "locked"
)

// Event is one thing that happened. Only the fields that make sense for its
// Kind are set; the JSON sink omits the rest (see docs/cli.md for the schema).
type Event struct {
	Time   time.Time
	Kind   Kind
	Host   string
	Task   string
	Status Status
	// Duration of what the event reports: the command's run time, the
	// host's total time, the whole run for a recap.
	Duration time.Duration
	// ConnectTime is how long connecting and authenticating took.
	ConnectTime time.Duration
	Command     string
	// ExitCode is set when a command ran to completion.
	ExitCode *int
	Signal   string
	Stdout   string
	Stderr   string
	// ErrorKind classifies a failure (transport.ErrorKind names: "refused",
	// "auth", "timeout", ...), "" when there is none.
	ErrorKind string
	Message   string
	Hint      string
	// Hosts are the selected hosts, on KindRunStart.
	Hosts []string
	// Recap is set on KindRecap.
	Recap *Recap
	// Detail carries data specific to a kind (a plan's changes, ...). It is
	// encoded as the "detail" member of the JSON object.
	Detail any
}

// Exit returns a pointer to code, for Event.ExitCode.
func Exit(code int) *int { return &code }

// Sink receives events.
type Sink interface {
	// Emit handles one event. It may be called from many goroutines.
	Emit(Event)
	// Close writes anything still buffered. Emit must not be called after.
	Close() error
}

// Multi sends every event to each of sinks, in order.
func Multi(sinks ...Sink) Sink { return multi(sinks) }

type multi []Sink

func (m multi) Emit(e Event) {
	for _, s := range m {
		s.Emit(e)
	}
}

func (m multi) Close() error {
	var errs []error
	for _, s := range m {
		errs = append(errs, s.Close())
	}
	return errors.Join(errs...)
}

// Emitter stamps events with the time and sends them to a sink; engine code
// holds one instead of a Sink so that every event has a time.
type Emitter struct {
	Sink Sink
	now  func() time.Time
}

// NewEmitter returns an Emitter for s.
func NewEmitter(s Sink) *Emitter { return &Emitter{Sink: s, now: time.Now} }

// Emit sets e.Time when it is zero and sends e on.
func (em *Emitter) Emit(e Event) {
	if e.Time.IsZero() {
		e.Time = em.now()
	}
	em.Sink.Emit(e)
}

// Recorder keeps the last status of each host, to build the recap. Per-task
// statuses (KindTask events of apply) are counted per host too.
type Recorder struct {
	mu    sync.Mutex
	hosts map[string]*HostRecap
}

// NewRecorder returns an empty Recorder.
func NewRecorder() *Recorder { return &Recorder{hosts: map[string]*HostRecap{}} }

func (r *Recorder) row(host string) *HostRecap {
	h := r.hosts[host]
	if h == nil {
		h = &HostRecap{Host: host}
		r.hosts[host] = h
	}
	return h
}

// Emit implements Sink.
func (r *Recorder) Emit(e Event) {
	if e.Host == "" || e.Kind == KindPhase {
		return // a phase is no work done: the recap is as it was without phases
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	h := r.row(e.Host) // seen: a host that never reports done was cut
	switch {
	case e.Kind == KindHostDone:
		h.Status = e.Status
		h.Duration = e.Duration
		h.ErrorKind = e.ErrorKind
		h.Message = e.Message
	case countsTasks[e.Kind] && e.Status != "":
		h.Tasks.Add(e.Status)
	}
}

// countsTasks lists the kinds whose Status is one task's outcome, counted in
// HostRecap.Tasks. Files adding task-level kinds register them here.
var countsTasks = map[Kind]bool{}

// Close implements Sink.
func (r *Recorder) Close() error { return nil }

// Recap builds the recap for hosts, in that order. A host that never finished
// is StatusNotStarted.
func (r *Recorder) Recap(hosts []string, elapsed time.Duration, interrupted bool) *Recap {
	r.mu.Lock()
	defer r.mu.Unlock()
	rc := &Recap{Duration: elapsed, Interrupted: interrupted}
	for _, name := range hosts {
		row := HostRecap{Host: name, Status: StatusNotStarted}
		if h := r.hosts[name]; h != nil {
			row = *h
			if row.Status == "" {
				// Tasks were seen but the host never reported done.
				row.Status = StatusCancelled
			}
		}
		rc.Hosts = append(rc.Hosts, row)
	}
	return rc
}
