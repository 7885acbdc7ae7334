package modules_test

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/zclconf/go-cty/cty"
	"github.com/zclconf/go-cty/cty/function"
	"github.com/zclconf/go-cty/cty/function/stdlib"

	"github.com/drover-cm/drover/engine/remote"
	"github.com/drover-cm/drover/engine/shell"
	"github.com/drover-cm/drover/engine/transport"
	"github.com/drover-cm/drover/modules/contract"
	"github.com/drover-cm/drover/modules/moduletest"
)

// A scenario applies one module twice on a target and checks the result on
// the target with an independent shell (inspect), so the same scenarios run
// on the local transport, under busybox and on real fleet hosts over SSH.
type scenario struct {
	name   string
	module string
	root   bool   // needs root on the target (ownership)
	setup  string // sh run on the target before, with $B the base directory
	// attrs builds the task's attributes for base directory b on the target
	// and a local directory l holding the scenario's source files.
	attrs func(b, l string) map[string]cty.Value
	// local writes source files into the local directory.
	local func(t *testing.T, l string)
	// check runs after the two applies; inspect runs sh on the target with
	// $B set, and returns its stdout.
	check func(t *testing.T, plan *contract.Plan, res transport.Result, inspect func(script string) string)
}

// stdFuncs stand in for the playbook language's functions.
var stdFuncs = map[string]function.Function{"upper": stdlib.UpperFunc, "join": stdlib.JoinFunc}

// hostileDirName is a directory name used as the base of every scenario.
const hostileDirName = "base 'q' \"$(touch pwned)\" `id`; ü"

func sum(s string) string {
	h := sha256.Sum256([]byte(s))
	return hex.EncodeToString(h[:])
}

func expect(t *testing.T, what, got, want string) {
	t.Helper()
	if got != want {
		t.Errorf("%s:\ngot  %q\nwant %q", what, got, want)
	}
}

func writeLocal(t *testing.T, p, content string) {
	t.Helper()
	if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(p, []byte(content), 0o644); err != nil {
		t.Fatal(err)
	}
}

const tmpl = `server {
  listen ${port};
%{ for u in upstreams ~}
  upstream ${u};
%{ endfor ~}
%{ if tls }  ssl on;
%{ endif ~}
  name "${upper(name)}";
}
`

