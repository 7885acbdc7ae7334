package run

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/hashicorp/hcl/v2"
	"github.com/hashicorp/hcl/v2/hclparse"
	"github.com/hashicorp/hcl/v2/hclsyntax"

	"github.com/drover-cm/drover/engine/config"
	"github.com/drover-cm/drover/engine/lang"
	"github.com/drover-cm/drover/engine/remote"
	"github.com/drover-cm/drover/engine/report"
	"github.com/drover-cm/drover/engine/transport"
	"github.com/drover-cm/drover/modules"
	"github.com/drover-cm/drover/modules/contract"
)

// simulate walks tasks as the executor does, with the blocks' rules alone:
// the tasks in failing fail, every other task succeeds. It returns each
// task's status by name and how the host ends.
func simulate(tasks []*config.Task, failing map[string]bool) (map[string]report.Status, report.Status) {
	bs := blockStates{}
	ends := blockEnds(tasks)
	host := report.StatusOK
	out := map[string]report.Status{}
	for i, t := range tasks {
		switch {
		case bs.skipReason(t) != "":
			out[t.Name] = report.StatusSkipped
		case !failing[t.Name]:
			out[t.Name] = report.StatusOK
		case t.OnFailure == "continue":
			out[t.Name] = report.StatusIgnored
		default:
			switch bs.fail(t.Blocks, t.Addr(), errors.New("boom"), host) {
			case failRescued:
				out[t.Name] = report.StatusRescued
			case failPending:
				out[t.Name], host = report.StatusFailed, report.StatusFailed
			case failStop:
				out[t.Name] = report.StatusFailed
				return out, report.StatusFailed
			}
		}
		for _, b := range ends[i] {
			switch f, err, prior := bs.leave(b); f {
			case failStop:
				return out, report.StatusFailed
			case failRescued:
				if err != nil {
					host = prior
				}
			}
		}
	}
	return out, host
}

// playOf builds tasks from a compact layout: "name@B.body", "name@B.rescue",
// "name@A.body/B.always" (outermost first), "name" for a top-level task; a
// trailing "!" means on_failure = "continue". Blocks get a rescue or always
// when a task is in one.
func playOf(layout string) []*config.Task {
	blocks := map[string]*config.Block{}
	var tasks []*config.Task
	for _, item := range strings.Fields(layout) {
		t := &config.Task{Type: "command"}
		if strings.HasSuffix(item, "!") {
			item, t.OnFailure = strings.TrimSuffix(item, "!"), "continue"
		}
		name, where, _ := strings.Cut(item, "@")
		t.Name = name
		if where != "" {
			var path []config.BlockPos
			for _, part := range strings.Split(where, "/") {
				bn, sec, _ := strings.Cut(part, ".")
				b := blocks[bn]
				if b == nil {
					b = &config.Block{Name: bn, Path: append([]config.BlockPos(nil), path...)}
					blocks[bn] = b
				}
				p := config.BlockPos{Block: b}
				switch sec {
				case "rescue":
					p.Section, b.HasRescue = config.SectionRescue, true
				case "always":
					p.Section, b.HasAlways = config.SectionAlways, true
				}
				path = append(path, p)
			}
			t.Blocks = path
		}
		tasks = append(tasks, t)
	}
	return tasks
}

