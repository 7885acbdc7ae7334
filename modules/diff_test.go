package modules

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/zclconf/go-cty/cty"

	"github.com/drover-cm/drover/engine/transport"
	"github.com/drover-cm/drover/internal/golden"
	"github.com/drover-cm/drover/modules/contract"
)

// Diff is pure: these tables feed canned Check outputs to configured tasks
// and compare the rendered plans (changes, uploads, scripts) with golden
// files in testdata/diff. Run `go test ./modules -run TestDiff -update` after
// an intended change and review the golden diff.

func hexSum(s string) string {
	h := sha256.Sum256([]byte(s))
	return hex.EncodeToString(h[:])
}

func obj(kv ...any) cty.Value {
	m := map[string]cty.Value{}
	for i := 0; i < len(kv); i += 2 {
		switch v := kv[i+1].(type) {
		case string:
			m[kv[i].(string)] = cty.StringVal(v)
		case bool:
			m[kv[i].(string)] = cty.BoolVal(v)
		case cty.Value:
			m[kv[i].(string)] = v
		default:
			panic(fmt.Sprintf("obj: %T", v))
		}
	}
	return cty.ObjectVal(m)
}

type diffCase struct {
	name   string
	module contract.Module
	values cty.Value
	dir    string // Config.Dir
	out    contract.CheckOutput
}

func stdout(s string) contract.CheckOutput { return contract.CheckOutput{Stdout: []byte(s)} }

func fileState(content string, mode string) contract.CheckOutput {
	return stdout(fmt.Sprintf("type=file\nstat=%s 0 0 root root %d\nsha256=%s\ntail content\n%s", mode, len(content), hexSum(content), content))
}

