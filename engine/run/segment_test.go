package run

import (
	"context"
	"strings"
	"testing"

	"github.com/drover-cm/drover/engine/transport"
	"github.com/drover-cm/drover/modules/contract"
)

// relTask is a module task that only declares its relations, for planning.
// Its state read reads something (a fragment); noRead is a task whose read
// reads nothing (a command without creates).
type relTask struct{ provides, uses []contract.Resource }

func (relTask) Check() string                                     { return "cat /state" }
func (relTask) Diff(contract.CheckOutput) (*contract.Plan, error) { return nil, nil }
func (t relTask) Provides() []contract.Resource                   { return t.provides }
func (t relTask) Uses() []contract.Resource                       { return t.uses }

// editTask edits the file it uses, as line does (contract.ContentEditor):
// its plan from content appends its line, unless content has it.
type editTask struct {
	relTask
	path, line string
}

func (t editTask) EditedPath() string { return t.path }
func (t editTask) DiffContent(content []byte) (*contract.Plan, error) {
	if strings.Contains(string(content), t.line) {
		return &contract.Plan{}, nil
	}
	return editPlan(t.path, string(content)+t.line), nil
}

func editPlan(path, content string) *contract.Plan {
	return &contract.Plan{Changes: []contract.Change{{Action: contract.Update, Subject: path}}, Steps: []contract.Step{{Script: "true"}},
		Writes: &contract.FileWrite{Path: path, Content: []byte(content)}}
}

// orderTask uses some paths only to be ordered after them
// (contract.OrderOnly), as a symlink its target.
type orderTask struct {
	relTask
	orders []contract.Resource
}

func (t orderTask) OrdersOnly() []contract.Resource { return t.orders }

type noRead struct{ relTask }

func (noRead) Check() string { return "" }

func pathRes(p string) contract.Resource { return contract.Resource{Kind: "path", Name: p} }

