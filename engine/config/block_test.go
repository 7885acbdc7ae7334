package config

import (
	"strings"
	"testing"
)

func TestLoadBlocks(t *testing.T) {
	pb, diags := load(t, `
play "web" {
  hosts = "all"
  directory "first" { path = "/a" }
  block "deploy" {
    command "fetch" {
      run         = ["fetch"]
      retries     = 3
      retry_delay = "1s"
      until       = self.exit_code == 0
    }
    block "inner" {
      command "x" {
        run         = ["x"]
        failed_when = self.exit_code > 1
      }
    }
    always {
      command "cleanup" {
        run          = ["rm"]
        changed_when = false
        on_failure   = "continue"
      }
    }
    rescue {
      command "undo" { run = ["undo", command.fetch.stdout] }
    }
  }
  directory "last" {
    path = "/b"
    when = command.undo.changed
  }
}
`)
	if diags.HasErrors() {
		t.Fatalf("unexpected diagnostics: %v", diags)
	}
	pl := pb.Plays[0]
	var addrs []string
	for _, tk := range pl.Tasks {
		addrs = append(addrs, tk.Addr())
	}
	want := "directory.first block.deploy.command.fetch block.deploy.block.inner.command.x block.deploy.rescue.command.undo block.deploy.always.command.cleanup directory.last"
	if got := strings.Join(addrs, " "); got != want {
		t.Errorf("addresses:\n got %s\nwant %s", got, want)
	}
	if len(pl.Blocks) != 2 || !pl.Blocks[0].HasRescue || !pl.Blocks[0].HasAlways || pl.Blocks[1].HasRescue {
		t.Errorf("blocks = %+v", pl.Blocks)
	}
	if c := pl.Task("command", "cleanup"); c.OnFailure != "continue" || c.ChangedWhen == nil {
		t.Errorf("cleanup = %+v", c)
	}
	if f := pl.Task("command", "fetch"); !f.Control() || f.Retries == nil || f.RetryDelay == nil {
		t.Errorf("fetch = %+v", f)
	}
	g, _ := PlayGraph(pl)
	order, err := g.TopoOrder()
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	for _, tk := range order {
		got = append(got, tk.Addr())
	}
	if strings.Join(got, " ") != want {
		t.Errorf("order:\n got %s\nwant %s", strings.Join(got, " "), want)
	}
	if _, ok := g.Edge(pl.Task("command", "x"), pl.Task("command", "undo")); !ok {
		t.Errorf("no edge from the body to the rescue")
	}
}

func TestBlockAndControlDiagnostics(t *testing.T) {
	for _, tc := range []struct {
		name, body, want string
	}{
		{"changed_when on a module without a result",
			`directory "d" {
  path         = "/d"
  changed_when = false
}`, `Unsupported changed_when: changed_when judges a program's result`},
		{"failed_when on a module without a result",
			`directory "d" {
  path        = "/d"
  failed_when = true
}`, `the directory module has none`},
		{"until on a module without a result",
			`directory "d" {
  path  = "/d"
  until = true
}`, `Unsupported until`},
		{"self outside a condition",
			`command "c" {
  run  = ["a"]
  when = self.exit_code == 0
}`, `self is the task's own result`},
		{"unknown self attribute",
			`command "c" {
  run         = ["a"]
  failed_when = self.status == 1
}`, `self has stdout, stderr, exit_code`},
		{"bad on_failure",
			`command "c" {
  run        = ["a"]
  on_failure = "contine"
}`, `Did you mean "continue"?`},
		{"on_failure not a string",
			`command "c" {
  run        = ["a"]
  on_failure = true
}`, `on_failure must be the string "continue"`},
		{"empty block",
			`block "b" {
  rescue {
    command "r" { run = ["a"] }
  }
}`, `Empty block: Block "b" has no task outside rescue and always`},
		{"duplicate rescue",
			`block "b" {
  command "c" { run = ["a"] }
  rescue {
    command "r" { run = ["a"] }
  }
  rescue {
    command "s" { run = ["a"] }
  }
}`, `Duplicate rescue`},
		{"duplicate block",
			`block "b" {
  command "c" { run = ["a"] }
}
block "b" {
  command "d" { run = ["a"] }
}`, `Duplicate block "b"`},
		{"duplicate task across blocks",
			`command "c" { run = ["a"] }
block "b" {
  command "c" { run = ["a"] }
}`, `Duplicate command task "c"`},
		{"unknown module in a block",
			`block "b" {
  comand "c" { run = ["a"] }
}`, `Did you mean "command"?`},
		{"attribute on a block",
			`block "b" {
  when = true
  command "c" { run = ["a"] }
}`, `Unsupported argument`},
		{"rescue referring into a cycle",
			`block "b" {
  command "c" { run = ["a", command.r.stdout] }
  rescue {
    command "r" { run = ["a"] }
  }
}`, `Dependency cycle`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, diags := load(t, "play \"p\" {\n  hosts = \"all\"\n"+tc.body+"\n}\n")
			if !diags.HasErrors() {
				t.Fatalf("no error, want %q", tc.want)
			}
			var msgs []string
			for _, d := range diags {
				msgs = append(msgs, d.Summary+": "+d.Detail)
			}
			all := strings.Join(msgs, "\n")
			if !strings.Contains(all, tc.want) {
				t.Errorf("diagnostics:\n%s\nwant %q", all, tc.want)
			}
			for _, d := range diags {
				if d.Subject == nil {
					t.Errorf("diagnostic without a range: %s", d.Summary)
				}
			}
		})
	}
}