func TestBlockStatusLogic(t *testing.T) {
	const full = "b1@B.body b2@B.body r1@B.rescue r2@B.rescue a1@B.always a2@B.always after"
	for _, tc := range []struct {
		name, layout, failing string
		want                  string // name=status ..., then host=status
	}{
		{"no failure: rescue skipped, always runs", full, "",
			"b1=ok b2=ok r1=skipped r2=skipped a1=ok a2=ok after=ok host=ok"},
		{"body fails: rest of body skipped, rescue and always run, host ok", full, "b1",
			"b1=rescued b2=skipped r1=ok r2=ok a1=ok a2=ok after=ok host=ok"},
		{"rescue fails: rest of rescue skipped, always runs, host fails", full, "b2 r1",
			"b1=ok b2=rescued r1=failed r2=skipped a1=ok a2=ok host=failed"},
		{"always fails: the rest of always runs, then the host fails", full, "a1",
			"b1=ok b2=ok r1=skipped r2=skipped a1=failed a2=ok host=failed"},
		{"body and always fail", full, "b1 a2",
			"b1=rescued b2=skipped r1=ok r2=ok a1=ok a2=failed host=failed"},
		{"ignored failure in the body: no rescue", strings.Replace(full, "b1@B.body", "b1@B.body!", 1), "b1",
			"b1=ignored b2=ok r1=skipped r2=skipped a1=ok a2=ok after=ok host=ok"},
		{"ignored failure in the rescue", "b1@B.body r1@B.rescue! r2@B.rescue a1@B.always after", "b1 r1",
			"b1=rescued r1=ignored r2=ok a1=ok after=ok host=ok"},
		{"no rescue: always runs, then the host fails", "b1@B.body b2@B.body a1@B.always after", "b1",
			"b1=failed b2=skipped a1=ok host=failed"},
		{"no rescue, no always: the host stops", "b1@B.body b2@B.body after", "b1",
			"b1=failed host=failed"},
		{"rescue only, rescue fails: the host stops at once", "b1@B.body r1@B.rescue r2@B.rescue after", "b1 r1",
			"b1=rescued r1=failed host=failed"},
		{"outside any block", "x y", "x", "x=failed host=failed"},
		{"nested: inner always runs, then the outer rescue", "i1@O.body/I.body i2@O.body/I.body ia@O.body/I.always o2@O.body or@O.rescue oa@O.always after", "i1",
			"i1=failed i2=skipped ia=ok o2=skipped or=ok oa=ok after=ok host=ok"},
		{"nested without always: the outer rescue at once", "i1@O.body/I.body i2@O.body/I.body o2@O.body or@O.rescue after", "i1",
			"i1=rescued i2=skipped o2=skipped or=ok after=ok host=ok"},
		{"nested in a rescue: a failure there fails the outer rescue", "o1@O.body i1@O.rescue/I.body ir@O.rescue/I.rescue oa@O.always after", "o1 i1 ir",
			"o1=rescued i1=rescued ir=failed oa=ok host=failed"},
		{"nested rescue recovers inside the outer rescue", "o1@O.body i1@O.rescue/I.body ir@O.rescue/I.rescue oa@O.always after", "o1 i1",
			"o1=rescued i1=rescued ir=ok oa=ok after=ok host=ok"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			failing := map[string]bool{}
			for _, n := range strings.Fields(tc.failing) {
				failing[n] = true
			}
			tasks := playOf(tc.layout)
			got, host := simulate(tasks, failing)
			var parts []string
			for _, tk := range tasks {
				if st, ok := got[tk.Name]; ok {
					parts = append(parts, tk.Name+"="+string(st))
				}
			}
			parts = append(parts, "host="+string(host))
			if s := strings.Join(parts, " "); s != tc.want {
				t.Errorf("\n got %s\nwant %s", s, tc.want)
			}
		})
	}
}

func TestBlockSkipReasons(t *testing.T) {
	tasks := playOf("b1@B.body b2@B.body r1@B.rescue a1@B.always")
	bs := blockStates{}
	if why := bs.skipReason(tasks[2]); !strings.Contains(why, "rescue not needed: nothing failed in block.B") {
		t.Errorf("rescue before a failure: %q", why)
	}
	bs.fail(tasks[0].Blocks, tasks[0].Addr(), errors.New("x"), report.StatusOK)
	if why := bs.skipReason(tasks[1]); why != "not run: block.B.command.b1 failed in block.B" {
		t.Errorf("body after a failure: %q", why)
	}
	if why := bs.skipReason(tasks[2]) + bs.skipReason(tasks[3]); why != "" {
		t.Errorf("rescue and always after a failure: %q", why)
	}
}