func scenarios() []scenario {
	return []scenario{
		{
			name: "file create hostile", module: "file", root: true,
			attrs: func(b, l string) map[string]cty.Value {
				return map[string]cty.Value{"path": str(b + "/" + hostileName), "content": str(hostileContent),
					"mode": str("0640"), "owner": str("nobody"), "group": str("nogroup")}
			},
			check: func(t *testing.T, plan *contract.Plan, _ transport.Result, inspect func(string) string) {
				out := inspect(`f="$B"/` + shell.Quote(hostileName) + `; stat -c '%a %U %G' "$f"; sha256sum <"$f" | cut -d' ' -f1; find "$B" -mindepth 1 -exec echo x ';' | wc -l`)
				expect(t, "stat, sha256, entries", out, "640 nobody nogroup\n"+sum(hostileContent)+"\n1\n")
			},
		},
		{
			name: "file update keeps owner and mode", module: "file", root: true,
			setup: `printf 'old\n' >"$B/f"; chown nobody:nogroup "$B/f"; chmod 0604 "$B/f"`,
			attrs: func(b, l string) map[string]cty.Value {
				return map[string]cty.Value{"path": str(b + "/f"), "content": str("new\n")}
			},
			check: func(t *testing.T, plan *contract.Plan, _ transport.Result, inspect func(string) string) {
				if !strings.Contains(plan.Changes[0].Diff, "-old\n+new\n") {
					t.Errorf("diff: %q", plan.Changes[0].Diff)
				}
				expect(t, "file", inspect(`stat -c '%a %U %G' "$B/f"; cat "$B/f"; ls -A "$B"`), "604 nobody nogroup\nnew\nf\n")
			},
		},
		{
			name: "file owner change keeps setuid", module: "file", root: true,
			setup: `printf '#!/bin/sh\n' >"$B/tool"; chmod 4755 "$B/tool"`,
			attrs: func(b, l string) map[string]cty.Value {
				return map[string]cty.Value{"path": str(b + "/tool"), "owner": str("nobody")}
			},
			check: func(t *testing.T, plan *contract.Plan, _ transport.Result, inspect func(string) string) {
				expect(t, "stat", inspect(`stat -c '%a %U' "$B/tool"`), "4755 nobody\n")
			},
		},
		{
			name: "file absent", module: "file",
			setup: `echo x >"$B/gone"; echo y >"$B/kept"`,
			attrs: func(b, l string) map[string]cty.Value {
				return map[string]cty.Value{"path": str(b + "/gone"), "state": str("absent")}
			},
			check: func(t *testing.T, plan *contract.Plan, _ transport.Result, inspect func(string) string) {
				expect(t, "entries", inspect(`ls -A "$B"`), "kept\n")
			},
		},
		{
			name: "directory create nested", module: "directory", root: true,
			attrs: func(b, l string) map[string]cty.Value {
				return map[string]cty.Value{"path": str(b + "/a/b c/d$(x)"), "mode": str("0750"), "owner": str("nobody")}
			},
			check: func(t *testing.T, plan *contract.Plan, _ transport.Result, inspect func(string) string) {
				expect(t, "stat", inspect(`stat -c '%F %a %U' "$B/a/b c/d\$(x)"`), "directory 750 nobody\n")
			},
		},
		{
			name: "directory absent", module: "directory",
			setup: `mkdir -p "$B/tree/sub"; echo x >"$B/tree/sub/f"`,
			attrs: func(b, l string) map[string]cty.Value {
				return map[string]cty.Value{"path": str(b + "/tree"), "state": str("absent")}
			},
			check: func(t *testing.T, plan *contract.Plan, _ transport.Result, inspect func(string) string) {
				expect(t, "entries", inspect(`ls -A "$B"`), "")
			},
		},
		{
			name: "copy file", module: "copy",
			local: func(t *testing.T, l string) { writeLocal(t, l+"/src file", hostileContent) },
			attrs: func(b, l string) map[string]cty.Value {
				return map[string]cty.Value{"source": str("src file"), "path": str(b + "/" + hostileName), "mode": str("0600")}
			},
			check: func(t *testing.T, plan *contract.Plan, _ transport.Result, inspect func(string) string) {
				out := inspect(`f="$B"/` + shell.Quote(hostileName) + `; stat -c '%a' "$f"; sha256sum <"$f" | cut -d' ' -f1`)
				expect(t, "copy", out, "600\n"+sum(hostileContent)+"\n")
			},
		},
		{
			name: "copy tree with purge", module: "copy",
			setup: `mkdir -p "$B/dst/sub" "$B/dst/extra dir/deep"; echo stale >"$B/dst/sub/changed"; echo same >"$B/dst/same"
echo x >"$B/dst/extra file"; echo y >"$B/dst/extra dir/deep/z"`,
			local: func(t *testing.T, l string) {
				writeLocal(t, l+"/tree/same", "same\n")
				writeLocal(t, l+"/tree/sub/changed", "fresh\n")
				writeLocal(t, l+"/tree/"+hostileDirName+"/"+hostileName, hostileContent)
				writeLocal(t, l+"/tree/empty/.keep", "")
				os.Chmod(l+"/tree/same", 0o755)
			},
			attrs: func(b, l string) map[string]cty.Value {
				return map[string]cty.Value{"source": str(l + "/tree"), "path": str(b + "/dst"), "purge": cty.True}
			},
			check: func(t *testing.T, plan *contract.Plan, _ transport.Result, inspect func(string) string) {
				// "same" has the same content: only ... nothing uploaded for it.
				for _, c := range plan.Changes {
					if strings.HasSuffix(c.Subject, "/same") && c.Action != contract.Update {
						t.Errorf("same file: %v", c)
					}
				}
				out := inspect(`cd "$B/dst" && find . -print0 | LC_ALL=C sort -z | tr '\0' '|' && cat sub/changed && sha256sum <` + shell.Quote("./"+hostileDirName+"/"+hostileName) + ` | cut -d' ' -f1`)
				want := ".|./" + hostileDirName + "|./" + hostileDirName + "/" + hostileName + "|./empty|./empty/.keep|./same|./sub|./sub/changed|fresh\n" + sum(hostileContent) + "\n"
				expect(t, "tree", out, want)
			},
		},
		{
			name: "template", module: "template",
			local: func(t *testing.T, l string) { writeLocal(t, l+"/site.tmpl", tmpl) },
			attrs: func(b, l string) map[string]cty.Value {
				return map[string]cty.Value{"source": str("site.tmpl"), "path": str(b + "/site.conf"),
					"vars": cty.ObjectVal(map[string]cty.Value{
						"port": cty.NumberIntVal(8080), "tls": cty.True, "name": str("it's $(x)"),
						"upstreams": cty.TupleVal([]cty.Value{str("10.0.0.1"), str("10.0.0.2")}),
					})}
			},
			check: func(t *testing.T, plan *contract.Plan, _ transport.Result, inspect func(string) string) {
				expect(t, "rendered", inspect(`cat "$B/site.conf"`), "server {\n  listen 8080;\n  upstream 10.0.0.1;\n  upstream 10.0.0.2;\n  ssl on;\n  name \"IT'S $(X)\";\n}\n")
			},
		},
		{
			name: "line replace keeps owner", module: "line", root: true,
			setup: `printf '# conf\nPort 22\n#PasswordAuthentication yes\nX 1\n' >"$B/sshd"; chown nobody "$B/sshd"; chmod 0600 "$B/sshd"`,
			attrs: func(b, l string) map[string]cty.Value {
				return map[string]cty.Value{"path": str(b + "/sshd"), "regexp": str(`^#?PasswordAuthentication\s`), "line": str("PasswordAuthentication no")}
			},
			check: func(t *testing.T, plan *contract.Plan, _ transport.Result, inspect func(string) string) {
				expect(t, "file", inspect(`stat -c '%a %U' "$B/sshd"; cat "$B/sshd"`), "600 nobody\n# conf\nPort 22\nPasswordAuthentication no\nX 1\n")
			},
		},
		{
			name: "line insert after and create", module: "line",
			attrs: func(b, l string) map[string]cty.Value {
				return map[string]cty.Value{"path": str(b + "/new"), "line": str("it's $(x) `y`"), "create": cty.True}
			},
			check: func(t *testing.T, plan *contract.Plan, _ transport.Result, inspect func(string) string) {
				expect(t, "file", inspect(`cat "$B/new"`), "it's $(x) `y`\n")
			},
		},
		{
			name: "line absent", module: "line",
			setup: `printf 'a\nb 1\nc\nb 2' >"$B/f"`,
			attrs: func(b, l string) map[string]cty.Value {
				return map[string]cty.Value{"path": str(b + "/f"), "regexp": str(`^b `), "state": str("absent")}
			},
			check: func(t *testing.T, plan *contract.Plan, _ transport.Result, inspect func(string) string) {
				expect(t, "file", inspect(`cat "$B/f"`), "a\nc\n")
			},
		},
		{
			name: "ini set keeps owner, mode and the rest", module: "ini", root: true,
			setup: `printf '; managed elsewhere\n[db]\nhost = a\n# port = 1\nport=5432\n\n[web]\nport = 80' >"$B/app.ini"; chown nobody "$B/app.ini"; chmod 0600 "$B/app.ini"`,
			attrs: func(b, l string) map[string]cty.Value {
				return map[string]cty.Value{"path": str(b + "/app.ini"), "section": str("web"), "key": str("port"), "value": str("it's $(x) `y`")}
			},
			check: func(t *testing.T, plan *contract.Plan, _ transport.Result, inspect func(string) string) {
				expect(t, "file", inspect(`stat -c '%a %U' "$B/app.ini"; cat "$B/app.ini"`),
					"600 nobody\n; managed elsewhere\n[db]\nhost = a\n# port = 1\nport=5432\n\n[web]\nport = it's $(x) `y`")
			},
		},
		{
			name: "ini create with a hostile section and a mode", module: "ini",
			attrs: func(b, l string) map[string]cty.Value {
				return map[string]cty.Value{"path": str(b + "/" + hostileName + ".ini"), "section": str(`it's "$(touch pwned)"`), "key": str("k"), "value": str("v"), "mode": str("0640")}
			},
			check: func(t *testing.T, plan *contract.Plan, _ transport.Result, inspect func(string) string) {
				expect(t, "file", inspect(`cd "$B" && stat -c %a -- *.ini && cat -- *.ini`), "640\n[it's \"$(touch pwned)\"]\nk = v\n")
			},
		},
		{
			name: "ini absent section and key", module: "ini",
			setup: `printf 'a = 1\n[x]\nb = 2\n\n[y]\nc = 3\n' >"$B/f.ini"`,
			attrs: func(b, l string) map[string]cty.Value {
				return map[string]cty.Value{"path": str(b + "/f.ini"), "section": str("y"), "state": str("absent")}
			},
			check: func(t *testing.T, plan *contract.Plan, _ transport.Result, inspect func(string) string) {
				expect(t, "file", inspect(`cat "$B/f.ini"`), "a = 1\n[x]\nb = 2\n")
			},
		},
		{
			name: "symlink create", module: "symlink",
			attrs: func(b, l string) map[string]cty.Value {
				return map[string]cty.Value{"path": str(b + "/" + hostileName), "target": str("../it's $(x)\ntarget")}
			},
			check: func(t *testing.T, plan *contract.Plan, _ transport.Result, inspect func(string) string) {
				expect(t, "link", inspect(`readlink "$B"/`+shell.Quote(hostileName)), "../it's $(x)\ntarget\n")
			},
		},
		{
			name: "symlink retarget a link to a directory", module: "symlink",
			setup: `mkdir "$B/old" "$B/new"; ln -s old "$B/cur"`,
			attrs: func(b, l string) map[string]cty.Value {
				return map[string]cty.Value{"path": str(b + "/cur"), "target": str("new")}
			},
			check: func(t *testing.T, plan *contract.Plan, _ transport.Result, inspect func(string) string) {
				expect(t, "link", inspect(`readlink "$B/cur"; cd "$B"; ls -A old new`), "new\nnew:\n\nold:\n")
			},
		},
		{
			name: "symlink force over file", module: "symlink",
			setup: `echo x >"$B/f"`,
			attrs: func(b, l string) map[string]cty.Value {
				return map[string]cty.Value{"path": str(b + "/f"), "target": str("/etc/hostname"), "force": cty.True}
			},
			check: func(t *testing.T, plan *contract.Plan, _ transport.Result, inspect func(string) string) {
				expect(t, "link", inspect(`readlink "$B/f"`), "/etc/hostname\n")
			},
		},
		{
			name: "command argv hostile", module: "command",
			attrs: func(b, l string) map[string]cty.Value {
				return map[string]cty.Value{
					"run": cty.TupleVal([]cty.Value{str("sh"), str("-c"), str(`printf '[%s]\n' "$@" >out; echo done`), str("sh"),
						str("a b"), str("$(touch pwned)"), str("it's"), str("`id`;\nx")}),
					"chdir": str(b), "creates": str("out"),
				}
			},
			check: func(t *testing.T, plan *contract.Plan, res transport.Result, inspect func(string) string) {
				expect(t, "stdout", string(res.Stdout), "done\n")
				expect(t, "out", inspect(`cat "$B/out"`), "[a b]\n[$(touch pwned)]\n[it's]\n[`id`;\nx]\n")
			},
		},
		{
			name: "command string with stdin and env", module: "command",
			attrs: func(b, l string) map[string]cty.Value {
				return map[string]cty.Value{
					"run":     str(`sh -c 'cat >"$0"; printf "%s" "$V" >>"$0"' ` + shell.Quote(b+"/in")),
					"stdin":   str("line1\n'$(x)'\n"),
					"env":     cty.MapVal(map[string]cty.Value{"V": str("v'$(y)")}),
					"creates": str(b + "/in"),
				}
			},
			check: func(t *testing.T, plan *contract.Plan, res transport.Result, inspect func(string) string) {
				expect(t, "in", inspect(`cat "$B/in"`), "line1\n'$(x)'\nv'$(y)")
			},
		},
		{
			name: "shell with unless", module: "shell",
			attrs: func(b, l string) map[string]cty.Value {
				return map[string]cty.Value{
					"run":    str(`echo "$GREETING" > greeting; cat greeting; echo warn >&2`),
					"chdir":  str(b),
					"env":    cty.MapVal(map[string]cty.Value{"GREETING": str("hi 'there' $(x)")}),
					"unless": str(`grep -q hi greeting`),
				}
			},
			check: func(t *testing.T, plan *contract.Plan, res transport.Result, inspect func(string) string) {
				expect(t, "stdout", string(res.Stdout), "hi 'there' $(x)\n")
				expect(t, "stderr", string(res.Stderr), "warn\n")
				expect(t, "greeting", inspect(`cat "$B/greeting"`), "hi 'there' $(x)\n")
			},
		},
	}
}

