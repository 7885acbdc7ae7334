package run

import (
	"fmt"
	"strings"
	"sync"

	"github.com/drover-cm/drover/engine/config"
	"github.com/drover-cm/drover/engine/planfile"
	"github.com/drover-cm/drover/engine/report"
	"github.com/drover-cm/drover/inventory"
	"github.com/drover-cm/drover/modules/contract"
)

// Saved plans (engine/planfile). Plan records, per host and play, each
// task's changes with the digest of the state its check read and of the
// changes themselves. Apply of a saved plan evaluates the playbook again
// (the caller has checked that every file and variable is what the plan
// read) and reads each host's state in the same one round trip; a host
// whose tasks, state or changes differ from the saved ones is refused
// before anything runs on it (or, with Replan, applied as planned now).
// When the state and inputs are the same, Diff being pure, the changes
// apply runs are the saved ones.

// Saved makes Plan record and Apply check a saved plan.
type Saved struct {
	Digest planfile.Digester
	// Plan is the saved plan Apply checks hosts against; nil in Plan.
	Plan *planfile.Plan
	// Replan applies a host whose state moved as planned now, instead of
	// refusing it; what moved is reported as a warning.
	Replan bool

	once  sync.Once
	plays map[string]map[int]*planfile.Play // host → play index → play
}

// savedPlay is host's saved play of the playbook's play i, or nil.
func (s *Saved) savedPlay(host string, i int) *planfile.Play {
	s.once.Do(func() {
		s.plays = map[string]map[int]*planfile.Play{}
		for _, h := range s.Plan.Hosts {
			m := map[int]*planfile.Play{}
			for k := range h.Plays {
				m[h.Plays[k].Index] = &h.Plays[k]
			}
			s.plays[h.Name] = m
		}
	})
	return s.plays[host][i]
}

// savedHosts keeps of a play's selected hosts those the saved plan has for
// it: apply of a saved plan touches only what the plan showed. A host the
// plan has that is no longer selected is an error.
func (r *runner) savedHosts(i int, pl *config.Play, hosts []*inventory.Host) ([]*inventory.Host, error) {
	s := r.opts.Saved
	sel := map[string]bool{}
	var out []*inventory.Host
	for _, h := range hosts {
		sel[h.Name] = true
		if s.savedPlay(h.Name, i) != nil {
			out = append(out, h)
		}
	}
	var missing []string
	for _, h := range s.Plan.Hosts {
		for _, p := range h.Plays {
			if p.Index == i && !sel[h.Name] {
				missing = append(missing, h.Name)
			}
		}
	}
	if len(missing) > 0 {
		return nil, fmt.Errorf("play %q: the saved plan has %s, which the inventory no longer selects; make the plan again", pl.Name, strings.Join(missing, ", "))
	}
	return out, nil
}

// savedTasks is the prepared play as a saved plan records it.
func (hr *hostRun) savedTasks() []planfile.Task {
	d := hr.r.opts.Saved.Digest
	var out []planfile.Task
	for _, t := range hr.order {
		if !hr.e.expand[t] {
			out = append(out, planfile.Task{Addr: t.Addr(), Module: t.Type, Deferred: true})
			continue
		}
		for _, in := range hr.e.insts[t] {
			st := planfile.Task{Addr: in.addr, Module: t.Type}
			switch {
			case in.state == instSkipped:
				st.Skipped = "when is false"
			case in.state == instDeferred || in.checkErr != nil:
				// A check error is refused by Plan before any file is
				// written; here it is what providedEarlier defers.
				st.Deferred = true
			default:
				st.State, st.StateSummary = in.stateDigest, hr.r.mask(in.stateSummary)
				st.ChangesDigest = d.Changes(in.plan)
				st.Changes = hr.r.maskChanges(report.Changes(in.plan, in.metaSensitive, in.sensitiveAttrs()))
			}
			out = append(out, st)
		}
	}
	return out
}

// noteState records the digest and a summary of what in's check read, for
// a saved plan.
func (hr *hostRun) noteState(in *instance, out contract.CheckOutput) {
	if hr.r.opts.Saved == nil {
		return
	}
	in.stateDigest = hr.r.opts.Saved.Digest.State(out, append(factLines(in.mtask, out), sharedLines(out)...))
	in.stateSummary = stateSummary(in, out)
}