func TestApplyFailureHandling(t *testing.T) {
	f := loadFixture(t, "testdata/apply_control")
	var ev events
	res, err := Apply(context.Background(), f.options(&ev))
	if err != nil {
		t.Fatal(err)
	}
	h := res.Recap.Hosts[0]
	if h.Status != report.StatusChanged || h.Tasks.Rescued != 1 || h.Tasks.Ignored != 1 || h.Tasks.Failed != 0 {
		t.Errorf("recap = %+v", h)
	}
	tasks := ev.tasks()
	for addr, want := range map[string]report.Status{
		"block.deploy.file.marker":          report.StatusChanged,
		"block.deploy.command.broken":       report.StatusRescued,
		"block.deploy.file.not_reached":     report.StatusSkipped,
		"block.deploy.rescue.shell.recover": report.StatusChanged,
		"block.deploy.always.shell.cleanup": report.StatusChanged,
		"command.ignored":                   report.StatusIgnored,
		"file.after_ignored":                report.StatusChanged,
		"shell.grep":                        report.StatusChanged,
		"shell.check":                       report.StatusOK,
		"shell.flaky":                       report.StatusChanged,
		"file.when_changed":                 report.StatusChanged,
		"handler.h":                         report.StatusChanged,
	} {
		if got := tasks[addr]; got.Status != want {
			t.Errorf("%s: %s (%s), want %s", addr, got.Status, got.Message, want)
		}
	}
	if e := tasks["block.deploy.command.broken"]; !strings.Contains(e.Message, "the rescue of block.deploy runs") {
		t.Errorf("broken: %q", e.Message)
	}
	if e := tasks["shell.flaky"]; e.Detail.(*report.TaskResult).Attempt != 3 {
		t.Errorf("flaky: attempt %d, want 3", e.Detail.(*report.TaskResult).Attempt)
	}
	var retries []int
	for _, e := range ev.ev {
		if e.Kind == report.KindRetry && e.Task == "shell.flaky" {
			retries = append(retries, e.Detail.(*report.TaskResult).Attempt)
		}
	}
	if fmt.Sprint(retries) != "[1 2]" {
		t.Errorf("retry events for attempts %v, want [1 2]", retries)
	}
	for name, want := range map[string]string{"after_block": "not_reached changed: false\n", "recovered": "half-done\n", "after_ignored": "exit 2\n", "count": "3\n", "handler": "h\n"} {
		got, err := os.ReadFile(filepath.Join(f.root, name))
		if err != nil || string(got) != want {
			t.Errorf("%s = %q, %v; want %q", name, got, err, want)
		}
	}
	if !fileExists(filepath.Join(f.root, "cleaned")) || fileExists(filepath.Join(f.root, "not_reached")) {
		t.Errorf("always did not run, or the body went on after its failure")
	}

	// Again: the block fails and is rescued again (the command always
	// fails); the conditions report what they found, nothing else changes.
	ev = events{}
	if res, err = Apply(context.Background(), f.options(&ev)); err != nil {
		t.Fatal(err)
	}
	tasks = ev.tasks()
	for addr, want := range map[string]report.Status{
		"block.deploy.file.marker": report.StatusOK,
		"shell.check":              report.StatusOK,
		"shell.flaky":              report.StatusOK,
		"file.when_changed":        report.StatusSkipped,
		"file.after_ignored":       report.StatusOK,
		"file.after_block":         report.StatusOK,
	} {
		if got := tasks[addr]; got.Status != want {
			t.Errorf("second apply: %s: %s (%s), want %s", addr, got.Status, got.Message, want)
		}
	}
	if h := res.Recap.Hosts[0]; h.Status != report.StatusChanged || h.Tasks.Rescued != 1 {
		t.Errorf("second apply: recap = %+v", h)
	}
}

// TestApplyStopDuringRetryDelay: a stop during retry_delay ends the wait at
// once; the task fails with its last attempt's error and no new task starts.
func TestApplyStopDuringRetryDelay(t *testing.T) {
	f := loadFixture(t, "testdata/apply_retry_stop")
	var ev events
	opts := f.options(&ev)
	stop := make(chan struct{})
	opts.Stop = stop
	go func() {
		time.Sleep(300 * time.Millisecond) // inside the first delay
		close(stop)
	}()
	start := time.Now()
	if _, err := Apply(context.Background(), opts); err != nil {
		t.Fatal(err)
	}
	if d := time.Since(start); d > 5*time.Second {
		t.Errorf("apply took %s after a stop during a 30s retry delay", d)
	}
	e := ev.tasks()["shell.never"]
	if e.Status != report.StatusFailed || !strings.Contains(e.Message, "no further attempt: the run was stopped") {
		t.Errorf("shell.never = %s: %s", e.Status, e.Message)
	}
	if got, _ := os.ReadFile(filepath.Join(f.root, "tries")); string(got) != "try\n" {
		t.Errorf("tries = %q, want one attempt", got)
	}
	if fileExists(filepath.Join(f.root, "later")) {
		t.Errorf("a task started after the stop")
	}
}

