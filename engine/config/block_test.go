package config

import (
	"strings"
	"testing"

	"github.com/hashicorp/hcl/v2"
	"github.com/hashicorp/hcl/v2/hclsyntax"
	"github.com/zclconf/go-cty/cty"
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
  become = true
  command "c" { run = ["a"] }
}`, `Unsupported argument`},
		{"block's when refers to its own task",
			`block "b" {
  when = command.c.exit_code == 0
  command "c" { run = ["a"] }
}`, `Block's when refers to its own task: The when of block.b refers to block.b.command.c`},
		{"block's when refers to a task of its rescue",
			`block "b" {
  when = command.r.stdout == ""
  command "c" { run = ["a"] }
  rescue {
    command "r" { run = ["a"] }
  }
}`, `a task inside the block`},
		{"block's when uses each",
			`block "b" {
  when = each.key == "a"
  command "c" {
    for_each = toset(["a"])
    run      = ["a"]
  }
}`, `not in a block's when`},
		{"block's when refers to an undeclared task",
			`block "b" {
  when = command.nope.changed
  command "c" { run = ["a"] }
}`, `Reference to undeclared task`},
		{"block tags not written out",
			`block "b" {
  tags = [var.x]
  command "c" { run = ["a"] }
}`, `Invalid tags`},
		{"stack call in a block",
			`block "b" {
  command "c" { run = ["a"] }
  stack "app" { source = "./app" }
}`, `Stack call inside a block: Stacks can't be called inside a block: call stack "app" at the play's level`},
		{"stack call in a rescue",
			`block "b" {
  command "c" { run = ["a"] }
  rescue {
    stack "app" { source = "./app" }
  }
}`, `Stack call inside a block`},
		{"handler in a block",
			`block "b" {
  command "c" { run = ["a"] }
  handler "h" {
    command { run = ["a"] }
  }
}`, `Handler inside a block: Handlers run at the end of the play`},
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

// TestBlockWhenAndTags: a block's tags go to every task in it (sections and
// nested blocks included, after the task's own, before the play's); its
// when is and-ed before the tasks' own and its references order them.
func TestBlockWhenAndTags(t *testing.T) {
	pb, diags := load(t, `
play "web" {
  hosts = "all"
  tags  = ["web"]
  command "probe" { run = ["probe"] }
  block "deploy" {
    when = command.probe.exit_code == 0
    tags = ["deploy"]
    command "install" {
      run  = ["install"]
      tags = ["install", "deploy"]
    }
    block "inner" {
      tags = ["inner"]
      command "x" {
        run  = ["x"]
        when = var.on
      }
    }
    always {
      command "cleanup" { run = ["rm"] }
    }
  }
  command "after" { run = ["after"] }
}
variable "on" {
  type    = bool
  default = true
}
`)
	if diags.HasErrors() {
		t.Fatalf("unexpected diagnostics: %v", diags)
	}
	pl := pb.Plays[0]
	for _, tc := range []struct {
		name, tags string
		blockWhens int // and-ed before the task's own
		own        bool
		refsProbe  bool
	}{
		{"probe", "web", 0, false, false},
		{"install", "install deploy web", 1, false, true},
		{"x", "inner deploy web", 1, true, true},
		{"cleanup", "deploy web", 1, false, true},
		{"after", "web", 0, false, false},
	} {
		tk := pl.Task("command", tc.name)
		if got := strings.Join(tk.Tags, " "); got != tc.tags {
			t.Errorf("%s: tags %q, want %q", tc.name, got, tc.tags)
		}
		bw, _ := tk.When.(*blockWhen)
		switch {
		case tc.blockWhens == 0 && bw != nil, tc.blockWhens > 0 && (bw == nil || len(bw.blocks) != tc.blockWhens):
			t.Errorf("%s: when = %#v, want %d block conditions", tc.name, tk.When, tc.blockWhens)
		case (ownWhen(tk.When) != nil) != tc.own:
			t.Errorf("%s: own when %v, want %v", tc.name, ownWhen(tk.When) != nil, tc.own)
		}
		if got := hasRef(tk.Refs, Ref{Type: "command", Name: "probe"}); got != tc.refsProbe {
			t.Errorf("%s: refers to command.probe: %v, want %v", tc.name, got, tc.refsProbe)
		}
	}
	if got := strings.Join(pb.Tags(), " "); got != "deploy inner install web" {
		t.Errorf("playbook tags %q", got)
	}
}

