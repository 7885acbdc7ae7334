package run

import (
	"strings"

	"github.com/drover-cm/drover/modules/contract"
)

// A host's changes are applied in as few round trips as correctness
// allows. planSegments decides, without any I/O, how the instances ahead of
// the executor run: which go together in one remote batch, where a state
// read must come first, where configuration must be evaluated first. The
// executor (execute.go) runs the segments and reports every instance in walk
// order, as if they had run one by one.

// segKind is what a segment does.
type segKind uint8

const (
	// segRun reports its instances in order. Those with work (changes or
	// steps) are applied in one remote batch, the first of them being the
	// segment's first instance; readAfter is read at the end of the same
	// script. The others (when false, nothing to do, or a failed Diff)
	// run nothing.
	segRun segKind = iota
	// segRead reads the state of its instances, the first of which is the
	// next to run, in one round trip per connection.
	segRead
	// segConfigure evaluates the configuration of its one instance, which
	// waited for the outputs of earlier tasks.
	segConfigure
	// segOnce takes the outcome of its one instance, a run_once task,
	// from the host that runs it for the batch (once.go).
	segOnce
)

// segment is one step of the executor.
type segment struct {
	kind  segKind
	insts []*instance
	// readAfter (segRun) are the instances after the segment, over its
	// connection, whose state must be read again once it ran.
	readAfter []*instance
	// rebased (segRun) are the plans of its instances that were stale and
	// are planned from what the edits before them write (rebase), not
	// read again; the executor gives them these plans before it runs.
	rebased rebased
}

// planSegments turns a host's pending instances (in walk order, from the next
// to run up to the first task whose instances are not known yet) into the
// segments that run them, given the log of the changes made so far. It
// plans as far as what is known allows: the last segment is the first that
// reads state or evaluates configuration (what follows depends on its
// outcome), or ends with a failing instance, unless pending runs out
// first. It assumes that every plan applies as planned; when one fails, the
// host stops there anyway.
//
// A run segment starts with an instance with work, fresh (its state read
// after every change that may touch it) and takes every following instance
// that can go in the same round trip: up to the first one whose
// configuration waits for earlier outputs, whose state was not read or may
// be stale after the changes before it in the segment, which failed its
// Diff, which runs over another connection, or which has a Go step, and up
// to its last instance with work. A Go step (hasFunc) ends a batch after
// it. An instance stale only because earlier edits of the file it edits
// changed that file is not read again: it is planned from what they write
// (rebase) and stays in the batch.
func planSegments(pending []*instance, log []changeRec) []segment {
	var segs []segment
	log = log[:len(log):len(log)] // appending to it leaves the caller's log alone
	for i := 0; i < len(pending); {
		in := pending[i]
		switch {
		case in.onceFrom != "":
			return append(segs, segment{kind: segOnce, insts: pending[i : i+1]})
		case in.state == instNew || in.state == instDeferred:
			return append(segs, segment{kind: segConfigure, insts: pending[i : i+1]})
		case in.state == instSkipped:
			segs = append(segs, segment{kind: segRun, insts: pending[i : i+1]})
			i++
			continue
		}
		re := rebased{}
		if in.state == instConfigured || stale(in, log, nil) && !re.add(in, log, nil) {
			return append(segs, segment{kind: segRead, insts: readSet(pending[i:], log)})
		}
		switch {
		case in.checkErr != nil:
			return append(segs, segment{kind: segRun, insts: pending[i : i+1]})
		case !hasWork(re.plan(in)):
			segs = append(segs, segment{kind: segRun, insts: pending[i : i+1], rebased: re.of(pending[i : i+1])})
			i++
		default:
			seg, changes := batchFrom(pending[i:], log, re)
			segs = append(segs, seg)
			if len(seg.readAfter) > 0 {
				return segs
			}
			log = append(log, changes...)
			i += len(seg.insts)
		}
	}
	return segs
}

// rebased are the plans of stale instances made from what the changes
// before them leave in the file they edit (rebase), in place of a read.
type rebased map[*instance]*contract.Plan

// add rebases in after log and ahead; false when it must be read again.
func (re rebased) add(in *instance, log, ahead []changeRec) bool {
	p, ok := rebase(in, log, ahead)
	if ok {
		re[in] = p
	}
	return ok
}