// TestLanguageDocExamples: every HCL example of the failure-handling section
// of docs/language.md is a valid playbook.
func TestLanguageDocExamples(t *testing.T) {
	doc, err := os.ReadFile("../../docs/language.md")
	if err != nil {
		t.Fatal(err)
	}
	_, sec, ok := strings.Cut(string(doc), "\n## Failure handling, conditions and retries\n")
	if !ok {
		t.Fatal("docs/language.md has no failure-handling section")
	}
	sec, _, _ = strings.Cut(sec, "\n## ")
	n := 0
	for _, part := range strings.Split(sec, "```hcl\n")[1:] {
		src, _, _ := strings.Cut(part, "```")
		n++
		dir := t.TempDir()
		os.WriteFile(filepath.Join(dir, "site.hcl"), []byte(src), 0o644)
		p := hclparse.NewParser()
		pb, diags := config.LoadFiles(p, modules.Catalog(), filepath.Join(dir, "site.hcl"))
		if !diags.HasErrors() {
			diags = Validate(pb, nil)
		}
		for _, d := range diags {
			t.Errorf("example %d: %s", n, config.Compact(d))
		}
	}
	if n < 4 {
		t.Errorf("%d examples, want at least 4", n)
	}
}

// TestJudge: how failed_when, until and changed_when decide a command's
// outcome from its result.
func TestJudge(t *testing.T) {
	exit := func(code int) error { return &contract.StepError{ExitCode: code} }
	for _, tc := range []struct {
		name                           string
		failedWhen, until, changedWhen string
		ran                            bool
		stdout                         string
		err                            error
		wantChanged                    bool
		wantErr                        string
	}{
		{name: "no conditions: the exit status decides", ran: true, err: exit(1), wantChanged: true, wantErr: "exit status 1"},
		{name: "no conditions, success", ran: true, wantChanged: true},
		{name: "failed_when false turns exit 1 into ok", failedWhen: "self.exit_code > 1", ran: true, err: exit(1), wantChanged: true},
		{name: "failed_when true fails exit 0", failedWhen: `strcontains(self.stdout, "ERROR")`, ran: true, stdout: "ERROR: x\n", wantChanged: true, wantErr: "failed_when is true (exit status 0)"},
		{name: "failed_when cannot judge a lost connection", failedWhen: "false", ran: true, err: &contract.StepError{Err: errors.New("connection lost")}, wantChanged: true, wantErr: "connection lost"},
		{name: "changed_when false", changedWhen: "false", ran: true, wantChanged: false},
		{name: "changed_when from stdout", changedWhen: `self.stdout == "created"`, ran: true, stdout: "created\n", wantChanged: true},
		{name: "changed_when after a failure keeps the failure", changedWhen: "false", ran: true, err: exit(2), wantChanged: true, wantErr: "exit status 2"},
		{name: "until false fails the attempt", until: `self.stdout == "ready"`, ran: true, stdout: "starting", wantChanged: true, wantErr: "until is false (exit status 0)"},
		{name: "until true", until: `self.stdout == "ready"`, ran: true, stdout: "ready", wantChanged: true},
		{name: "until does not excuse a failure", until: "true", ran: true, err: exit(1), wantChanged: true, wantErr: "exit status 1"},
		{name: "failed_when false then until", failedWhen: "false", until: "self.exit_code == 3", ran: true, err: exit(3), wantChanged: true},
		{name: "not run (creates exists): conditions do not apply", failedWhen: "true", changedWhen: "true", ran: false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			task := &config.Task{Type: "shell"}
			parse := func(src string) hcl.Expression {
				if src == "" {
					return nil
				}
				e, diags := hclsyntax.ParseExpression([]byte(src), "t.hcl", hcl.InitialPos)
				if diags.HasErrors() {
					t.Fatal(diags)
				}
				return e
			}
			task.FailedWhen, task.Until, task.ChangedWhen = parse(tc.failedWhen), parse(tc.until), parse(tc.changedWhen)
			in := &instance{task: task, addr: "shell.x", plan: &contract.Plan{}}
			if tc.ran {
				in.plan.Changes = []contract.Change{{Action: contract.Run}}
				in.plan.Steps = []contract.Step{{Script: "x"}}
			}
			x := &executor{hr: &hostRun{e: &evaluator{scope: &lang.Scope{Functions: lang.Functions(t.TempDir())}}}}
			r := remote.BatchResult{Ran: tc.ran, Err: tc.err, Result: transport.Result{Stdout: []byte(tc.stdout)}}
			changed, err := x.judge(in, r)
			gotErr := ""
			if err != nil {
				gotErr = err.Error()
			}
			if changed != tc.wantChanged || gotErr != tc.wantErr {
				t.Errorf("judge = %v, %q; want %v, %q", changed, gotErr, tc.wantChanged, tc.wantErr)
			}
		})
	}
}