func diffCases(t *testing.T) []diffCase {
	local := t.TempDir()
	os.MkdirAll(filepath.Join(local, "tree", "sub"), 0o755)
	os.WriteFile(filepath.Join(local, "tree", "a"), []byte("a\n"), 0o644)
	os.WriteFile(filepath.Join(local, "tree", "sub", "b"), []byte("b\n"), 0o755)
	os.WriteFile(filepath.Join(local, "one.txt"), []byte("one\ntwo\n"), 0o640)
	sshd := "# conf\nPort 22\n#PasswordAuthentication yes\nUsePAM yes\n"
	return []diffCase{
		// file
		{name: "file/create", module: fileModule{}, values: obj("path", "/etc/motd", "content", "hello\nworld\n", "owner", "root"),
			out: stdout("type=missing\n")},
		{name: "file/create-hostile-path", module: fileModule{}, values: obj("path", "/tmp/it's $(x) `y`;\nz", "content", "x"),
			out: stdout("type=missing\n")},
		{name: "file/update-text", module: fileModule{}, values: obj("path", "/etc/motd", "content", "hello\nthere\n"),
			out: fileState("hello\nworld\n", "644")},
		{name: "file/update-binary", module: fileModule{}, values: obj("path", "/etc/motd", "content", "new\n"),
			out: fileState("\x00\x01bin", "600")},
		{name: "file/update-too-large-to-fetch", module: fileModule{}, values: obj("path", "/f", "content", "new\n"),
			out: stdout("type=file\nstat=644 0 0 root root 99999999\nsha256=" + hexSum("big") + "\n")},
		{name: "file/mode-only", module: fileModule{}, values: obj("path", "/etc/motd", "content", "same\n", "mode", "0600"),
			out: fileState("same\n", "644")},
		{name: "file/owner-group-only", module: fileModule{}, values: obj("path", "/f", "content", "same\n", "owner", "33", "group", "www-data"),
			out: fileState("same\n", "644")},
		{name: "file/owner-change-keeps-setuid", module: fileModule{}, values: obj("path", "/usr/local/bin/tool", "owner", "app"),
			out: stdout("type=file\nstat=4755 0 0 root root 10\n")},
		{name: "file/unchanged", module: fileModule{}, values: obj("path", "/f", "content", "same\n", "owner", "0", "group", "root", "mode", "644"),
			out: fileState("same\n", "644")},
		{name: "file/content-unmanaged-missing", module: fileModule{}, values: obj("path", "/f"),
			out: stdout("type=missing\n")},
		{name: "file/sensitive-content", module: fileModule{}, values: obj("path", "/f", "content", cty.StringVal("secret\n").Mark("sensitive")),
			out: fileState("old secret\n", "600")},
		{name: "file/absent-missing", module: fileModule{}, values: obj("path", "/f", "state", "absent"),
			out: stdout("type=missing\n")},
		{name: "file/absent-file", module: fileModule{}, values: obj("path", "/f", "state", "absent"),
			out: stdout("type=file\n")},
		{name: "file/error-directory", module: fileModule{}, values: obj("path", "/f", "content", "x"),
			out: stdout("type=dir\nstat=755 0 0 root root 4096\n")},
		{name: "file/error-link", module: fileModule{}, values: obj("path", "/f", "content", "x"),
			out: stdout("type=link\n")},
		{name: "file/error-check-failed", module: fileModule{}, values: obj("path", "/f", "content", "x"),
			out: contract.CheckOutput{Stdout: []byte("type=file\nstat=600 0 0 root root 3\n"), Stderr: []byte("sha256sum: Permission denied\n"), ExitCode: 1}},

		// directory
		{name: "directory/create", module: directoryModule{}, values: obj("path", "/srv/app", "owner", "app", "mode", "2750"),
			out: stdout("type=missing\n")},
		{name: "directory/unchanged", module: directoryModule{}, values: obj("path", "/srv/app", "mode", "0755"),
			out: stdout("type=dir\nstat=755 0 0 root root 4096\n")},
		{name: "directory/fix-mode-owner", module: directoryModule{}, values: obj("path", "/srv/app", "mode", "0700", "owner", "app"),
			out: stdout("type=dir\nstat=755 0 0 root root 4096\n")},
		{name: "directory/absent", module: directoryModule{}, values: obj("path", "/srv/app", "state", "absent"),
			out: stdout("type=dir\nstat=755 0 0 root root 4096\n")},
		{name: "directory/absent-missing", module: directoryModule{}, values: obj("path", "/srv/app", "state", "absent"),
			out: stdout("type=missing\n")},
		{name: "directory/error-file", module: directoryModule{}, values: obj("path", "/srv/app"),
			out: stdout("type=file\nstat=644 0 0 root root 1\n")},

		// symlink
		{name: "symlink/create", module: symlinkModule{}, values: obj("path", "/srv/current", "target", "releases/v1"),
			out: stdout("type=missing\n")},
		{name: "symlink/unchanged", module: symlinkModule{}, values: obj("path", "/srv/current", "target", "releases/v1"),
			out: stdout("type=link\ntail target\nreleases/v1\n")},
		// A killed run's new link beside it: removed (and said) even when
		// the link itself is right.
		{name: "symlink/unchanged-stale-link", module: symlinkModule{}, values: obj("path", "/srv/current", "target", "releases/v1"),
			out: stdout("stale=1\ntype=link\ntail target\nreleases/v1\n")},
		{name: "symlink/retarget", module: symlinkModule{}, values: obj("path", "/srv/current", "target", "releases/v2"),
			out: stdout("type=link\ntail target\nreleases/v1\n")},
		{name: "symlink/target-with-newline", module: symlinkModule{}, values: obj("path", "/l", "target", "a\nb\n"),
			out: stdout("type=link\ntail target\na\nb\n\n")},
		{name: "symlink/error-file-without-force", module: symlinkModule{}, values: obj("path", "/l", "target", "t"),
			out: stdout("type=file\n")},
		{name: "symlink/force-file", module: symlinkModule{}, values: obj("path", "/l", "target", "t", "force", true),
			out: stdout("type=file\n")},
		{name: "symlink/force-empty-dir", module: symlinkModule{}, values: obj("path", "/l", "target", "t", "force", true),
			out: stdout("type=dir\nempty=1\n")},
		{name: "symlink/error-nonempty-dir", module: symlinkModule{}, values: obj("path", "/l", "target", "t", "force", true),
			out: stdout("type=dir\n")},
		{name: "symlink/absent", module: symlinkModule{}, values: obj("path", "/l", "state", "absent"),
			out: stdout("type=link\ntail target\nt\n")},

		// line
		{name: "line/replace", module: lineModule{}, values: obj("path", "/etc/ssh/sshd_config", "regexp", `^#?PasswordAuthentication\s`, "line", "PasswordAuthentication no"),
			out: fileState(sshd, "600")},
		{name: "line/replace-unchanged", module: lineModule{}, values: obj("path", "/f", "regexp", `^Port\s`, "line", "Port 22"),
			out: fileState(sshd, "600")},
		{name: "line/present-unchanged", module: lineModule{}, values: obj("path", "/f", "line", "UsePAM yes"),
			out: fileState(sshd, "600")},
		{name: "line/regexp-no-match-line-present", module: lineModule{}, values: obj("path", "/f", "regexp", `^Nope`, "line", "Port 22"),
			out: fileState(sshd, "600")},
		{name: "line/insert-eof-no-final-newline", module: lineModule{}, values: obj("path", "/f", "line", "c"),
			out: fileState("a\nb", "644")},
		{name: "line/insert-after", module: lineModule{}, values: obj("path", "/f", "line", "Port 2222", "insert_after", `^Port`),
			out: fileState(sshd, "644")},
		{name: "line/insert-before", module: lineModule{}, values: obj("path", "/f", "line", "# managed", "insert_before", `^UsePAM`),
			out: fileState(sshd, "644")},
		{name: "line/insert-bof", module: lineModule{}, values: obj("path", "/f", "line", "first", "insert_before", "BOF"),
			out: fileState(sshd, "644")},
		{name: "line/insert-after-no-match-goes-to-eof", module: lineModule{}, values: obj("path", "/f", "line", "last", "insert_after", `^Nope`),
			out: fileState("a\n", "644")},
		{name: "line/absent-regexp", module: lineModule{}, values: obj("path", "/f", "regexp", `^b`, "state", "absent"),
			out: fileState("a\nb1\nc\nb2", "644")},
		{name: "line/absent-line", module: lineModule{}, values: obj("path", "/f", "line", "b", "state", "absent"),
			out: fileState("b\na\nb\nbb\n", "644")},
		{name: "line/empty-file", module: lineModule{}, values: obj("path", "/f", "line", "x"),
			out: fileState("", "644")},
		{name: "line/create", module: lineModule{}, values: obj("path", "/f", "line", "x", "create", true),
			out: stdout("type=missing\n")},
		{name: "line/error-missing", module: lineModule{}, values: obj("path", "/f", "line", "x"),
			out: stdout("type=missing\n")},
		{name: "line/error-too-big", module: lineModule{}, values: obj("path", "/f", "line", "x"),
			out: stdout("type=file\nstat=644 0 0 root root 2000000\n")},
		{name: "line/absent-missing", module: lineModule{}, values: obj("path", "/f", "line", "x", "state", "absent"),
			out: stdout("type=missing\n")},

		// command and shell
		{name: "command/run-list", module: commandModule{}, values: obj("run", cty.TupleVal([]cty.Value{cty.StringVal("/srv/app/bin/migrate"), cty.StringVal("--env"), cty.StringVal("it's $(prod)")}), "chdir", "/srv/app"),
			out: contract.CheckOutput{}},
		{name: "command/run-string", module: commandModule{}, values: obj("run", `systemctl "reload" 'nginx' a\ b`),
			out: contract.CheckOutput{}},
		{name: "command/skip-creates", module: commandModule{}, values: obj("run", "make install", "creates", "/usr/local/bin/app"),
			out: stdout("skip creates\n")},
		{name: "command/run-despite-creates", module: commandModule{}, values: obj("run", "make install", "creates", "bin/app", "chdir", "/src"),
			out: stdout("run\n")},
		{name: "command/sensitive-env", module: commandModule{}, values: obj("run", "deploy", "env", cty.MapVal(map[string]cty.Value{"TOKEN": cty.StringVal("s3cret").Mark("sensitive"), "A": cty.StringVal("b")})),
			out: contract.CheckOutput{}},
		{name: "command/stdin", module: commandModule{}, values: obj("run", "cat", "stdin", "hello\n"),
			out: contract.CheckOutput{}},
		{name: "shell/multi-line", module: shellModule{}, values: obj("run", "set -e\ncd /srv\nmake\n"),
			out: contract.CheckOutput{}},
		{name: "shell/unless-ok", module: shellModule{}, values: obj("run", "apt-get update", "unless", "test -e /x"),
			out: stdout("skip unless\n")},
		{name: "shell/run", module: shellModule{}, values: obj("run", "echo \"$A\" | tee /tmp/x >/dev/null", "env", cty.MapVal(map[string]cty.Value{"A": cty.StringVal("it's")}), "removes", "/tmp/y"),
			out: stdout("run\n")},

		// copy
		{name: "copy/file-create", module: copyModule{}, values: obj("source", "one.txt", "path", "/etc/one"), dir: local,
			out: stdout("type=missing\n")},
		{name: "copy/file-update", module: copyModule{}, values: obj("source", "one.txt", "path", "/etc/one"), dir: local,
			out: fileState("one\n", "644")},
		{name: "copy/tree-new", module: copyModule{}, values: obj("source", "tree", "path", "/srv/t", "owner", "app"), dir: local,
			out: stdout("type=missing\n")},
		{name: "copy/tree-partial", module: copyModule{}, values: obj("source", "tree", "path", "/srv/t", "purge", true), dir: local,
			out: stdout("type=dir\nstat=755 0 0 root root\n" +
				"entry.1=dir - 700 0 0 root root\n" +
				"entry.2=file " + hexSum("a\n") + " 644 0 0 root root\n" +
				"entry.3=file " + hexSum("old\n") + " 755 0 0 root root\n" +
				"tail purge\n./a\x00./sub\x00./sub/b\x00./x y\x00./x y/z\x00./zz\n\x00")},
		{name: "copy/tree-unchanged", module: copyModule{}, values: obj("source", "tree", "path", "/srv/t"), dir: local,
			out: stdout("type=dir\nstat=755 0 0 root root\n" +
				"entry.1=dir - 755 0 0 root root\n" +
				"entry.2=file " + hexSum("a\n") + " 644 0 0 root root\n" +
				"entry.3=file " + hexSum("b\n") + " 755 0 0 root root\n")},
		{name: "copy/error-tree-over-file", module: copyModule{}, values: obj("source", "tree", "path", "/srv/t"), dir: local,
			out: stdout("type=dir\nstat=755 0 0 root root\n" +
				"entry.1=file " + hexSum("a\n") + " 644 0 0 root root\n" +
				"entry.2=missing\nentry.3=missing\n")},
	}
}

