package run

import (
	"path/filepath"
	"strings"
	"testing"

	"github.com/drover-cm/drover/engine/config"
)

// selPlaybook is two plays: "base" (pkg.a) and "app" in order
// dir → conf (needs dir's values: uses) → svc (runs after conf) and an
// untagged debug task tagged never.
func selPlaybook() (*config.Playbook, map[string]*config.Task) {
	mk := func(addr string, tags ...string) *config.Task {
		typ, name, _ := strings.Cut(addr, ".")
		return &config.Task{Type: typ, Name: name, Tags: tags}
	}
	ts := map[string]*config.Task{
		"package.a":    mk("package.a", "base"),
		"directory.d":  mk("directory.d", "app"),
		"command.c":    mk("command.c", "app", "config"),
		"service.s":    mk("service.s", "app", "deploy"),
		"shell.debug":  mk("shell.debug", "never", "debug"),
		"file.always":  mk("file.always", "always"),
		"file.tagless": mk("file.tagless"),
	}
	pb := &config.Playbook{Plays: []*config.Play{
		{Name: "base", Tasks: []*config.Task{ts["package.a"]}},
		{Name: "app", Tasks: []*config.Task{ts["directory.d"], ts["command.c"], ts["service.s"], ts["shell.debug"], ts["file.always"], ts["file.tagless"]}},
	}}
	return pb, ts
}

func TestSelectionChoose(t *testing.T) {
	pb, ts := selPlaybook()
	app := pb.Plays[1]
	// The host's order of play app; service.s uses command.c's outputs.
	nodes := []selNode{
		{task: ts["directory.d"]},
		{task: ts["command.c"], deps: []*config.Task{ts["directory.d"]}},
		{task: ts["service.s"], deps: []*config.Task{ts["command.c"]}, uses: []*config.Task{ts["command.c"]}},
		{task: ts["shell.debug"]},
		{task: ts["file.always"]},
		{task: ts["file.tagless"], deps: []*config.Task{ts["directory.d"]}},
	}
	tests := []struct {
		name       string
		sel        Selection
		play       *config.Play
		want       string // chosen, in order
		unselected string // left-out dependencies with why
		err        string
	}{
		{name: "none", sel: Selection{}, play: app, want: "directory.d command.c service.s shell.debug file.always file.tagless"},
		{name: "no selection skips never only", sel: Selection{SkipTags: []string{"nosuch"}}, play: app, want: "directory.d command.c service.s file.always file.tagless"},
		{name: "tag and always", sel: Selection{Tags: []string{"config"}}, play: app, want: "command.c file.always", unselected: "directory.d: not selected; command.c depends on it"},
		{name: "never runs when its other tag is asked", sel: Selection{Tags: []string{"debug"}}, play: app, want: "shell.debug file.always"},
		{name: "skip always", sel: Selection{Tags: []string{"debug"}, SkipTags: []string{"always"}}, play: app, want: "shell.debug"},
		{name: "skip-tags", sel: Selection{SkipTags: []string{"deploy", "config"}}, play: app, want: "directory.d file.always file.tagless"},
		{name: "uses a left-out task: error", sel: Selection{Tags: []string{"deploy"}}, play: app, err: "service.s needs values of command.c"},
		{name: "start-at", sel: Selection{StartAt: "command.c"}, play: app, want: "command.c service.s file.always file.tagless",
			unselected: "directory.d: not selected; command.c, file.tagless depend on it"},
		{name: "start-at skips earlier plays", sel: Selection{StartAt: "command.c"}, play: pb.Plays[0], want: ""},
		{name: "start-at with tags", sel: Selection{StartAt: "service.s", Tags: []string{"app"}}, play: app, err: "service.s needs values of command.c"},
		{name: "target pulls in dependencies", sel: Selection{Targets: []string{"service.s"}}, play: app, want: "directory.d command.c service.s"},
		{name: "target an instance address", sel: Selection{Targets: []string{`file.tagless["x"]`}}, play: app, want: "directory.d file.tagless"},
		{name: "target a never task", sel: Selection{Targets: []string{"shell.debug"}}, play: app, want: "shell.debug"},
		{name: "target in another play", sel: Selection{Targets: []string{"package.a"}}, play: app, want: ""},
		{name: "target and tags", sel: Selection{Targets: []string{"service.s", "file.tagless"}, Tags: []string{"deploy"}}, play: app, want: "directory.d command.c service.s"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s, _, err := newSelector(pb, &tt.sel)
			if err != nil {
				t.Fatal(err)
			}
			chosen, left, diags := s.choose(tt.play, nodes)
			if tt.err != "" {
				if !diags.HasErrors() || !strings.Contains(diags[0].Detail, tt.err) {
					t.Fatalf("diags = %v, want %q", diags, tt.err)
				}
				return
			}
			if diags.HasErrors() {
				t.Fatal(diags)
			}
			var got, gotLeft []string
			for _, c := range chosen {
				got = append(got, c.Addr())
			}
			for _, l := range left {
				gotLeft = append(gotLeft, l.task.Addr()+": "+l.why())
			}
			if g := strings.Join(got, " "); g != tt.want {
				t.Errorf("chosen = %q, want %q", g, tt.want)
			}
			if g := strings.Join(gotLeft, "; "); g != tt.unselected {
				t.Errorf("unselected = %q, want %q", g, tt.unselected)
			}
		})
	}
}

