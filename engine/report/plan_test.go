package report

import (
	"bytes"
	"strings"
	"testing"

	"github.com/drover-cm/drover/modules/contract"
)

func TestChangesMasking(t *testing.T) {
	p := &contract.Plan{Changes: []contract.Change{{
		Action:  contract.Update,
		Subject: "/etc/app.env",
		Attrs: []contract.AttrChange{
			{Name: "mode", Old: "0644", New: "0600"},
			{Name: "env.TOKEN", Old: "", New: "s3cret"},
			{Name: "owner", Old: "root", New: ""},
		},
		Diff: "-old\n+new s3cret\n",
	}}}
	cases := []struct {
		name      string
		sensitive bool
		attrs     map[string]bool
		want      string
	}{
		{"plain", false, nil, "mode 0644>0600 | env.TOKEN >s3cret | owner root> | diff -old\n+new s3cret\n"},
		{"sensitive env", false, map[string]bool{"env": true}, "mode 0644>0600 | env.TOKEN >(sensitive) | owner root> | diff (sensitive content)"},
		{"whole task", true, map[string]bool{"(task)": true}, "mode (sensitive)>(sensitive) | env.TOKEN >(sensitive) | owner (sensitive)> | diff (sensitive content)"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			v := Changes(p, c.sensitive, c.attrs)[0]
			var parts []string
			for _, a := range v.Attrs {
				parts = append(parts, a.Name+" "+a.Old+">"+a.New)
			}
			got := strings.Join(parts, " | ") + " | diff " + v.Diff
			if got != c.want {
				t.Errorf("got  %q\nwant %q", got, c.want)
			}
			if v.Action != "update" {
				t.Errorf("action = %q", v.Action)
			}
		})
	}
}

func TestPlanSummary(t *testing.T) {
	var s PlanSummary
	if s.Changed() || s.Line() != "Plan: 0 to create, 0 to update, 0 to delete, 0 to run." {
		t.Errorf("empty: %v %q", s.Changed(), s.Line())
	}
	s.Add(&HostPlan{Tasks: []TaskPlan{
		{Changes: []ChangeView{{Action: "create"}, {Action: "update"}}},
		{Changes: []ChangeView{{Action: "run"}}},
		{Deferred: true},
		{Skipped: "when is false"},
	}})
	s.Add(&HostPlan{Tasks: []TaskPlan{{Changes: []ChangeView{{Action: "delete"}, {Action: "create"}}}}})
	s.Failed = 1
	want := "Plan: 2 to create, 1 to update, 1 to delete, 1 to run. 1 task known only after apply. 1 host could not be planned."
	if !s.Changed() || s.Line() != want {
		t.Errorf("got %q\nwant %q", s.Line(), want)
	}
}

func TestRenderPlanAndTask(t *testing.T) {
	var out bytes.Buffer
	term := NewTerminal(&out, &out, TerminalOptions{})
	term.Emit(Event{Kind: KindPlan, Host: "web1", Detail: &HostPlan{Play: "web", Tasks: []TaskPlan{
		{Task: "directory.app", Changes: []ChangeView{{Action: "create", Subject: "/srv/app/", Attrs: []AttrView{{Name: "mode", New: "0755"}}}}},
		{Task: "file.old", Changes: []ChangeView{{Action: "delete", Subject: "/srv/old"}}},
		{Task: "file.conf", Changes: []ChangeView{{Action: "update", Subject: "/srv/conf", Attrs: []AttrView{{Name: "owner", Old: "root", New: "app"}}, Diff: "--- a\n+++ b\n@@ -1 +1 @@\n-x\n+y\n"}}},
		{Task: "command.migrate", Changes: []ChangeView{{Action: "run", Subject: "/srv/app/bin/migrate"}}},
		{Task: "file.version", Deferred: true},
		{Task: "file.bad", Error: "cannot read its state"},
		{Task: "file.same"},
	}}})
	term.Emit(Event{Kind: KindHostDone, Host: "web1", Status: StatusOK})
	term.Emit(Event{Kind: KindTask, Host: "web2", Task: "file.conf", Status: StatusChanged, Detail: &TaskResult{Module: "file",
		Changes: []ChangeView{{Action: "create", Subject: "/srv/conf"}}}})
	term.Emit(Event{Kind: KindTask, Host: "web2", Task: "file.same", Status: StatusOK})
	term.Emit(Event{Kind: KindTask, Host: "web2", Task: "file.when", Status: StatusSkipped, Message: "when is false"})
	term.Emit(Event{Kind: KindTask, Host: "web2", Task: "command.x", Status: StatusFailed, Message: "exit status 3: oops",
		Stdout: "some output", Detail: &TaskResult{Module: "command"}})
	term.Emit(Event{Kind: KindTask, Host: "web2", Task: "file.after", Status: StatusSkipped, Message: "skipped: depends on command.x, which did not complete"})
	term.Emit(Event{Kind: KindHostDone, Host: "web2", Status: StatusFailed})
	term.Emit(Event{Kind: KindPlanSummary, Detail: &PlanSummary{}})
	term.Close()
	want := `web1 | play web | 1 to create, 1 to update, 1 to delete, 1 to run, 1 known after apply
  + directory.app: create /srv/app/
      mode: 0755
  - file.old: delete /srv/old
  ~ file.conf: update /srv/conf
      owner: root → app
      --- a
      +++ b
      @@ -1 +1 @@
      -x
      +y
  > command.migrate: run /srv/app/bin/migrate
  ? file.version: (known after apply)
  failed file.bad: cannot read its state
web2 | changed | file.conf
  + file.conf: create /srv/conf
web2 | failed | command.x
    exit status 3: oops
  stdout:
    some output
web2 | skipped | file.after
    skipped: depends on command.x, which did not complete
`
	if out.String() != want {
		t.Errorf("got:\n%s\nwant:\n%s", out.String(), want)
	}
}

func TestCrossHostNotes(t *testing.T) {
	for _, c := range []struct {
		tp          TaskPlan
		where       string
		reads, html string
	}{
		{tp: TaskPlan{Task: "a"}},
		{tp: TaskPlan{On: "lb1"}, where: "on lb1", html: "on lb1"},
		{tp: TaskPlan{RunOnce: "web1"}, where: "run once for the batch, here", html: "run once for the batch, here"},
		{tp: TaskPlan{RunOnce: "web2", On: "db1"}, where: "on db1, run once for the batch, by web2", html: "on db1; run once for the batch, by web2"},
		{tp: TaskPlan{Reads: []string{"web2", "web3"}}, reads: "reads inventory data of web2, web3", html: "reads inventory data of web2, web3"},
		{tp: TaskPlan{Error: "boom", On: "lb1"}, where: "on lb1", html: "boom"},
	} {
		where, reads := crossHost("web1", c.tp)
		if strings.Join(where, ", ") != c.where || reads != c.reads {
			t.Errorf("crossHost(%+v) = %q, %q", c.tp, where, reads)
		}
		if got := plannedTask("web1", "p", c.tp).Message; got != c.html {
			t.Errorf("plannedTask(%+v).Message = %q; want %q", c.tp, got, c.html)
		}
	}
}