// target is where scenarios run: a connection, a base directory on the
// target for each scenario, and an independent shell there.
type target struct {
	conn    transport.Conn
	root    bool
	base    func(t *testing.T, name string) string
	inspect func(t *testing.T, script string) string
}

func runScenarios(t *testing.T, tg target) {
	for _, sc := range scenarios() {
		t.Run(sc.name, func(t *testing.T) {
			if sc.root && !tg.root {
				t.Skip("needs root on the target")
			}
			b := tg.base(t, sc.name)
			inspect := func(script string) string {
				t.Helper()
				return tg.inspect(t, "B="+shell.Quote(b)+"\n"+script)
			}
			if sc.setup != "" {
				inspect("set -e\n" + sc.setup)
			}
			l := t.TempDir()
			if sc.local != nil {
				sc.local(t, l)
			}
			cfg := contract.Config{Values: moduletest.Values(sc.attrs(b, l)), Dir: l,
				Functions: stdFuncs}
			plan, res := moduletest.ApplyTwice(t, tg.conn, mod(t, sc.module), cfg)
			if !plan.Changed() {
				t.Fatalf("first plan has no change")
			}
			sc.check(t, plan, res, inspect)
			if out := inspect(`find "$B" / -maxdepth 1 -name pwned; find "$B" -name '.*drover-*'`); out != "" {
				t.Errorf("hostile value executed or temporary files left: %s", out)
			}
		})
	}
}

