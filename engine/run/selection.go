package run

import (
	"fmt"
	"regexp"
	"slices"
	"strings"

	"github.com/hashicorp/hcl/v2"

	"github.com/drover-cm/drover/engine/config"
)

// Selection narrows a run to part of the playbook: --tags, --skip-tags,
// --start-at and --target. The zero value selects everything.
//
// A task is chosen when its tags match (a task has its own tags and its
// play's), it is not before StartAt in its host's order, and, with
// Targets, it is one of them. Then, as Terraform does for -target, the
// tasks a target depends on are chosen too, transitively. Without
// Targets (tags, start-at: Ansible's model) a dependency left out does not
// run but is reported beside the task that depends on it; one whose values
// the chosen task needs (a task with outputs, or whose configuration is
// known only at apply) is an error naming it. Handlers run when a chosen
// task notifies them.
type Selection struct {
	Tags     []string
	SkipTags []string
	// StartAt is a task address: the plays before the first play holding
	// it run nothing, and in that play the tasks before it in each host's
	// order run nothing.
	StartAt string
	// Targets are task addresses (an instance address, file.x["a"],
	// selects its task; a stack call's, stack.app, every task in it).
	Targets []string
}

func (s *Selection) active() bool {
	return s != nil && (len(s.Tags) > 0 || len(s.SkipTags) > 0 || s.StartAt != "" || len(s.Targets) > 0)
}

// selector is a Selection resolved against the playbook.
type selector struct {
	sel       Selection
	targets   map[*config.Task]bool
	startPlay int // index of the play holding StartAt; -1 without
	startTask *config.Task
	playIndex map[*config.Play]int
}

// CheckSelection checks a selection against the playbook before anything
// runs. An unknown address is an error suggesting the nearest; a tag no
// task has is a warning naming the tags there are; a selection that matches
// no task is an error.
func CheckSelection(pb *config.Playbook, sel *Selection) (warnings []string, err error) {
	_, warnings, err = newSelector(pb, sel)
	return warnings, err
}

func newSelector(pb *config.Playbook, sel *Selection) (*selector, []string, error) {
	if !sel.active() {
		return nil, nil, nil
	}
	s := &selector{sel: *sel, targets: map[*config.Task]bool{}, startPlay: -1, playIndex: map[*config.Play]int{}}
	var addrs []string
	for i, pl := range pb.Plays {
		s.playIndex[pl] = i
		for _, t := range pl.Tasks {
			if !slices.Contains(addrs, t.Addr()) {
				addrs = append(addrs, t.Addr())
			}
		}
	}
	names := slices.Clone(addrs) // what an unknown address may be a typo of
	for _, pl := range pb.Plays {
		for _, c := range pl.AllCalls {
			if !slices.Contains(names, c.Addr()) {
				names = append(names, c.Addr())
			}
		}
	}
	find := func(flag, addr string) ([]*config.Task, *config.Play, error) {
		taskAddr := instanceIndex.ReplaceAllString(addr, "")
		var found []*config.Task
		var first *config.Play
		// A stack call's address (stack.app) names every task in it.
		inCall := strings.HasPrefix(taskAddr, "stack.") && !slices.Contains(addrs, taskAddr)
		for _, pl := range pb.Plays {
			for _, t := range pl.Tasks {
				if t.Addr() == taskAddr || inCall && strings.HasPrefix(t.Addr(), taskAddr+".") {
					found = append(found, t)
					if first == nil {
						first = pl
					}
				}
			}
		}
		if len(found) > 0 {
			return found, first, nil
		}
		msg := fmt.Sprintf("%s %s: the playbook has no task %s", flag, addr, taskAddr)
		switch {
		case strings.HasPrefix(taskAddr, "handler."):
			msg += "; a handler runs when a selected task notifies it: select that task"
		case config.Suggest(taskAddr, names) != "":
			msg += fmt.Sprintf("; did you mean %s?", config.Suggest(taskAddr, names))
		default:
			msg += `; "drover graph" lists the tasks`
		}
		return nil, nil, fmt.Errorf("%s", msg)
	}
	for _, a := range sel.Targets {
		ts, _, err := find("--target", a)
		if err != nil {
			return nil, nil, err
		}
		for _, t := range ts {
			s.targets[t] = true
		}
	}
	if sel.StartAt != "" {
		ts, pl, err := find("--start-at", sel.StartAt)
		if err != nil {
			return nil, nil, err
		}
		s.startPlay, s.startTask = s.playIndex[pl], ts[0]
	}
	warnings := unknownTags(pb.Tags(), sel.Tags, sel.SkipTags)
	for _, pl := range pb.Plays {
		if s.playSelected(pl) {
			return s, warnings, nil
		}
	}
	return nil, warnings, fmt.Errorf("the selection (%s) matches no task of the playbook; its tags are: %s", sel.describe(), tagList(pb.Tags()))
}