// factLines are the facts the batched read found for a FactChecker task,
// one per fact it asked for.
func factLines(t contract.Task, out contract.CheckOutput) []string {
	fc, ok := t.(contract.FactChecker)
	if !ok || out.Facts == nil {
		return nil
	}
	var lines []string
	for _, f := range fc.Facts() {
		v, found := "", false
		switch f.Kind {
		case contract.FactTool:
			found = out.Facts.Tool(f.Key)
		case contract.FactPasswd:
			v, found = out.Facts.Passwd(f.Key)
		case contract.FactGroup:
			v, found = out.Facts.Group(f.Key)
		default:
			v = "(unknown fact kind)"
		}
		lines = append(lines, fmt.Sprintf("%s %s %v=%s", f.Kind, f.Key, found, v))
	}
	return lines
}

// sharedLines are what the shared reads gave a SharedChecker task, one
// line per key: they are part of the state its Diff read.
func sharedLines(out contract.CheckOutput) []string {
	var lines []string
	for i, sh := range out.Shared {
		lines = append(lines, fmt.Sprintf("shared %d exit=%d %q %q", i, sh.ExitCode, sh.Stdout, sh.Stderr))
	}
	return lines
}

// stateSummary is what a check read, in words that hold no content: a
// path's type, mode, owner, size and the start of its SHA-256 (neither for
// a sensitive task's file: its length and checksum are a secret's); another
// task's first lines of check output ("(sensitive)" for a sensitive task).
// Masked by the caller.
func stateSummary(in *instance, out contract.CheckOutput) string {
	if p := out.Path; p != nil {
		if p.Type == "missing" {
			return "missing"
		}
		s := fmt.Sprintf("%s %04o %s:%s", p.Type, p.Mode, p.User, p.Group)
		if p.Type == "file" && !in.sensitive {
			s += fmt.Sprintf(" %d bytes", p.Size)
			if len(p.SHA256) >= 12 {
				s += " sha256:" + p.SHA256[:12]
			}
		}
		return s
	}
	if in.sensitive {
		return "(sensitive)"
	}
	var lines []string
	for _, l := range strings.Split(strings.TrimSpace(string(out.Stdout)), "\n") {
		if l = strings.TrimSpace(l); l != "" && len(lines) < 3 {
			if len(l) > 80 {
				l = l[:77] + "..."
			}
			lines = append(lines, l)
		}
	}
	if out.ExitCode != 0 {
		lines = append(lines, fmt.Sprintf("exit %d", out.ExitCode))
	}
	return strings.Join(lines, " | ")
}

func (r *runner) mask(s string) string {
	if r.opts.Masker == nil {
		return s
	}
	return r.opts.Masker.String(s)
}

// maskChanges masks what a plan file keeps of changes: the file is not an
// output, but it must not hold a secret either.
func (r *runner) maskChanges(cs []report.ChangeView) []report.ChangeView {
	for i := range cs {
		c := &cs[i]
		c.Subject, c.Diff = r.mask(c.Subject), r.mask(c.Diff)
		for j := range c.Attrs {
			c.Attrs[j].Old, c.Attrs[j].New = r.mask(c.Attrs[j].Old), r.mask(c.Attrs[j].New)
		}
	}
	return cs
}

// checkSaved compares a host's prepared play i with the saved plan. It
// returns a *planfile.StaleError when the host must be refused, and the
// warning to give when Replan applies it anyway ("" when nothing moved).
// Tasks whose state a change of an earlier play on this host may have
// moved are judged by what they are only, as apply reads them again.
func (hr *hostRun) checkSaved(i int, earlier []changeRec) (warning string, err error) {
	s := hr.r.opts.Saved
	saved := s.savedPlay(hr.host.Name, i)
	if saved == nil {
		return "", nil // savedHosts left it out
	}
	insts := map[string]*instance{}
	for _, t := range hr.order {
		for _, in := range hr.e.insts[t] {
			insts[in.addr] = in
		}
	}
	exempt := func(addr string) bool {
		in := insts[addr]
		return in != nil && len(earlier) > 0 && stale(&instance{mtask: in.mtask}, earlier, nil)
	}
	moved := planfile.Compare(saved.Tasks, hr.savedTasks(), exempt)
	if len(moved) == 0 {
		return "", nil
	}
	se := &planfile.StaleError{Host: hr.host.Name, Play: hr.play.Name, Moved: moved}
	if !s.Replan {
		return "", se
	}
	return fmt.Sprintf("re-planned (--replan): the saved plan no longer held on this host (play %q); applying the plan made now. What moved:%s", hr.play.Name, se.Diff()), nil
}