func localInspect(t *testing.T, script string) string {
	t.Helper()
	out, err := exec.Command("sh", "-c", script).Output()
	if err != nil {
		t.Fatalf("inspect: %v\n%s", err, script)
	}
	return string(out)
}

func localTarget(conn transport.Conn) target {
	return target{
		conn: conn,
		root: os.Geteuid() == 0,
		base: func(t *testing.T, name string) string {
			b := filepath.Join(t.TempDir(), hostileDirName)
			if err := os.Mkdir(b, 0o755); err != nil {
				t.Fatal(err)
			}
			return b
		},
		inspect: localInspect,
	}
}

func TestScenariosLocal(t *testing.T) {
	runScenarios(t, localTarget(moduletest.Local(t)))
}

// The same scenarios with only busybox's shell and tools, as on Alpine.
func TestScenariosBusybox(t *testing.T) {
	runScenarios(t, localTarget(moduletest.Busybox(t)))
}

// runEdgeCases checks what must fail, and fail safely, on a target.
func runEdgeCases(t *testing.T, tg target) {
	ctx := context.Background()
	t.Run("line stale plan", func(t *testing.T) {
		b := tg.base(t, "stale")
		inspect := func(script string) string { return tg.inspect(t, "B="+shell.Quote(b)+"\n"+script) }
		inspect(`printf 'a\nb\n' >"$B/f"`)
		task := moduletest.Configure(t, mod(t, "line"), contract.Config{Values: moduletest.Values(map[string]cty.Value{
			"path": str(b + "/f"), "line": str("c"),
		})})
		plan := moduletest.MustPlan(t, tg.conn, task)
		inspect(`printf 'someone else\n' >>"$B/f"`)
		_, err := remote.Apply(ctx, tg.conn, plan)
		if err == nil || !strings.Contains(err.Error(), "changed since it was read; re-run") {
			t.Fatalf("apply of a stale plan: %v", err)
		}
		expect(t, "file after refused apply", inspect(`cat "$B/f"; ls -A "$B"`), "a\nb\nsomeone else\nf\n")
	})
	t.Run("file stale plan", func(t *testing.T) {
		b := tg.base(t, "stale")
		inspect := func(script string) string { return tg.inspect(t, "B="+shell.Quote(b)+"\n"+script) }
		inspect(`printf 'old\n' >"$B/f"`)
		task := moduletest.Configure(t, mod(t, "file"), contract.Config{Values: moduletest.Values(map[string]cty.Value{
			"path": str(b + "/f"), "content": str("desired\n"),
		})})
		plan := moduletest.MustPlan(t, tg.conn, task)
		inspect(`printf 'changed meanwhile\n' >"$B/f"`)
		moduletest.Apply(t, tg.conn, plan)
		expect(t, "file", inspect(`cat "$B/f"`), "desired\n")
	})
	t.Run("command failure", func(t *testing.T) {
		task := moduletest.Configure(t, mod(t, "shell"), contract.Config{Values: moduletest.Values(map[string]cty.Value{
			"run": str("echo out; echo first >&2; echo boom >&2; exit 3"),
		})})
		plan := moduletest.MustPlan(t, tg.conn, task)
		res, err := remote.Apply(ctx, tg.conn, plan)
		if err == nil || !strings.Contains(err.Error(), "exit status 3") || !strings.Contains(err.Error(), "first\nboom") {
			t.Fatalf("error: %v", err)
		}
		expect(t, "stdout of the failed command", string(res.Stdout), "out\n")
	})
	t.Run("file refuses a directory", func(t *testing.T) {
		b := tg.base(t, "dir")
		task := moduletest.Configure(t, mod(t, "file"), contract.Config{Values: moduletest.Values(map[string]cty.Value{
			"path": str(b), "content": str("x"),
		})})
		if _, err := moduletest.Plan(t, tg.conn, task); err == nil || !strings.Contains(err.Error(), "is a directory") {
			t.Fatalf("plan: %v", err)
		}
	})
	t.Run("large batched check", func(t *testing.T) {
		// Over the inline command-line limit, the script goes on stdin.
		var tasks []contract.Task
		for i := 0; i < 600; i++ {
			tasks = append(tasks, fragTask(fmt.Sprintf("printf '%%s' %d # %s", i, strings.Repeat("x", 200))))
		}
		outs, err := remote.CheckAll(ctx, tg.conn, tasks)
		if err != nil {
			t.Fatal(err)
		}
		for i, o := range outs {
			if string(o.Stdout) != fmt.Sprint(i) {
				t.Fatalf("task %d: %q", i, o.Stdout)
			}
		}
	})
	t.Run("batched check is one round trip", func(t *testing.T) {
		b := tg.base(t, "batch")
		var tasks []contract.Task
		for _, m := range []string{"file", "directory", "symlink", "line"} {
			vals := map[string]cty.Value{"path": str(b + "/" + m)}
			switch m {
			case "symlink":
				vals["target"] = str("x")
			case "line":
				vals["line"] = str("x")
				vals["create"] = cty.True
			}
			tasks = append(tasks, moduletest.Configure(t, mod(t, m), contract.Config{Values: moduletest.Values(vals)}))
		}
		before := tg.conn.Stats().RoundTrips
		outs, err := remote.CheckAll(ctx, tg.conn, tasks)
		if err != nil {
			t.Fatal(err)
		}
		if n := tg.conn.Stats().RoundTrips - before; n != 1 {
			t.Errorf("%d round trips for %d checks", n, len(tasks))
		}
		for i, task := range tasks {
			if p, err := task.Diff(outs[i]); err != nil || len(p.Changes) != 1 || p.Changes[0].Action != contract.Create {
				t.Errorf("task %d: %v %v", i, moduletest.Describe(p), err)
			}
		}
	})
}

func TestEdgeCasesLocal(t *testing.T) {
	runEdgeCases(t, localTarget(moduletest.Local(t)))
}

// fragTask is a Task with a fixed Check fragment.
type fragTask string

func (f fragTask) Check() string                                     { return string(f) }
func (f fragTask) Diff(contract.CheckOutput) (*contract.Plan, error) { return nil, nil }
