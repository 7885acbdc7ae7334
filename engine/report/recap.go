package report

import (
	"fmt"
	"strings"
	"time"
)

// Counts tallies outcomes, of hosts (in a Recap) or of tasks (per host).
type Counts struct {
	OK          int `json:"ok"`
	Changed     int `json:"changed"`
	Failed      int `json:"failed"`
	Unreachable int `json:"unreachable"`
	Skipped     int `json:"skipped"`
	Cancelled   int `json:"cancelled"`
	NotStarted  int `json:"not_started"`
	Locked      int `json:"locked,omitempty"`
	// Task outcomes only: failures that on_failure ignored, or that a
	// block's rescue took over.
	Ignored int `json:"ignored,omitempty"`
	Rescued int `json:"rescued,omitempty"`
}

// Add counts one outcome.
func (c *Counts) Add(s Status) {
	switch s {
	case StatusOK:
		c.OK++
	case StatusChanged:
		c.Changed++
	case StatusFailed:
		c.Failed++
	case StatusUnreachable:
		c.Unreachable++
	case StatusSkipped:
		c.Skipped++
	case StatusCancelled:
		c.Cancelled++
	case StatusNotStarted:
		c.NotStarted++
	case StatusLocked:
		c.Locked++
	case StatusIgnored:
		c.Ignored++
	case StatusRescued:
		c.Rescued++
	}
}

// Total is the number of outcomes counted.
func (c Counts) Total() int {
	return c.OK + c.Changed + c.Failed + c.Unreachable + c.Skipped + c.Cancelled + c.NotStarted + c.Locked + c.Ignored + c.Rescued
}

// String is the recap line: "12 ok, 1 failed, 2 unreachable". "ok" is always
// shown; the others only when not zero.
func (c Counts) String() string {
	parts := []string{fmt.Sprintf("%d ok", c.OK)}
	for _, p := range []struct {
		n    int
		name string
	}{
		{c.Changed, "changed"},
		{c.Failed, "failed"},
		{c.Unreachable, "unreachable"},
		{c.Skipped, "skipped"},
		{c.Cancelled, "cancelled"},
		{c.NotStarted, "not started"},
		{c.Locked, "locked"},
		{c.Ignored, "ignored"},
		{c.Rescued, "rescued"},
	} {
		if p.n > 0 {
			parts = append(parts, fmt.Sprintf("%d %s", p.n, p.name))
		}
	}
	return strings.Join(parts, ", ")
}

// HostRecap is one host's line in the recap.
type HostRecap struct {
	Host     string
	Status   Status
	Duration time.Duration
	// Tasks counts task outcomes on the host (apply); zero for ad-hoc commands.
	Tasks     Counts
	ErrorKind string
	Message   string
}

// Recap is the summary at the end of a run.
type Recap struct {
	Hosts    []HostRecap
	Duration time.Duration
	// Interrupted is set when the run was cancelled (Ctrl-C) before the end.
	Interrupted bool
	// PerTask asks for one row per host with task counts (apply); otherwise
	// rows list only the hosts that did not end ok, grouped by status.
	PerTask bool
}

// Counts tallies the hosts by final status.
func (r *Recap) Counts() Counts {
	var c Counts
	for _, h := range r.Hosts {
		c.Add(h.Status)
	}
	return c
}

// OK reports whether every host ended ok (or changed, or skipped) and the run
// was not interrupted: the condition for exit status 0.
func (r *Recap) OK() bool {
	if r.Interrupted {
		return false
	}
	for _, h := range r.Hosts {
		switch h.Status {
		case StatusOK, StatusChanged, StatusSkipped:
		default:
			return false
		}
	}
	return true
}

// Line is the one-line summary: "6 hosts in 1.2s: 5 ok, 1 unreachable".
func (r *Recap) Line() string {
	noun := "hosts"
	if len(r.Hosts) == 1 {
		noun = "host"
	}
	s := fmt.Sprintf("%d %s in %s: %s", len(r.Hosts), noun, FormatDuration(r.Duration), r.Counts())
	if r.Interrupted {
		s = "interrupted: " + s
	}
	return s
}

// FormatDuration rounds d for people: 850µs, 12ms, 1.24s, 2m3s.
func FormatDuration(d time.Duration) string {
	switch {
	case d <= 0:
		return "0s"
	case d < time.Millisecond:
		return d.Round(time.Microsecond).String()
	case d < 10*time.Millisecond:
		return d.Round(100 * time.Microsecond).String()
	case d < time.Second:
		return d.Round(time.Millisecond).String()
	case d < time.Minute:
		return d.Round(10 * time.Millisecond).String()
	}
	return d.Round(time.Second).String()
}