// inst builds an instance for planning from a compact description:
//
//	"a: change /p"      checked, its plan updates path /p (which it provides)
//	"a: create user u"  checked, its plan creates user u
//	"a: ok /p"          checked, nothing to do
//	"a: steps"          checked, steps without changes (wait_for)
//	"a: command"        checked, runs a program (a Go step)
//	"a: shell"          checked, runs a script
//	"a: edit /p"        checked, edits /p (uses it) as line does: its plan
//	                    writes "a" there; from content with "a", nothing
//	"a: unread /p"      configured, state not read
//	"a: diff error /p"  checked, its Diff failed
//	"a: skipped", "a: deferred", "a: new"
//	"a: once-from h"    run_once, run by host h for the batch
//
// followed by options: "uses /q" (it also uses /q), "as u" (it becomes u:
// another connection), "read@N" (its state was read when the log had N
// changes), "noread" (its module reads no state), "orders /q" (it uses /q
// only to be ordered after it).
func inst(desc string) *instance {
	name, rest, _ := strings.Cut(desc, ": ")
	f := strings.Fields(rest)
	in := &instance{addr: name, state: instChecked}
	rel := relTask{}
	reads := true
	var orders []contract.Resource
	words := f
	switch f[0] {
	case "change":
		rel.provides = []contract.Resource{pathRes(f[1])}
		in.plan = &contract.Plan{Changes: []contract.Change{{Action: contract.Update, Subject: f[1]}}, Steps: []contract.Step{{Script: "true"}}}
		words = f[2:]
	case "create":
		rel.provides = []contract.Resource{{Kind: f[1], Name: f[2]}}
		in.plan = &contract.Plan{Changes: []contract.Change{{Action: contract.Create, Subject: f[2]}}, Steps: []contract.Step{{Script: "true"}}}
		words = f[3:]
	case "ok":
		rel.provides = []contract.Resource{pathRes(f[1])}
		in.plan = &contract.Plan{}
		words = f[2:]
	case "steps":
		in.plan = &contract.Plan{Steps: []contract.Step{{Script: "true"}}}
		words = f[1:]
	case "command":
		in.plan = &contract.Plan{Changes: []contract.Change{{Action: contract.Run}}, Steps: []contract.Step{{Func: func(context.Context, transport.Conn) (transport.Result, error) {
			return transport.Result{}, nil
		}}}}
		words = f[1:]
	case "shell":
		in.plan = &contract.Plan{Changes: []contract.Change{{Action: contract.Run}}, Steps: []contract.Step{{Script: "true"}}}
		words = f[1:]
	case "edit":
		rel.uses = []contract.Resource{pathRes(f[1])}
		in.plan = editPlan(f[1], name)
		words = f[2:]
		defer func() { in.mtask = editTask{relTask: rel, path: f[1], line: name} }()
	case "unread":
		rel.provides = []contract.Resource{pathRes(f[1])}
		in.state = instConfigured
		words = f[2:]
	case "diff":
		rel.provides = []contract.Resource{pathRes(f[2])}
		in.checkErr = &contract.NeedsError{Resource: pathRes(f[2])}
		words = f[3:]
	case "skipped":
		in.state, words = instSkipped, f[1:]
	case "deferred":
		in.state, words = instDeferred, f[1:]
	case "new":
		in.state, words = instNew, f[1:]
	case "once-from":
		in.state, in.once, in.onceFrom, words = instNew, true, f[1], f[2:]
	default:
		panic("inst: " + desc)
	}
	for len(words) > 0 {
		switch {
		case words[0] == "uses":
			rel.uses = append(rel.uses, contract.Resource{Kind: "path", Name: words[1]})
			words = words[2:]
		case words[0] == "uses-user":
			rel.uses = append(rel.uses, contract.Resource{Kind: "user", Name: words[1]})
			words = words[2:]
		case words[0] == "as":
			in.conn = "true/" + words[1]
			words = words[2:]
		case words[0] == "orders":
			rel.uses = append(rel.uses, pathRes(words[1]))
			orders = append(orders, pathRes(words[1]))
			words = words[2:]
		case words[0] == "noread":
			reads = false
			words = words[1:]
		case strings.HasPrefix(words[0], "read@"):
			in.checkedAt = int(words[0][len("read@")] - '0')
			words = words[1:]
		default:
			panic("inst: " + desc)
		}
	}
	if in.state == instChecked || in.state == instConfigured {
		in.mtask = rel
		if !reads {
			in.mtask = noRead{rel}
		}
		if orders != nil {
			in.mtask = orderTask{rel, orders}
		}
	}
	return in
}