func TestDiff(t *testing.T) {
	old := tempSuffix
	tempSuffix = func() string { return "TMP" }
	t.Cleanup(func() { tempSuffix = old })
	for _, c := range diffCases(t) {
		t.Run(c.name, func(t *testing.T) {
			task, err := c.module.Configure(contract.Config{Values: c.values, Dir: c.dir})
			if err != nil {
				t.Fatalf("Configure: %v", err)
			}
			var got string
			plan, err := task.Diff(c.out)
			if err != nil {
				got = "error: " + err.Error() + "\n"
				var ne *contract.NeedsError
				if errors.As(err, &ne) {
					got = fmt.Sprintf("needs %s %s: %s\n", ne.Resource.Kind, ne.Resource.Name, ne.Err)
				}
			} else {
				got = renderPlanOpts(t, plan, runFuncs(c.module))
			}
			golden.Check(t, filepath.Join("testdata", "diff", strings.ReplaceAll(c.name, "/", "-")+".txt"), stableRun(got))
			// Diff is pure: a second call gives the same plan.
			if plan2, err2 := task.Diff(c.out); (err == nil) != (err2 == nil) || err == nil && renderPlanOpts(t, plan2, runFuncs(c.module)) != got {
				t.Error("a second Diff gave a different result")
			}
		})
	}
}