// instanceIndex is a [key] part of an instance address (of a task, or of
// a stack call in it).
var instanceIndex = regexp.MustCompile(`\[[^\]]*\]`)

// unknownTags warns about the tags given that no task has.
func unknownTags(known []string, lists ...[]string) []string {
	var out []string
	for _, l := range lists {
		for _, tag := range l {
			if slices.Contains(known, tag) || tag == config.TagAlways || tag == config.TagNever {
				continue
			}
			w := fmt.Sprintf("no task has the tag %q", tag)
			if s := config.Suggest(tag, known); s != "" {
				w += fmt.Sprintf(" (did you mean %q?)", s)
			}
			out = append(out, w+"; the playbook's tags are: "+tagList(known))
		}
	}
	return out
}

func tagList(tags []string) string {
	if len(tags) == 0 {
		return "(none)"
	}
	return strings.Join(tags, ", ")
}

// describe is the selection as the command line gave it.
func (s *Selection) describe() string {
	var parts []string
	if len(s.Tags) > 0 {
		parts = append(parts, "--tags "+strings.Join(s.Tags, ","))
	}
	if len(s.SkipTags) > 0 {
		parts = append(parts, "--skip-tags "+strings.Join(s.SkipTags, ","))
	}
	if s.StartAt != "" {
		parts = append(parts, "--start-at "+s.StartAt)
	}
	for _, t := range s.Targets {
		parts = append(parts, "--target "+t)
	}
	return strings.Join(parts, " ")
}

// playSelected reports whether any task of the play can be chosen: the
// others are not looked at (their hosts are not even contacted).
func (s *selector) playSelected(pl *config.Play) bool {
	if s == nil {
		return true
	}
	if s.startPlay >= 0 && s.playIndex[pl] < s.startPlay {
		return false
	}
	for _, t := range pl.Tasks {
		if s.matches(t) {
			return true
		}
	}
	return false
}

// matches reports whether t is chosen by its tags and the targets (the
// start-at position aside).
func (s *selector) matches(t *config.Task) bool {
	if len(s.targets) > 0 && !s.targets[t] {
		return false
	}
	tags := t.Tags
	switch {
	case len(s.sel.Tags) > 0:
		if !intersects(tags, s.sel.Tags) && !slices.Contains(tags, config.TagAlways) {
			return false
		}
	case len(s.targets) == 0 && slices.Contains(tags, config.TagNever):
		// A target is named explicitly: never does not hide it.
		return false
	}
	return !intersects(tags, s.sel.SkipTags)
}

func intersects(a, b []string) bool {
	for _, x := range a {
		if slices.Contains(b, x) {
			return true
		}
	}
	return false
}

// selNode is one task of a host's order with its dependencies: deps are
// the tasks it runs after (references, depends_on, inferred edges), uses
// those of them whose values it needs that only running them gives.
type selNode struct {
	task *config.Task
	deps []*config.Task
	uses []*config.Task
}

// notChosen is a dependency of a chosen task that the selection leaves out.
type notChosen struct {
	task *config.Task
	by   []*config.Task // the chosen tasks that depend on it
}

// choose picks the tasks of one play on one host to run, in order, from
// the host's order (nodes). It is a pure function of its arguments.
func (s *selector) choose(pl *config.Play, nodes []selNode) ([]*config.Task, []notChosen, hcl.Diagnostics) {
	if s == nil {
		out := make([]*config.Task, len(nodes))
		for i, n := range nodes {
			out[i] = n.task
		}
		return out, nil, nil
	}
	if !s.playSelected(pl) {
		return nil, nil, nil
	}
	start := 0
	if s.playIndex[pl] == s.startPlay {
		start = slices.IndexFunc(nodes, func(n selNode) bool { return n.task == s.startTask })
	}
	chosen := map[*config.Task]bool{}
	byTask := map[*config.Task]selNode{}
	for i, n := range nodes {
		byTask[n.task] = n
		if i >= start && s.matches(n.task) {
			chosen[n.task] = true
		}
	}
	if len(s.targets) > 0 {
		// Pull in what the targets depend on, transitively.
		for i := len(nodes) - 1; i >= 0; i-- {
			if chosen[nodes[i].task] {
				for _, d := range nodes[i].deps {
					chosen[d] = true
				}
			}
		}
	}
	var diags hcl.Diagnostics
	var left []notChosen
	leftAt := map[*config.Task]int{}
	needed := map[*config.Task]bool{}
	for _, n := range nodes {
		if !chosen[n.task] {
			continue
		}
		for _, d := range n.deps {
			if chosen[d] {
				continue
			}
			if slices.Contains(n.uses, d) {
				if !needed[d] { // once per left-out task: the first that needs it
					needed[d] = true
					diags = append(diags, needsLeftOut(n.task, d, &s.sel))
				}
				continue
			}
			if i, ok := leftAt[d]; ok {
				left[i].by = append(left[i].by, n.task)
				continue
			}
			leftAt[d] = len(left)
			left = append(left, notChosen{task: d, by: []*config.Task{n.task}})
		}
	}
	var out []*config.Task
	for _, n := range nodes {
		if chosen[n.task] {
			out = append(out, n.task)
		}
	}
	return out, left, diags
}