// plan is in's plan: rebased, or as read.
func (re rebased) plan(in *instance) *contract.Plan {
	if p, ok := re[in]; ok {
		return p
	}
	return in.plan
}

// of is the rebased plans of ins (nil when none).
func (re rebased) of(ins []*instance) rebased {
	var out rebased
	for _, in := range ins {
		if p, ok := re[in]; ok {
			if out == nil {
				out = rebased{}
			}
			out[in] = p
		}
	}
	return out
}

// rebasable reports whether in, stale, can be rebased instead of read
// again (it then needs no read: it is rebased when the walk reaches it).
func rebasable(in *instance, log, ahead []changeRec) bool {
	_, ok := rebase(in, log, ahead)
	return ok
}

// readSet is pending[0] and every later instance whose state must be read
// (again) before it acts, so that one round trip refreshes them all.
func readSet(pending []*instance, log []changeRec) []*instance {
	out := pending[:1:1]
	for _, f := range pending[1:] {
		if f.state == instConfigured || f.state == instChecked && stale(f, log, nil) {
			out = append(out, f)
		}
	}
	return out
}

// batchFrom is the run segment that starts with pending[0], and the changes
// it makes. re holds pending[0]'s plan when it was rebased, and takes those
// of the instances after it that are rebased to go in the batch.
func batchFrom(pending []*instance, log []changeRec, re rebased) (segment, []changeRec) {
	lead := pending[0]
	var changes []changeRec
	if p := re.plan(lead); p.Changed() {
		changes = append(changes, changeOf(lead, p))
	}
	n := 1 // up to the last instance with work
	// A task judged by its result or run again (config.Task.Control) runs
	// alone, as a Go step does.
	if !hasFunc(re.plan(lead)) && !lead.task.Control() {
		for j, f := range pending[1:] {
			if f.state == instSkipped {
				continue // reported skipped in its place; runs nothing
			}
			if f.state != instChecked || f.checkErr != nil || f.conn != lead.conn || hasFunc(f.plan) || f.task.Control() || stale(f, log, changes) && !re.add(f, log, changes) {
				break
			}
			p := re.plan(f)
			if hasWork(p) {
				n = j + 2
			}
			if p.Changed() {
				changes = append(changes, changeOf(f, p))
			}
		}
	}
	seg := segment{kind: segRun, insts: pending[:n], rebased: re.of(pending[:n])}
	for _, f := range pending[n:] {
		if f.ready() && f.conn == lead.conn && (f.state == instConfigured || stale(f, log, changes) && !rebasable(f, log, changes)) {
			seg.readAfter = append(seg.readAfter, f)
		}
	}
	return seg, changes
}

// hasWork reports whether applying p runs anything: changes, or steps
// without changes (wait_for), which run and report ok.
func hasWork(p *contract.Plan) bool {
	return p.Changed() || p != nil && len(p.Steps) > 0
}

// hasFunc reports whether a plan has a Go step (command and shell run their
// program with stdin of its own). Such a step is a round trip of its own
// anyway, so batching it would save nothing and only delay the reports of
// the tasks before it; a batch stops before it.
func hasFunc(p *contract.Plan) bool {
	if p == nil {
		return false
	}
	for _, st := range p.Steps {
		if st.Func != nil {
			return true
		}
	}
	return false
}

// String is the segment as tests and debugging show it: run(a b)+read(c),
// read(a c), configure(a).
func (s segment) String() string {
	name := [...]string{"run", "read", "configure", "once"}[s.kind]
	str := name + "(" + addrs(s.insts) + ")"
	if len(s.rebased) > 0 {
		var rs []*instance
		for _, in := range s.insts {
			if _, ok := s.rebased[in]; ok {
				rs = append(rs, in)
			}
		}
		str += "+rebased(" + addrs(rs) + ")"
	}
	if len(s.readAfter) > 0 {
		str += "+read(" + addrs(s.readAfter) + ")"
	}
	return str
}

func addrs(ins []*instance) string {
	as := make([]string, len(ins))
	for i, in := range ins {
		as[i] = in.addr
	}
	return strings.Join(as, " ")
}