// renderPlan shows everything a plan holds, uploads' content included; a
// Step.Func shows as "(func)". Other modules' golden tests use it too.
func renderPlan(t *testing.T, p *contract.Plan) string { return renderPlanOpts(t, p, false) }

// renderPlanOpts with runFuncs runs each Step.Func against a recorder to
// show the commands it runs (only for Funcs that do nothing else, such as
// command's).
func renderPlanOpts(t *testing.T, p *contract.Plan, runFuncs bool) string {
	var b strings.Builder
	if !p.Changed() {
		b.WriteString("(no changes)\n")
	}
	for _, c := range p.Changes {
		fmt.Fprintf(&b, "%s %s %s", c.Action.Symbol(), c.Action, c.Subject)
		if c.Sensitive {
			b.WriteString(" (sensitive)")
		}
		b.WriteString("\n")
		for _, a := range c.Attrs {
			fmt.Fprintf(&b, "    %s: %q -> %q\n", a.Name, a.Old, a.New)
		}
		if c.Diff != "" {
			b.WriteString(indent(c.Diff, "    | "))
		}
	}
	for i, s := range p.Steps {
		fmt.Fprintf(&b, "step %d:\n", i+1)
		for _, u := range s.Uploads {
			r, err := u.Open()
			if err != nil {
				t.Fatal(err)
			}
			data, _ := io.ReadAll(r)
			r.Close()
			fmt.Fprintf(&b, "  upload %s mode %04o size %d: %q\n", u.Path, u.Mode, u.Size, data)
		}
		if s.Func != nil && !runFuncs {
			b.WriteString("  (func)\n")
		}
		if s.Func != nil && runFuncs {
			rec := &funcRecorder{}
			if _, err := s.Func(context.Background(), rec); err != nil {
				t.Fatal(err)
			}
			for _, c := range rec.cmds {
				fmt.Fprintf(&b, "  func runs (stdin %q):\n", c.stdin)
				b.WriteString(indent(c.command, "  $ "))
			}
		}
		// The library every file-writing step starts with is tested on
		// its own (safefs_test.go); the golden files show what follows it.
		b.WriteString(indent(strings.Replace(s.Script, safeFS, "[safeFS]\n", 1), "  $ "))
	}
	return b.String()
}

