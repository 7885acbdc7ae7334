package remote

import (
	"context"
	"fmt"
	"strconv"
	"strings"
	"testing"

	"github.com/drover-cm/drover/engine/shell"
	"github.com/drover-cm/drover/modules/contract"
	"github.com/drover-cm/drover/modules/moduletest/shconn"
)

// echoGroup is a CheckGroup whose one fragment prints "N=KEY" per key and
// counts its runs in the frame ("reads=1"); Split gives each key its line.
// bad makes Split fail.
type echoGroup struct{ bad bool }

func (echoGroup) GroupID() string { return "test.echo" }

func (echoGroup) Check(keys []string) string {
	var b strings.Builder
	b.WriteString("echo reads=1\n")
	for i, k := range keys {
		fmt.Fprintf(&b, "echo %d=%s\n", i, shell.Quote(k))
	}
	return b.String()
}

func (g echoGroup) Split(out contract.CheckOutput, keys []string) ([]contract.CheckOutput, error) {
	if g.bad {
		return nil, fmt.Errorf("cannot split")
	}
	outs := make([]contract.CheckOutput, len(keys))
	for _, l := range strings.Split(string(out.Stdout), "\n") {
		n, v, ok := strings.Cut(l, "=")
		if i, err := strconv.Atoi(n); ok && err == nil {
			outs[i].Stdout = []byte(v)
		}
	}
	return outs, nil
}

// groupTask reads one key with the group; sharedTask several, plus a rest.
type groupTask struct {
	g   contract.CheckGroup
	key string
}

func (t groupTask) CheckGroup() (contract.CheckGroup, string)       { return t.g, t.key }
func (t groupTask) Check() string                                   { return t.g.Check([]string{t.key}) }
func (groupTask) Diff(contract.CheckOutput) (*contract.Plan, error) { return nil, nil }

type sharedTask struct {
	g    contract.CheckGroup
	keys []string
	rest string
}

func (t sharedTask) CheckShared() (contract.CheckGroup, []string)    { return t.g, t.keys }
func (t sharedTask) CheckRest() string                               { return t.rest }
func (t sharedTask) Check() string                                   { return t.rest + t.g.Check(t.keys) }
func (sharedTask) Diff(contract.CheckOutput) (*contract.Plan, error) { return nil, nil }

// TestCheckAllSharedReads: SharedCheckers' keys join the group's one read
// with the GroupCheckers' (shared keys read once); each gets its keys'
// outputs in Shared, in its order, and its CheckRest's output as its own.
func TestCheckAllSharedReads(t *testing.T) {
	g := echoGroup{}
	hostile := "x'; touch /tmp/drover-pwned; echo '"
	tasks := []contract.Task{
		groupTask{g, "a"},
		sharedTask{g: g, keys: []string{"b", "a", hostile}, rest: "echo rest=1"},
		fragTask("echo plain"),
		sharedTask{g: g, keys: []string{"c"}}, // no rest: no frame of its own
		sharedTask{g: g},                      // no keys: its own Check
	}
	j, err := newCheckJob(tasks)
	if err != nil {
		t.Fatal(err)
	}
	// Frames: rest=1, plain, task 4's own Check (a read of no key), the
	// group's one read.
	if j.n != 4 || strings.Count(j.script, "reads=1") != 2 {
		t.Errorf("%d frames, %d group reads; want 4 and 2:\n%s", j.n, strings.Count(j.script, "reads=1"), j.script)
	}
	for name, conn := range shconn.All(t) {
		t.Run(name, func(t *testing.T) {
			outs, err := CheckAll(context.Background(), conn, tasks)
			if err != nil {
				t.Fatal(err)
			}
			shared := func(o contract.CheckOutput) string {
				var s []string
				for _, x := range o.Shared {
					s = append(s, string(x.Stdout))
				}
				return strings.Join(s, ",")
			}
			for i, want := range []struct{ own, shared string }{
				{"a", ""},
				{"rest=1\n", "b,a," + hostile},
				{"plain\n", ""},
				{"", "c"},
				{"reads=1\n", ""},
			} {
				if got := string(outs[i].Stdout); got != want.own || shared(outs[i]) != want.shared {
					t.Errorf("task %d: own %q shared %q, want %q %q", i, got, shared(outs[i]), want.own, want.shared)
				}
			}
			if outs[1].Shared == nil || outs[0].Shared != nil || outs[4].Shared != nil {
				t.Errorf("Shared set on the wrong tasks")
			}
		})
	}
}

// TestCheckAllSharedSplitError: a group frame that cannot be split fails
// the state read of its SharedCheckers too, not the others'.
func TestCheckAllSharedSplitError(t *testing.T) {
	g := echoGroup{bad: true}
	tasks := []contract.Task{sharedTask{g: g, keys: []string{"a"}, rest: "echo rest=1"}, fragTask("echo plain")}
	for name, conn := range shconn.All(t) {
		t.Run(name, func(t *testing.T) {
			checkSplitError(t, conn, tasks)
		})
	}
}

func checkSplitError(t *testing.T, conn *shconn.ShellConn, tasks []contract.Task) {
	outs, err := CheckAll(context.Background(), conn, tasks)
	if err != nil {
		t.Fatal(err)
	}
	if outs[0].ExitCode == 0 || !strings.Contains(string(outs[0].Stderr), "reading the state of a: cannot split") || outs[0].Shared != nil {
		t.Errorf("shared task: %+v", outs[0])
	}
	if string(outs[1].Stdout) != "plain\n" {
		t.Errorf("other task: %+v", outs[1])
	}
}
