package report

import (
	"bytes"
	"encoding/json"
	"io"
	"math"
	"reflect"
	"strings"
	"sync"
	"time"
)

// JSON writes one JSON object per event, one per line (JSON Lines), as soon
// as it is emitted. Field names are stable; docs/cli.md lists them.
type JSON struct {
	mu     sync.Mutex
	w      io.Writer
	masker *Masker
}

// NewJSON returns a JSON sink writing to w, masking secrets with m (nil: none).
func NewJSON(w io.Writer, m *Masker) *JSON { return &JSON{w: w, masker: m} }

// wireEvent is the JSON form of an Event.
type wireEvent struct {
	Time        string      `json:"time"`
	Kind        Kind        `json:"kind"`
	Host        string      `json:"host,omitempty"`
	Task        string      `json:"task,omitempty"`
	Status      Status      `json:"status,omitempty"`
	DurationMS  *float64    `json:"duration_ms,omitempty"`
	ConnectMS   *float64    `json:"connect_ms,omitempty"`
	Command     string      `json:"command,omitempty"`
	ExitCode    *int        `json:"exit_code,omitempty"`
	Signal      string      `json:"signal,omitempty"`
	Stdout      *string     `json:"stdout,omitempty"`
	Stderr      *string     `json:"stderr,omitempty"`
	ErrorKind   string      `json:"error_kind,omitempty"`
	Message     string      `json:"message,omitempty"`
	Hint        string      `json:"hint,omitempty"`
	Hosts       []string    `json:"hosts,omitempty"`
	Counts      *Counts     `json:"counts,omitempty"`
	Interrupted *bool       `json:"interrupted,omitempty"`
	Recap       []wireRecap `json:"recap,omitempty"`
	Detail      any         `json:"detail,omitempty"`
}

type wireRecap struct {
	Host       string  `json:"host"`
	Status     Status  `json:"status"`
	DurationMS float64 `json:"duration_ms"`
	Tasks      *Counts `json:"tasks,omitempty"`
	ErrorKind  string  `json:"error_kind,omitempty"`
	Message    string  `json:"message,omitempty"`
}

// millis is d in milliseconds with microsecond precision.
func millis(d time.Duration) float64 {
	return math.Round(float64(d)/float64(time.Microsecond)) / 1000
}

func optMillis(d time.Duration) *float64 {
	if d <= 0 {
		return nil
	}
	ms := millis(d)
	return &ms
}

func toWire(e Event) wireEvent {
	w := wireEvent{
		Time:       e.Time.UTC().Format(time.RFC3339Nano),
		Kind:       e.Kind,
		Host:       e.Host,
		Task:       e.Task,
		Status:     e.Status,
		DurationMS: optMillis(e.Duration),
		ConnectMS:  optMillis(e.ConnectTime),
		Command:    e.Command,
		ExitCode:   e.ExitCode,
		Signal:     e.Signal,
		ErrorKind:  e.ErrorKind,
		Message:    e.Message,
		Hint:       e.Hint,
		Hosts:      e.Hosts,
		Detail:     e.Detail,
	}
	// A command that ran always has both streams, even when empty, so that
	// consumers need not test for their presence.
	if e.ExitCode != nil || e.Stdout != "" || e.Stderr != "" {
		w.Stdout, w.Stderr = &e.Stdout, &e.Stderr
	}
	if r := e.Recap; r != nil {
		c := r.Counts()
		w.Counts = &c
		w.Interrupted = &r.Interrupted
		w.DurationMS = optMillis(r.Duration)
		for _, h := range r.Hosts {
			row := wireRecap{Host: h.Host, Status: h.Status, DurationMS: millis(h.Duration), ErrorKind: h.ErrorKind, Message: h.Message}
			if r.PerTask {
				t := h.Tasks
				row.Tasks = &t
			}
			w.Recap = append(w.Recap, row)
		}
	}
	return w
}

// Emit implements Sink. The event is masked before it is encoded; control
// characters stay as they are (JSON escapes them).
func (j *JSON) Emit(e Event) {
	e = masked(j.masker, e)
	var b bytes.Buffer
	enc := json.NewEncoder(&b)
	enc.SetEscapeHTML(false)
	if err := enc.Encode(toWire(e)); err != nil {
		// Only Detail can fail to encode; say so rather than drop the event.
		e.Detail = map[string]string{"encode_error": err.Error()}
		b.Reset()
		_ = enc.Encode(toWire(e))
	}
	j.mu.Lock()
	defer j.mu.Unlock()
	_, _ = j.w.Write(b.Bytes())
}

// Close implements Sink.
func (j *JSON) Close() error { return nil }

// JSONMembers are the names of the members a JSON event may have, for the
// test that docs/cli.md lists every one.
func JSONMembers() []string {
	t := reflect.TypeOf(wireEvent{})
	out := make([]string, 0, t.NumField())
	for i := range t.NumField() {
		name, _, _ := strings.Cut(t.Field(i).Tag.Get("json"), ",")
		out = append(out, name)
	}
	return out
}