// runFuncs says whether the golden output of a module's plans shows what its
// Funcs run (they only run a command).
func runFuncs(m contract.Module) bool {
	switch m.(type) {
	case commandModule, shellModule:
		return true
	}
	return false
}

// funcRecorder records the commands a Step.Func runs.
type funcRecorder struct {
	cmds []struct{ command, stdin string }
}

func (r *funcRecorder) Run(ctx context.Context, cmd transport.Cmd) (transport.Result, error) {
	var in []byte
	if cmd.Stdin != nil {
		in, _ = io.ReadAll(cmd.Stdin)
	}
	r.cmds = append(r.cmds, struct{ command, stdin string }{cmd.Command, string(in)})
	return transport.Result{}, nil
}

func (r *funcRecorder) Put(context.Context, string, io.Reader, transport.PutOptions) error {
	return fmt.Errorf("funcRecorder: Put")
}

func (r *funcRecorder) Get(context.Context, string, io.Writer) error {
	return fmt.Errorf("funcRecorder: Get")
}

func (r *funcRecorder) Stats() transport.Stats { return transport.Stats{} }
func (r *funcRecorder) Close() error           { return nil }

func indent(s, prefix string) string {
	if s == "" {
		return ""
	}
	lines := strings.SplitAfter(s, "\n")
	var b strings.Builder
	for _, l := range lines {
		if l != "" {
			b.WriteString(prefix + l)
		}
	}
	if !strings.HasSuffix(s, "\n") {
		b.WriteString("\n")
	}
	return b.String()
}