func TestCheckSelection(t *testing.T) {
	pb, _ := selPlaybook()
	tests := []struct {
		name     string
		sel      Selection
		warnings string
		err      string
	}{
		{name: "fine", sel: Selection{Tags: []string{"app"}, SkipTags: []string{"always"}}},
		{name: "unknown tag warns with the tags there are", sel: Selection{Tags: []string{"deplyo", "app"}},
			warnings: `no task has the tag "deplyo" (did you mean "deploy"?); the playbook's tags are: always, app, base, config, debug, deploy, never`},
		{name: "nothing matches", sel: Selection{Tags: []string{"nosuch"}, SkipTags: []string{"always"}}, warnings: `no task has the tag "nosuch"; the playbook's tags are: always, app, base, config, debug, deploy, never`,
			err: "the selection (--tags nosuch --skip-tags always) matches no task of the playbook"},
		{name: "target and skip-tags exclude each other", sel: Selection{Targets: []string{"service.s"}, SkipTags: []string{"deploy"}},
			err: "matches no task"},
		{name: "unknown target suggests", sel: Selection{Targets: []string{"service.z"}}, err: "--target service.z: the playbook has no task service.z; did you mean service.s?"},
		{name: "unknown start-at", sel: Selection{StartAt: "template.x"}, err: `--start-at template.x: the playbook has no task template.x; "drover graph" lists the tasks`},
		{name: "handler", sel: Selection{Targets: []string{"handler.reload"}}, err: "a handler runs when a selected task notifies it"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			w, err := CheckSelection(pb, &tt.sel)
			if g := strings.Join(w, "\n"); g != tt.warnings {
				t.Errorf("warnings = %q, want %q", g, tt.warnings)
			}
			switch {
			case tt.err == "" && err != nil:
				t.Errorf("err = %v", err)
			case tt.err != "" && (err == nil || !strings.Contains(err.Error(), tt.err)):
				t.Errorf("err = %v, want %q", err, tt.err)
			}
		})
	}
}

// --target applies the target and what it depends on, runs the handler
// it notifies, and leaves the rest alone; applied again it changes
// nothing.
func TestApplySelectionTarget(t *testing.T) {
	f := loadFixture(t, "testdata/plan/select_target")
	f.sel = &Selection{Targets: []string{"file.conf"}}
	present := func() string {
		var got []string
		for _, n := range []string{"app", "app.conf", "motd", "stamp", "debug", "reloaded", "unrelated"} {
			if fileExists(filepath.Join(f.root, n)) {
				got = append(got, n)
			}
		}
		return strings.Join(got, " ")
	}
	out, res := f.apply()
	if !res.Recap.OK() || len(res.Recap.Hosts) != 1 {
		t.Fatalf("apply --target failed:\n%s", out)
	}
	if h := res.Recap.Hosts[0]; h.Tasks.Changed != 3 {
		t.Errorf("first apply: %+v, want directory.app, file.conf and handler.reload changed\n%s", h.Tasks, out)
	}
	if got := present(); got != "app app.conf reloaded" {
		t.Errorf("after apply --target file.conf: %q\n%s", got, out)
	}
	out, res = f.apply()
	if h := res.Recap.Hosts[0]; h.Tasks.Changed != 0 || h.Tasks.OK != 2 || h.Tasks.Skipped != 0 {
		t.Errorf("second apply should change nothing: %+v\n%s", h.Tasks, out)
	}
}

// Stack addresses: a call's address selects its tasks; a typo of one is
// suggested.
func TestCheckSelectionStacks(t *testing.T) {
	f := loadFixture(t, "testdata/plan/select_stack_tags")
	for _, c := range []struct {
		target, err string
	}{
		{target: "stack.app"},
		{target: "stack.app[1].stack.env"},
		{target: `stack.tagged["blue"].directory.home`},
		{target: "stack.ap", err: "--target stack.ap: the playbook has no task stack.ap; did you mean stack.app?"},
	} {
		_, err := CheckSelection(f.pb, &Selection{Targets: []string{c.target}})
		if (err == nil) != (c.err == "") || err != nil && err.Error() != c.err {
			t.Errorf("--target %s: err = %v, want %q", c.target, err, c.err)
		}
	}
	s, _, _ := newSelector(f.pb, &Selection{Targets: []string{"stack.app"}})
	var got []string
	for _, tk := range f.pb.Plays[0].Tasks {
		if s.matches(tk) {
			got = append(got, tk.Addr())
		}
	}
	if g := strings.Join(got, " "); g != "stack.app.directory.home stack.app.stack.env.file.env" {
		t.Errorf("--target stack.app selects %q", g)
	}
}