// TestApplyStackBlocks: a stack holding a block, called twice: each call's
// block stands on its own (one fails and is rescued, the other is not).
func TestApplyStackBlocks(t *testing.T) {
	f := loadFixture(t, "testdata/apply_stack_block")
	var ev events
	res, err := Apply(context.Background(), f.options(&ev))
	if err != nil {
		t.Fatal(err)
	}
	tasks := ev.tasks()
	for addr, want := range map[string]report.Status{
		"stack.a.block.try.shell.step":          report.StatusRescued,
		"stack.a.block.try.rescue.file.rescued": report.StatusChanged,
		"stack.b.block.try.shell.step":          report.StatusChanged,
		"stack.b.block.try.rescue.file.rescued": report.StatusSkipped,
	} {
		if got := tasks[addr]; got.Status != want {
			t.Errorf("%s: %s (%s), want %s", addr, got.Status, got.Message, want)
		}
	}
	if h := res.Recap.Hosts[0]; h.Status != report.StatusChanged || h.Tasks.Rescued != 1 {
		t.Errorf("recap = %+v", h)
	}
}

// TestApplyBlockWhenAndTags: a block's when guards its body, rescue and
// always, and-ed with the tasks' own when and with enclosing blocks'; its
// tags select its tasks. Each case applies twice: the second changes
// nothing.
func TestApplyBlockWhenAndTags(t *testing.T) {
	S, C, K := report.StatusSkipped, report.StatusChanged, report.StatusOK
	for _, tc := range []struct {
		name string
		vars []string
		sel  *Selection
		want map[string]report.Status // first apply; absent: not run at all
	}{
		{name: "enabled=false", want: map[string]report.Status{
			"command.probe":                    S,
			"block.off.file.off_body":          S,
			"block.off.rescue.file.off_rescue": S,
			"block.off.always.file.off_always": S,
			"block.on.file.on_body":            C,
			"block.on.file.own_false":          S,
			"block.on.block.inner.file.inner":  S,
			"block.on.always.file.on_always":   C,
		}},
		{name: "enabled=true", vars: []string{"enabled=true"}, want: map[string]report.Status{
			"block.off.file.off_body":          C,
			"block.off.rescue.file.off_rescue": S,
			"block.off.always.file.off_always": C,
			"block.on.file.on_body":            C,
			"block.on.file.own_false":          C,
			"block.on.block.inner.file.inner":  C,
			"block.on.always.file.on_always":   C,
		}},
		{name: "--tags off", vars: []string{"enabled=true"}, sel: &Selection{Tags: []string{"off"}}, want: map[string]report.Status{
			"block.off.file.off_body":          C,
			"block.off.rescue.file.off_rescue": S,
			"block.off.always.file.off_always": C,
		}},
		{name: "--skip-tags off", sel: &Selection{SkipTags: []string{"off"}}, want: map[string]report.Status{
			"block.on.file.on_body":           C,
			"block.on.file.own_false":         S,
			"block.on.block.inner.file.inner": S,
			"block.on.always.file.on_always":  C,
		}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			f := loadFixture(t, "testdata/apply_block_when")
			f.vars, f.sel = tc.vars, tc.sel
			for round := 1; round <= 2; round++ {
				var ev events
				res, err := Apply(context.Background(), f.options(&ev))
				if err != nil {
					t.Fatal(err)
				}
				if len(res.Diagnostics) > 0 {
					t.Fatalf("diagnostics: %s", f.diagText(res.Diagnostics))
				}
				tasks := ev.tasks()
				for addr, want := range tc.want {
					if round == 2 && want == C {
						want = K
					}
					got, ok := tasks[addr]
					if addr == "command.probe" {
						continue // ok or skipped by changed_when: only its presence matters
					}
					if !ok || got.Status != want {
						t.Errorf("apply %d: %s: %q (%s), want %s", round, addr, got.Status, got.Message, want)
					}
				}
				for addr := range tasks {
					if _, ok := tc.want[addr]; !ok && addr != "command.probe" {
						t.Errorf("apply %d: %s ran, not selected", round, addr)
					}
				}
				if round == 2 && res.Recap.Hosts[0].Tasks.Changed != 0 {
					t.Errorf("second apply changed %d tasks", res.Recap.Hosts[0].Tasks.Changed)
				}
			}
			for name, want := range map[string]bool{"off_body": len(tc.vars) > 0, "off_rescue": false, "inner": len(tc.vars) > 0 && tc.sel == nil} {
				if fileExists(filepath.Join(f.root, name)) != want {
					t.Errorf("%s exists: %v, want %v", name, !want, want)
				}
			}
		})
	}
}