// needsLeftOut is the error for a chosen task t that needs the values of
// d, which the selection leaves out.
func needsLeftOut(t, d *config.Task, sel *Selection) *hcl.Diagnostic {
	rng := t.DeclRange
	for _, vr := range valueRefs(t) {
		if vr.ref.Addr() == d.LocalAddr() {
			rng = vr.ref.Range
			break
		}
	}
	return &hcl.Diagnostic{
		Severity: hcl.DiagError,
		Summary:  "The selection leaves out a task whose values are needed",
		Detail: fmt.Sprintf("%s needs values of %s (in its configuration, or its stack call's inputs) that are known only once it has run, but the selection (%s) leaves %s out. "+
			"Select it too (give it one of the selected tags), or use --target %s, which runs what it depends on.",
			t.Addr(), d.Addr(), sel.describe(), d.Addr(), t.Addr()),
		Subject: rng.Ptr(),
	}
}

// valueRef is a reference to a task's values: from the task itself, or
// from the inputs of a stack call it is in; in is where the reference
// resolves (nil: among the play's own tasks).
type valueRef struct {
	ref config.Ref
	in  *config.StackCall
}

// valueRefs are the references whose values t's configuration is made of.
func valueRefs(t *config.Task) []valueRef {
	var out []valueRef
	for _, r := range t.Refs {
		out = append(out, valueRef{r, t.Call})
	}
	for c := t.Call; c != nil; c = c.Parent {
		for _, r := range c.Refs {
			out = append(out, valueRef{r, c.Parent})
		}
	}
	return out
}

// why is how a plan and an apply report a dependency left out.
func (n notChosen) why() string {
	names := make([]string, len(n.by))
	for i, t := range n.by {
		names[i] = t.Addr()
	}
	verb := "depends"
	if len(names) > 1 {
		verb = "depend"
	}
	return fmt.Sprintf("not selected; %s %s on it", strings.Join(names, ", "), verb)
}

// applySelection narrows hr.order to the tasks the run's selection
// chooses, and notes the dependencies it leaves out.
func (hr *hostRun) applySelection() hcl.Diagnostics {
	hr.shown = hr.order
	if hr.r.sel == nil {
		return nil
	}
	nodes := make([]selNode, len(hr.order))
	for i, t := range hr.order {
		n := selNode{task: t, deps: hr.g.Dependencies(t)}
		for _, vr := range valueRefs(t) {
			d := hr.play.Task(vr.ref.Type, vr.ref.Name)
			if vr.in != nil {
				d = vr.in.Task(vr.ref.Type, vr.ref.Name)
			}
			if d != nil && hr.knownOnlyByRunning(d) && !slices.Contains(n.uses, d) {
				n.uses = append(n.uses, d)
			}
		}
		nodes[i] = n
	}
	chosen, left, diags := hr.r.sel.choose(hr.play, nodes)
	if diags.HasErrors() {
		return diags
	}
	hr.order = chosen
	hr.unselected = map[*config.Task]string{}
	for _, n := range left {
		hr.unselected[n.task] = n.why()
	}
	isChosen := make(map[*config.Task]bool, len(chosen))
	for _, t := range chosen {
		isChosen[t] = true
	}
	hr.shown = nil
	for _, n := range nodes {
		if _, ok := hr.unselected[n.task]; ok || isChosen[n.task] {
			hr.shown = append(hr.shown, n.task)
		}
	}
	return nil
}

// knownOnlyByRunning reports whether part of t's value is known only once
// it has run: its outputs, or a configuration that waits for other tasks.
func (hr *hostRun) knownOnlyByRunning(t *config.Task) bool {
	if len(t.Module.Spec().Outputs) > 0 || !hr.e.expand[t] {
		return true
	}
	for _, in := range hr.e.insts[t] {
		if in.state == instNew || in.state == instDeferred {
			return true
		}
	}
	return false
}