func TestPlanSegments(t *testing.T) {
	for _, tc := range []struct {
		name  string
		insts []string
		log   []changeRec // changes made before, which stale reads from before them
		want  string      // segments, ";"-separated
	}{
		{name: "nothing pending", want: ""},
		{name: "a run_once task another host runs waits for it, alone",
			insts: []string{"a: change /a", "b: once-from web1", "c: change /c"},
			want:  "run(a);once(b)"},
		{name: "independent changes batch",
			insts: []string{"a: change /a", "b: change /b", "c: change /c"},
			want:  "run(a b c)"},
		{name: "nothing to change: each alone, no round trip",
			insts: []string{"a: ok /a", "b: ok /b"},
			want:  "run(a);run(b)"},
		{name: "a change to what a later task manages stales its read: read again at the end of the batch",
			insts: []string{"a: change /f", "b: change /f", "c: change /c"},
			want:  "run(a)+read(b)"},
		{name: "a change to a path another task uses stales it",
			insts: []string{"a: change /f", "b: change /x uses /f"},
			want:  "run(a)+read(b)"},
		{name: "a use that only orders the task (a symlink's target) stales nothing",
			insts: []string{"d: change /srv/www", "l: change /srv/current orders /srv/www"},
			want:  "run(d l)"},
		{name: "the directory a path is in only orders it",
			insts: []string{"d: change /etc", "f: change /etc/app.conf uses /etc"},
			want:  "run(d f)"},
		{name: "a Go step runs alone and stales everything after",
			insts: []string{"a: change /a", "c: command", "b: change /b", "x: change /x"},
			want:  "run(a);run(c)+read(b x)"},
		{name: "a script that runs code stales what follows it",
			insts: []string{"s: shell", "b: change /b"},
			want:  "run(s)+read(b)"},
		{name: "a Go step first: nothing goes with it",
			insts: []string{"c: command", "a: ok /a"},
			want:  "run(c)+read(a)"},
		{name: "when = false inside a batch is reported in its place",
			insts: []string{"a: change /a", "s: skipped", "c: change /c"},
			want:  "run(a s c)"},
		{name: "a batch ends at its last instance with work",
			insts: []string{"a: change /a", "s: skipped", "o: ok /o"},
			want:  "run(a);run(s);run(o)"},
		{name: "nothing to do inside a batch",
			insts: []string{"a: change /a", "o: ok /o", "c: change /c"},
			want:  "run(a o c)"},
		{name: "steps without changes go in the batch and stale nothing",
			insts: []string{"a: change /a", "w: steps", "b: change /b uses /w"},
			want:  "run(a w b)"},
		{name: "another connection ends a batch and has its own",
			insts: []string{"a: change /a", "b: change /b as nobody", "c: change /c as nobody", "d: change /d"},
			want:  "run(a);run(b c);run(d)"},
		{name: "the read at the end of a batch is over its connection only",
			insts: []string{"a: change /f", "b: change /f as nobody", "c: change /f"},
			want:  "run(a)+read(c)"}, // then b, stale, is read over its own
		{name: "a deferred instance waits for what runs before it",
			insts: []string{"a: change /a", "d: deferred", "c: change /c"},
			want:  "run(a);configure(d)"},
		{name: "a new instance is configured first",
			insts: []string{"n: new", "c: change /c"},
			want:  "configure(n)"},
		{name: "a state never read is read with the batch before it",
			insts: []string{"a: change /a", "u: unread /u", "c: change /c"},
			want:  "run(a)+read(u)"},
		{name: "a state never read, first: read with every later one that needs it",
			insts: []string{"u: unread /u", "b: change /b", "v: unread /v", "d: deferred", "w: unread /w"},
			want:  "read(u v w)"},
		{name: "stale after earlier changes: read again, with the others stale",
			insts: []string{"a: change /f", "b: change /b", "c: ok /c uses /f"},
			log:   []changeRec{{res: []contract.Resource{pathRes("/f")}}},
			want:  "read(a c)"},
		{name: "a read after the changes is fresh",
			insts: []string{"a: change /f read@1", "b: change /b"},
			log:   []changeRec{{res: []contract.Resource{pathRes("/f")}}},
			want:  "run(a b)"},
		{name: "after code ran every earlier read is stale",
			insts: []string{"a: ok /a", "b: change /b"},
			log:   []changeRec{{opaque: true}},
			want:  "read(a b)"},
		{name: "a failed Diff fails when reached; nothing after it is planned",
			insts: []string{"a: change /a", "e: diff error /e", "c: change /c"},
			want:  "run(a);run(e)"},
		{name: "a failed Diff, stale, is read again first (it may pass now)",
			insts: []string{"a: change /f", "e: diff error /f"},
			want:  "run(a)+read(e)"},
		{name: "a user created does not stale the tasks that use it",
			insts: []string{"u: create user app", "f: change /f uses-user app"},
			want:  "run(u f)"},
		{name: "a user created stales another task managing it",
			insts: []string{"u: create user app", "v: ok /v", "w: create user app"},
			want:  "run(u)+read(w)"},
		{name: "a handler is walked alone after the play: configured first",
			insts: []string{"h: new"},
			want:  "configure(h)"},
		{name: "then read, then run",
			insts: []string{"h: unread /h"},
			want:  "read(h)"},
		{name: "a task that reads no state is never stale: it goes in the batch after code ran",
			insts: []string{"s: shell", "h: shell noread", "b: change /b"},
			want:  "run(s h)+read(b)"},
		{name: "nor after the changes logged before it",
			insts: []string{"h: shell noread read@0"},
			log:   []changeRec{{opaque: true}},
			want:  "run(h)"},
		{name: "an edit of a file an earlier edit wrote is planned from what it writes: one batch",
			insts: []string{"a: edit /f", "b: edit /f", "c: change /c"},
			want:  "run(a b c)+rebased(b)"},
		{name: "a chain of edits, the last rebased on the one before it",
			insts: []string{"a: edit /f", "b: edit /f", "c: edit /f"},
			want:  "run(a b c)+rebased(b c)"},
		{name: "a rebased edit with nothing left to do ends the batch before it, unread",
			insts: []string{"ab: edit /f", "b: edit /f", "c: ok /c"},
			want:  "run(ab);run(b)+rebased(b);run(c)"},
		{name: "after an edit already made (logged), the next edit is rebased too",
			insts: []string{"b: edit /f read@0"},
			log:   []changeRec{{res: []contract.Resource{pathRes("/f")}, wrote: &contract.FileWrite{Path: "/f", Content: []byte("a")}}},
			want:  "run(b)+rebased(b)"},
		{name: "a change to the file that does not say what it writes: read again",
			insts: []string{"a: change /f", "b: edit /f"},
			want:  "run(a)+read(b)"},
		{name: "code ran between the edits: read again",
			insts: []string{"a: edit /f", "s: shell", "b: edit /f"},
			want:  "run(a s)+read(b)"},
		{name: "an edit of another file stales nothing",
			insts: []string{"a: edit /f", "b: edit /g"},
			want:  "run(a b)"},
		{name: "plans continue after a batch that reads nothing",
			insts: []string{"a: change /f", "b: ok /b", "c: change /f as nobody", "d: change /d as nobody"},
			want:  "run(a);run(b);read(c)"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var pending []*instance
			for _, d := range tc.insts {
				pending = append(pending, inst(d))
			}
			log := append(make([]changeRec, 0, len(tc.log)+8), tc.log...)
			var got []string
			for _, s := range planSegments(pending, log) {
				got = append(got, s.String())
			}
			if g := strings.Join(got, ";"); g != tc.want {
				t.Errorf("segments:\n got %s\nwant %s", g, tc.want)
			}
			if extra := log[len(log):cap(log)]; len(extra) > 0 && (extra[0].opaque || extra[0].res != nil) {
				t.Errorf("planning wrote into the caller's log")
			}
			for _, in := range pending {
				if in.state == instDone || in.state == instFailed {
					t.Errorf("planning changed %s's state", in.addr)
				}
			}
		})
	}
}