// TestBlockWhenValue: the conditions are and-ed outermost first, stopping
// at the first false (which may guard the next) or unknown.
func TestBlockWhenValue(t *testing.T) {
	expr := func(src string) hcl.Expression {
		e, diags := hclsyntax.ParseExpression([]byte(src), "t.hcl", hcl.InitialPos)
		if diags.HasErrors() {
			t.Fatal(diags)
		}
		return e
	}
	blk := func(name, when string) *Block { return &Block{Name: name, When: expr(when)} }
	ctx := &hcl.EvalContext{Variables: map[string]cty.Value{
		"var": cty.ObjectVal(map[string]cty.Value{"x": cty.NullVal(cty.Object(map[string]cty.Type{"on": cty.Bool})), "u": cty.UnknownVal(cty.Bool), "n": cty.NumberIntVal(1)}),
	}}
	for _, tc := range []struct {
		name   string
		blocks []*Block
		own    string
		want   string // true, false, unknown, or an error's text
	}{
		{"all true", []*Block{blk("a", "true"), blk("b", "1 == 1")}, "true", "true"},
		{"block false guards the task's own", []*Block{blk("a", "var.x != null")}, "var.x.on", "false"},
		{"inner false", []*Block{blk("a", "true"), blk("b", "false")}, "", "false"},
		{"own false", []*Block{blk("a", "true")}, "false", "false"},
		{"unknown waits", []*Block{blk("a", "var.u")}, "false", "unknown"},
		{"false before unknown", []*Block{blk("a", "false")}, "var.u", "false"},
		{"not a bool", []*Block{blk("a", "var.n == 1"), blk("b", `"yes"`)}, "", `the when of block.b must be true or false, not string.`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var path []BlockPos
			for _, b := range tc.blocks {
				path = append(path, BlockPos{Block: b})
			}
			var own hcl.Expression
			if tc.own != "" {
				own = expr(tc.own)
			}
			w := withBlockWhen(path, own)
			v, diags := w.Value(ctx)
			got := ""
			switch {
			case diags.HasErrors():
				got = diags[0].Detail
			case !v.IsKnown():
				got = "unknown"
			case v.True():
				got = "true"
			default:
				got = "false"
			}
			if got != tc.want {
				t.Errorf("got %s, want %s", got, tc.want)
			}
		})
	}
	// A task in blocks without when keeps its own expression.
	own := expr("true")
	if w := withBlockWhen([]BlockPos{{Block: &Block{Name: "a"}}}, own); w != own {
		t.Errorf("withBlockWhen without block conditions = %#v", w)
	}
}

func TestWhenParts(t *testing.T) {
	a, _ := hclsyntax.ParseExpression([]byte("true"), "a.hcl", hcl.InitialPos)
	b, _ := hclsyntax.ParseExpression([]byte("false"), "b.hcl", hcl.InitialPos)
	for _, tc := range []struct {
		name string
		e    hcl.Expression
		want []hcl.Expression
	}{
		{"none", nil, nil},
		{"own only", a, []hcl.Expression{a}},
		{"block and own", withBlockWhen([]BlockPos{{Block: &Block{Name: "x", When: b}}}, a), []hcl.Expression{b, a}},
		{"block only", withBlockWhen([]BlockPos{{Block: &Block{Name: "x", When: b}}}, nil), []hcl.Expression{b}},
	} {
		got := WhenParts(tc.e)
		if len(got) != len(tc.want) {
			t.Errorf("%s: %d parts, want %d", tc.name, len(got), len(tc.want))
			continue
		}
		for i := range got {
			if got[i] != tc.want[i] {
				t.Errorf("%s: part %d differs", tc.name, i)
			}
		}
	}
}
