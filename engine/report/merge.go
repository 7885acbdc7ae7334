package report

import (
	"bufio"
	"cmp"
	"fmt"
	"io"
	"math"
	"slices"
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
	// Report is the HTML report of the merged run (plan and apply streams),
	// as the unsharded run's --html would be, its hosts sorted by name.
	Report *RunReport
	// Warnings say what the merged run's report cannot vouch for: shards
	// that ran another playbook or inventory than the first stream's.
	Warnings []string
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
	var reports []namedReport
	for _, s := range streams {
		col := NewRunCollector()
		rows, err := m.read(s, col)
		if err != nil {
			return nil, err
		}
		reports = append(reports, namedReport{s.Name, col.Report()})
		for _, h := range rows {
			if prev, dup := owner[h.Host]; dup {
				return nil, fmt.Errorf("host %q is in both %s and %s: merge the streams of one run's shards only (each host in one shard)", h.Host, prev, s.Name)
			}
			owner[h.Host] = s.Name
			m.Recap.Hosts = append(m.Recap.Hosts, h)
		}
	}
	sort.SliceStable(m.Recap.Hosts, func(i, j int) bool { return m.Recap.Hosts[i].Host < m.Recap.Hosts[j].Host })
	m.Report = m.runReport(reports)
	return m, nil
}

type namedReport struct {
	name string
	*RunReport
}

// runReport joins the shards' reports into the one the unsharded run would
// have written: the earliest start, the longest duration, every host (sorted
// by name), the warnings once each; the merged recap or plan summary.
func (m *Merged) runReport(shards []namedReport) *RunReport {
	rep := &RunReport{Command: m.Command, Recap: m.Recap}
	if m.Plan != nil {
		rep.Recap, rep.PlanLine = nil, m.Plan.Line()
	}
	warned := map[string]bool{}
	first := "" // the stream the run's input is from
	for _, r := range shards {
		if !r.Started.IsZero() && (rep.Started.IsZero() || r.Started.Before(rep.Started)) {
			rep.Started = r.Started
		}
		rep.Duration = max(rep.Duration, r.Duration)
		if rep.Operator == "" && r.Operator != "" {
			// The run's input is the first stream's that says it.
			rep.Operator, rep.Playbook, rep.PlaybookFiles = r.Operator, r.Playbook, r.PlaybookFiles
			rep.Inventory, rep.InventoryFiles = r.Inventory, r.InventoryFiles
			first = r.name
		} else if r.Operator != "" {
			for _, d := range []struct{ what, got, want string }{
				{"playbook", r.Playbook, rep.Playbook}, {"inventory", r.Inventory, rep.Inventory},
			} {
				if d.got != d.want {
					m.Warnings = append(m.Warnings, fmt.Sprintf("%s ran another %s (%s) than %s (%s): its hosts' part of the report is of that one; merge the shards of one run", r.name, d.what, d.got, first, d.want))
				}
			}
		}
		rep.Hosts = append(rep.Hosts, r.Hosts...)
		for _, w := range r.Warnings {
			// A warning about the playbook or the inventory comes from
			// every shard.
			if !warned[w] {
				warned[w] = true
				rep.Warnings = append(rep.Warnings, w)
			}
		}
	}
	if m.Plan == nil {
		rep.Duration = m.Recap.Duration
	}
	rep.Warnings = append(rep.Warnings, m.Warnings...)
	// A host of an incomplete stream has no host_done: its status is the
	// merged recap's (cancelled, and why).
	final := map[string]HostRecap{}
	for _, h := range m.Recap.Hosts {
		final[h.Host] = h
	}
	for i := range rep.Hosts {
		h := &rep.Hosts[i]
		if f, ok := final[h.Host]; ok && h.Status == "" {
			h.Status, h.ErrorKind, h.Message = f.Status, f.ErrorKind, f.Message
		}
	}
	slices.SortStableFunc(rep.Hosts, func(a, b RunHost) int { return cmp.Compare(a.Host, b.Host) })
	return rep
}

// read decodes one stream and returns its hosts' recap rows; its events go
// to col too.
func (m *Merged) read(s Stream, col *RunCollector) ([]HostRecap, error) {
	sc := bufio.NewScanner(s.R)
	sc.Buffer(make([]byte, 0, 64*1024), 64<<20) // a command's output can be large
	var (
		command     string
		ended       bool
		rows        []HostRecap
		done        = map[string]HostRecap{}
		seen        []string // hosts with events, first seen first
		first, last time.Time
		line        int
		events      int
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
		e, err := DecodeEvent(sc.Bytes())
		if err != nil {
			return nil, fmt.Errorf("%s:%d: not a drover --json event (%w); pass the files drover --json wrote", s.Name, line, err)
		}
		events++
		col.Emit(e)
		if !e.Time.IsZero() {
			if first.IsZero() {
				first = e.Time
			}
			last = e.Time
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
			done[e.Host] = HostRecap{Host: e.Host, Status: e.Status, Duration: e.Duration, ErrorKind: e.ErrorKind, Message: e.Message}
			note(e.Host)
		case KindPlanSummary:
			ps, ok := e.Detail.(*PlanSummary)
			if !ok {
				return nil, fmt.Errorf("%s:%d: a plan_summary without its counts", s.Name, line)
			}
			if m.Plan == nil {
				m.Plan = &PlanSummary{}
			}
			m.Plan.add(*ps)
			ended = true
		case KindRecap:
			ended = true
			if e.Recap.Interrupted {
				m.Recap.Interrupted = true
			}
			m.Recap.Duration = max(m.Recap.Duration, e.Recap.Duration)
			if e.Recap.PerTask {
				m.Recap.PerTask = true
			}
			rows = append(rows[:0], e.Recap.Hosts...)
		default:
			note(e.Host)
		}
	}
	if err := sc.Err(); err != nil {
		return nil, fmt.Errorf("reading %s: %w", s.Name, err)
	}
	if events == 0 {
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

// fromMillis is the duration of a JSON duration_ms, to the microsecond it
// was written with.
func fromMillis(ms *float64) time.Duration {
	if ms == nil {
		return 0
	}
	return time.Duration(math.Round(*ms*1000)) * time.Microsecond
}

func (s *PlanSummary) add(o PlanSummary) {
	s.Create += o.Create
	s.Update += o.Update
	s.Delete += o.Delete
	s.Run += o.Run
	s.Deferred += o.Deferred
	s.Failed += o.Failed
}