func TestInstanceMoves(t *testing.T) {
	for _, tc := range []struct {
		from, to instState
		ok       bool
	}{
		{instNew, instConfigured, true},
		{instNew, instDeferred, true},
		{instNew, instSkipped, true},
		{instDeferred, instDeferred, true}, // still waiting: then it fails
		{instDeferred, instConfigured, true},
		{instConfigured, instChecked, true},
		{instChecked, instChecked, true},    // read again when stale
		{instChecked, instConfigured, true}, // rebased, its batch stopped before it
		{instChecked, instDone, true},
		{instChecked, instFailed, true},
		{instNew, instChecked, false}, // state read before it was configured
		{instConfigured, instDone, false},
		{instSkipped, instDone, false},
		{instDone, instChecked, false}, // read after it ran
		{instFailed, instDone, false},
	} {
		in := &instance{addr: "file.x", state: tc.from}
		func() {
			defer func() {
				if r := recover(); (r == nil) != tc.ok {
					t.Errorf("%s -> %s: panic %v, want legal %v", tc.from, tc.to, r, tc.ok)
				}
			}()
			in.to(tc.to)
		}()
		if tc.ok && in.state != tc.to {
			t.Errorf("%s -> %s: state %s", tc.from, tc.to, in.state)
		}
	}
}
