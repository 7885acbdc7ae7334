package planfile

import (
	"fmt"
	"strings"

	"github.com/drover-cm/drover/engine/report"
)

// Moved is one task whose plan no longer holds on a host.
type Moved struct {
	Task string
	// Why says what moved: the state, the changes, or the task itself.
	Why string
	// Old and New are the state and changes in words: what the plan read
	// and would do, what apply reads and would do now.
	Old, New string
}

// Compare compares a play's saved tasks with the same play planned again
// (by apply, from the state it just read), and returns what moved. exempt
// names tasks whose state an earlier play of this apply may have changed:
// their state may differ, only what they are must not.
func Compare(saved, now []Task, exempt func(addr string) bool) []Moved {
	byAddr := map[string]Task{}
	for _, t := range now {
		byAddr[t.Addr] = t
	}
	var out []Moved
	seen := map[string]bool{}
	for _, s := range saved {
		seen[s.Addr] = true
		n, ok := byAddr[s.Addr]
		switch {
		case !ok:
			out = append(out, Moved{Task: s.Addr, Why: "the task is no longer in the play on this host", Old: words(s), New: "(no such task)"})
		case s.Module != n.Module || s.Deferred != n.Deferred || s.Skipped != n.Skipped:
			out = append(out, Moved{Task: s.Addr, Why: "the task is not what it was", Old: words(s), New: words(n)})
		case s.State != n.State && !exempt(s.Addr):
			out = append(out, Moved{Task: s.Addr, Why: "the host's state moved", Old: words(s), New: words(n)})
		case s.ChangesDigest != n.ChangesDigest && (s.State == n.State || !exempt(s.Addr)):
			out = append(out, Moved{Task: s.Addr, Why: "the changes differ (the state read is the same: a value the task is made from, such as a fact, moved)", Old: words(s), New: words(n)})
		}
	}
	for _, n := range now {
		if !seen[n.Addr] {
			out = append(out, Moved{Task: n.Addr, Why: "a task the plan did not have", Old: "(no such task)", New: words(n)})
		}
	}
	return out
}

// words is a task's state and changes in one line each.
func words(t Task) string {
	var parts []string
	switch {
	case t.Skipped != "":
		return "skipped: " + t.Skipped
	case t.Deferred:
		return "known after apply"
	}
	if t.StateSummary != "" {
		parts = append(parts, "state: "+t.StateSummary)
	}
	parts = append(parts, "plan: "+ChangeLine(t.Changes))
	return strings.Join(parts, "; ")
}

// ChangeLine is changes as plan output's first lines say them: "~ update
// /etc/motd, + create /srv", or "no change".
func ChangeLine(cs []report.ChangeView) string {
	if len(cs) == 0 {
		return "no change"
	}
	var s []string
	for _, c := range cs {
		s = append(s, fmt.Sprintf("%s %s", c.Action, c.Subject))
	}
	return strings.Join(s, ", ")
}

// StaleError is a host where the plan no longer holds: apply refuses its
// changes (or, with --replan, plans it again).
type StaleError struct {
	Host, Play string
	Moved      []Moved
}

func (e *StaleError) Error() string {
	return fmt.Sprintf("refused: the saved plan no longer holds on this host (play %q); nothing was changed here. What moved:%s\nmake a new plan (drover plan -out), or apply with --replan to plan such hosts again", e.Play, e.Diff())
}

// Diff is what moved, a task per paragraph: why, then the planned and the
// current state and changes.
func (e *StaleError) Diff() string {
	var b strings.Builder
	for _, m := range e.Moved {
		fmt.Fprintf(&b, "\n  %s: %s\n    - planned: %s\n    + now:     %s", m.Task, m.Why, m.Old, m.New)
	}
	return b.String()
}
