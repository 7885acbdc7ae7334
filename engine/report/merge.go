package report

import (
	"bufio"
	"encoding/json"
	"fmt"
	"io"
	"sort"
	"time"
)

// Stream is one controller's --json output, named for messages.
type Stream struct {
	Name string
	R    io.Reader
}

// Merged is the recap of several controllers' runs (drover report merge).
type Merged struct {
	// Command is the run_start's task: "apply", "plan", "exec", ...
	Command string
	Recap   *Recap
	// Plan sums the streams' plan summaries (plan runs only).
	Plan *PlanSummary
	// Incomplete names the streams that ended without a recap (or plan
	// summary): their controllers stopped early. Their hosts without a
	// host_done are in the recap as cancelled, error kind "incomplete";
	// hosts they never reached cannot be known.
	Incomplete []string
}

// IncompleteKind is the ErrorKind of a host whose stream ended before it did.
const IncompleteKind = "incomplete"

// Merge combines the JSON event streams of runs of the same command on
// disjoint hosts (--shard) into one recap. Durations: a host keeps its own;
// the run's is the longest stream's, as the controllers ran side by side.
// A host in two streams is an error naming both.
func Merge(streams []Stream) (*Merged, error) {
	m := &Merged{Recap: &Recap{}}
	owner := map[string]string{}
	for _, s := range streams {
		rows, err := m.read(s)
		if err != nil {
			return nil, err
		}
		for _, h := range rows {
			if prev, dup := owner[h.Host]; dup {
				return nil, fmt.Errorf("host %q is in both %s and %s: merge the streams of one run's shards only (each host in one shard)", h.Host, prev, s.Name)
			}
			owner[h.Host] = s.Name
			m.Recap.Hosts = append(m.Recap.Hosts, h)
		}
	}
	sort.SliceStable(m.Recap.Hosts, func(i, j int) bool { return m.Recap.Hosts[i].Host < m.Recap.Hosts[j].Host })
	return m, nil
}

// read decodes one stream and returns its hosts' recap rows.
func (m *Merged) read(s Stream) ([]HostRecap, error) {
	sc := bufio.NewScanner(s.R)
	sc.Buffer(make([]byte, 0, 64*1024), 64<<20) // a command's output can be large
	var (
		command       string
		ended         bool
		rows          []HostRecap
		done          = map[string]HostRecap{}
		seen          []string // hosts with events, first seen first
		first, last   time.Time
		line          int
		sawAnyElement bool
	)
	note := func(host string) {
		if _, ok := done[host]; !ok && host != "" {
			for _, h := range seen {
				if h == host {
					return
				}
			}
			seen = append(seen, host)
		}
	}
	for sc.Scan() {
		line++
		if len(sc.Bytes()) == 0 {
			continue
		}
		var e struct {
			wireEvent
			Detail json.RawMessage `json:"detail,omitempty"`
		}
		if err := json.Unmarshal(sc.Bytes(), &e); err != nil {
			return nil, fmt.Errorf("%s:%d: not a drover --json event (%w); pass the files drover --json wrote", s.Name, line, err)
		}
		sawAnyElement = true
		if t, err := time.Parse(time.RFC3339Nano, e.Time); err == nil {
			if first.IsZero() {
				first = t
			}
			last = t
		}
		switch e.Kind {
		case KindRunStart:
			command = e.Task
			if m.Command == "" {
				m.Command = command
			} else if command != m.Command {
				return nil, fmt.Errorf("%s is a %s run and the others %s: merge the streams of one command", s.Name, command, m.Command)
			}
		case KindHostDone:
			done[e.Host] = HostRecap{Host: e.Host, Status: e.Status, Duration: fromMillis(e.DurationMS), ErrorKind: e.ErrorKind, Message: e.Message}
			note(e.Host)
		case KindPlanSummary:
			var ps PlanSummary
			if err := json.Unmarshal(e.Detail, &ps); err != nil {
				return nil, fmt.Errorf("%s:%d: a plan_summary without its counts: %w", s.Name, line, err)
			}
			if m.Plan == nil {
				m.Plan = &PlanSummary{}
			}
			m.Plan.add(ps)
			ended = true
		case KindRecap:
			ended = true
			if e.Interrupted != nil && *e.Interrupted {
				m.Recap.Interrupted = true
			}
			m.Recap.Duration = max(m.Recap.Duration, fromMillis(e.DurationMS))
			rows = rows[:0]
			for _, r := range e.Recap {
				h := HostRecap{Host: r.Host, Status: r.Status, Duration: fromMillis(&r.DurationMS), ErrorKind: r.ErrorKind, Message: r.Message}
				if r.Tasks != nil {
					h.Tasks = *r.Tasks
					m.Recap.PerTask = true
				}
				rows = append(rows, h)
			}
		default:
			note(e.Host)
		}
	}
	if err := sc.Err(); err != nil {
		return nil, fmt.Errorf("reading %s: %w", s.Name, err)
	}
	if !sawAnyElement {
		return nil, fmt.Errorf("%s holds no events: was it written by drover --json?", s.Name)
	}
	if ended && m.Plan != nil && len(rows) == 0 {
		// A plan has no recap: its hosts' rows are their host_done events.
		for _, h := range seen {
			rows = append(rows, done[h])
		}
		m.Recap.Duration = max(m.Recap.Duration, last.Sub(first))
	}
	if ended {
		return rows, nil
	}
	m.Incomplete = append(m.Incomplete, s.Name)
	m.Recap.Duration = max(m.Recap.Duration, last.Sub(first))
	for _, h := range seen {
		r, ok := done[h]
		if !ok {
			r = HostRecap{Host: h, Status: StatusCancelled, ErrorKind: IncompleteKind,
				Message: s.Name + " ended before this host finished (its controller stopped or the file was cut)"}
		}
		rows = append(rows, r)
	}
	return rows, nil
}

func fromMillis(ms *float64) time.Duration {
	if ms == nil {
		return 0
	}
	return time.Duration(*ms * float64(time.Millisecond))
}

func (s *PlanSummary) add(o PlanSummary) {
	s.Create += o.Create
	s.Update += o.Update
	s.Delete += o.Delete
	s.Run += o.Run
	s.Deferred += o.Deferred
	s.Failed += o.Failed
}
