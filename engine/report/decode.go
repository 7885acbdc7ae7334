package report

// Reading --json streams back: DecodeEvent turns one line of the JSON sink's
// output into the Event it was written from, with its Detail in the type the
// kind's emitter used, so that the sinks built on events (the recap, the HTML
// report) can be fed from files: drover report merge does.

import (
	"encoding/json"
	"fmt"
	"time"
)

// detailTypes gives, per kind, a new value of the type its Detail has in the
// engine, to decode the JSON "detail" into. A kind not listed keeps its
// detail as the raw JSON (json.RawMessage), which encodes back as it was.
var detailTypes = map[Kind]func() any{
	KindRunStart:    func() any { return new(RunInfo) },
	KindPlan:        func() any { return new(HostPlan) },
	KindPlanSummary: func() any { return new(PlanSummary) },
	KindTaskStart:   func() any { return new(TaskResult) },
	KindTask:        func() any { return new(TaskResult) },
	KindRetry:       func() any { return new(TaskResult) },
}

// RunInfo is the detail of a plan's or an apply's run_start: what the HTML
// report says about who ran it on which input. It is in the event stream so
// that the report of shards merged from their streams says it too.
type RunInfo struct {
	// Operator is who ran it: user@machine.
	Operator string `json:"operator,omitempty"`
	// Playbook and Inventory are "sha256:…" digests of the files read;
	// PlaybookFiles and InventoryFiles the paths given.
	Playbook       string   `json:"playbook,omitempty"`
	PlaybookFiles  []string `json:"playbook_files,omitempty"`
	Inventory      string   `json:"inventory,omitempty"`
	InventoryFiles []string `json:"inventory_files,omitempty"`
}

// DecodeEvent reads one JSON Lines event as the JSON sink wrote it. Times
// and durations come back as written: RFC 3339 with nanoseconds, and
// milliseconds with microsecond precision. A recap's counts are not read
// (Recap.Counts derives them from its hosts).
func DecodeEvent(line []byte) (Event, error) {
	var w struct {
		wireEvent
		Detail json.RawMessage `json:"detail,omitempty"`
	}
	if err := json.Unmarshal(line, &w); err != nil {
		return Event{}, err
	}
	if w.Kind == "" {
		return Event{}, fmt.Errorf("an object without a kind")
	}
	e := Event{
		Kind:        w.Kind,
		Host:        w.Host,
		Task:        w.Task,
		Status:      w.Status,
		Duration:    fromMillis(w.DurationMS),
		ConnectTime: fromMillis(w.ConnectMS),
		Command:     w.Command,
		ExitCode:    w.ExitCode,
		Signal:      w.Signal,
		ErrorKind:   w.ErrorKind,
		Message:     w.Message,
		Hint:        w.Hint,
		Hosts:       w.Hosts,
	}
	if w.Time != "" {
		t, err := time.Parse(time.RFC3339Nano, w.Time)
		if err != nil {
			return Event{}, fmt.Errorf("time %q: %w", w.Time, err)
		}
		e.Time = t
	}
	if w.Stdout != nil {
		e.Stdout = *w.Stdout
	}
	if w.Stderr != nil {
		e.Stderr = *w.Stderr
	}
	if w.Kind == KindRecap || w.Recap != nil || w.Counts != nil {
		r := &Recap{Duration: e.Duration}
		if w.Interrupted != nil {
			r.Interrupted = *w.Interrupted
		}
		for _, row := range w.Recap {
			h := HostRecap{Host: row.Host, Status: row.Status, Duration: fromMillis(&row.DurationMS), ErrorKind: row.ErrorKind, Message: row.Message}
			if row.Tasks != nil {
				h.Tasks = *row.Tasks
				r.PerTask = true
			}
			r.Hosts = append(r.Hosts, h)
		}
		e.Recap = r
	}
	if len(w.Detail) > 0 && string(w.Detail) != "null" {
		if newDetail, ok := detailTypes[w.Kind]; ok {
			d := newDetail()
			if err := json.Unmarshal(w.Detail, d); err != nil {
				return Event{}, fmt.Errorf("the detail of a %s event: %w", w.Kind, err)
			}
			e.Detail = d
		} else {
			e.Detail = w.Detail
		}
	}
	return e, nil
}
