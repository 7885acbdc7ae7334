package modules

import (
	"context"
	"fmt"
	"path"
	"regexp"
	"strings"

	"github.com/zclconf/go-cty/cty"

	"github.com/drover-cm/drover/engine/shell"
	"github.com/drover-cm/drover/engine/transport"
	"github.com/drover-cm/drover/modules/contract"
)

// commandModule runs a program with an argument vector, no shell involved;
// shellModule runs shell code. They share everything but how `run` becomes a
// command line.
type (
	commandModule struct{}
	shellModule   struct{}
)

var execAttrs = []contract.Attribute{
	{Name: "creates", Type: cty.String,
		Doc: "A path; when it exists (as anything, even a dangling link) the command is skipped. Absolute, or relative to chdir."},
	{Name: "removes", Type: cty.String,
		Doc: "A path; the command runs only when it exists. Absolute, or relative to chdir."},
	{Name: "unless", Type: cty.String,
		Doc: "Shell code run while planning (read-only, it must change nothing), in chdir with env; when it exits 0 the command is skipped. Its output is discarded."},
	{Name: "chdir", Type: cty.String,
		Doc: "Absolute directory to run in. Unset: the login directory of the connecting user."},
	{Name: "env", Type: cty.Map(cty.String),
		Doc: "Environment variables added for the command (and for unless). Values are passed quoted, never interpreted; values marked sensitive are masked in the plan."},
	{Name: "stdin", Type: cty.String,
		Doc: "Text written to the command's standard input. Unset: the command reads end of file."},
}

var execOutputs = []contract.Attribute{
	{Name: "stdout", Type: cty.String, Doc: "What the command printed on standard output."},
	{Name: "stderr", Type: cty.String, Doc: "What it printed on standard error."},
	{Name: "exit_code", Type: cty.Number, Doc: "Its exit status: 0, unless failed_when or on_failure = \"continue\" let a non-zero status through."},
}

const execCommonDoc = `The task changes the host every time it runs, so make it conditional with
creates (skip when a path exists), removes (run only when a path exists) or
unless (skip when a check command succeeds); these are evaluated while planning,
in the same round trip as every other task's state. The plan shows "> run" for a
command that will run and nothing for one that is skipped; a command reports
"changed" only when it ran.

A non-zero exit status fails the task and shows the last lines of its
standard error. Its stdout, stderr and exit_code can be referenced by later
tasks. The meta-arguments failed_when, changed_when and until judge the
result instead (self.stdout, self.stderr, self.exit_code; see
docs/language.md).`

var commandSpec = &contract.Spec{
	Name:    "command",
	Summary: "Run a program with exact arguments, without a shell.",
	Doc: `Runs a program with an argument vector: every element of run is passed to the
program as one argument, byte for byte; nothing is expanded, split or
interpreted, so values from variables cannot inject commands.

run may also be a single string, which is split into words by simple
shell-word rules WITHOUT any expansion: blanks separate words, 'single' and
"double" quotes group (a backslash escapes the next character, and inside
double quotes only \ " $ and ` + "`" + `), and characters a shell would interpret
(| & ; < > ( ) $ ` + "`" + ` * ? and a leading ~ or #) are an error unless quoted
($ and ` + "`" + ` inside double quotes too, unless escaped with a backslash).
For pipes, redirections, globs or variables use the shell module.

` + execCommonDoc,
	Attributes: append([]contract.Attribute{
		{Name: "run", Type: cty.DynamicPseudoType, Required: true,
			Doc: "The program and its arguments: a list of strings, or one string split into words without expansion. A program name without / is looked up in PATH."},
	}, execAttrs...),
	Outputs: execOutputs,
	Example: `command "migrate" {
  run     = ["/srv/app/bin/migrate", "--env", "production"]
  chdir   = "/srv/app"
  env     = { DATABASE_URL = "postgres://app@localhost/app" }
  creates = "/srv/app/.migrated"
}`,
}

var shellSpec = &contract.Spec{
	Name:    "shell",
	Summary: "Run shell code with sh -c.",
	Doc: `Runs run as POSIX shell code with sh -c: pipes, redirections, globs and
variables work as in a shell script. The code is the user's own: drover passes
it to sh intact, but it does not quote values interpolated into it with ${...}
in the playbook: to pass a variable safely, put it in env and use "$NAME" in
the code, or use the command module.

` + execCommonDoc,
	Attributes: append([]contract.Attribute{
		{Name: "run", Type: cty.String, Required: true, Doc: "POSIX shell code, run with sh -c."},
	}, execAttrs...),
	Outputs: execOutputs,
	Example: `shell "rotate" {
  run    = "gzip -9 \"$LOG_DIR\"/*.log && touch /var/tmp/rotated"
  env    = { LOG_DIR = "/var/log/app" }
  unless = "test -e /var/tmp/rotated"
}`,
}

func (commandModule) Spec() *contract.Spec { return commandSpec }
func (shellModule) Spec() *contract.Spec   { return shellSpec }

func (commandModule) Configure(cfg contract.Config) (contract.Task, error) {
	a := readAttrs(commandSpec, cfg)
	s, list, isList := a.strOrList("run")
	t := configureExec(a)
	if a.err != nil {
		return nil, a.err
	}
	argv := list
	if !isList {
		var err error
		if argv, err = shell.Split(s); err != nil {
			msg := err.Error()
			if se, ok := err.(*shell.SplitError); ok && se.Char != 0 {
				msg += "; or use the shell module, which runs sh"
			}
			return nil, &contract.AttrError{Attr: "run", Msg: msg}
		}
	}
	if len(argv) == 0 || argv[0] == "" {
		return nil, &contract.AttrError{Attr: "run", Msg: "names no program (it is empty)"}
	}
	for _, w := range argv {
		if strings.ContainsRune(w, 0) {
			return nil, &contract.AttrError{Attr: "run", Msg: "an argument contains a NUL byte, which no program can receive"}
		}
	}
	if strings.HasPrefix(argv[0], "-") {
		return nil, &contract.AttrError{Attr: "run", Msg: fmt.Sprintf("the program name %q starts with -", argv[0])}
	}
	t.Display = shell.Join(argv...)
	t.Command = "exec " + shell.Join(argv...)
	return t, nil
}

func (shellModule) Configure(cfg contract.Config) (contract.Task, error) {
	a := readAttrs(shellSpec, cfg)
	code, _ := a.str("run")
	t := configureExec(a)
	if a.err != nil {
		return nil, a.err
	}
	if strings.TrimSpace(code) == "" {
		return nil, &contract.AttrError{Attr: "run", Msg: "is empty"}
	}
	t.Display = code
	if first, rest, multi := strings.Cut(strings.TrimSpace(code), "\n"); multi {
		t.Display = fmt.Sprintf("%s … (%d more lines)", first, strings.Count(rest, "\n")+1)
	}
	t.Command = "exec sh -c " + shell.Quote(code)
	return t, nil
}

var envNameRE = regexp.MustCompile(`^[A-Za-z_][A-Za-z0-9_]*$`)

func configureExec(a *attrs) *execTask {
	t := &execTask{}
	t.Chdir, _ = a.absPath("chdir")
	rel := func(name string) string {
		p, ok := a.str(name)
		if !ok {
			return ""
		}
		if p == "" {
			a.fail(name, "must not be empty")
			return ""
		}
		if !strings.HasPrefix(p, "/") {
			if t.Chdir == "" {
				a.fail(name, "must be an absolute path, or relative to chdir when chdir is set; got %q", p)
				return ""
			}
			p = t.Chdir + "/" + p
		}
		if why := checkAbsPath(p); why != "" {
			a.fail(name, "%s", why)
			return ""
		}
		return path.Clean(p)
	}
	t.Creates = rel("creates")
	t.Removes = rel("removes")
	t.Unless, _ = a.str("unless")
	t.Env = a.strMap("env")
	for _, k := range sortedKeys(t.Env) {
		if !envNameRE.MatchString(k) {
			a.fail("env", "%q is not a valid environment variable name (letters, digits and _, not starting with a digit)", k)
		}
	}
	t.EnvSensitive = a.sensitive("env")
	if s, ok := a.str("stdin"); ok {
		t.Stdin = &s
	}
	t.StdinSensitive = a.sensitive("stdin")
	t.Sensitive = a.anySensitive()
	return t
}

type execTask struct {
	Display        string // for the plan
	Command        string // the final command line (exec ...)
	Creates        string
	Removes        string
	Unless         string
	Chdir          string
	Env            map[string]string
	EnvSensitive   bool
	Stdin          *string
	StdinSensitive bool
	Sensitive      bool // some attribute is marked sensitive
}

// prelude changes directory and exports env, for the command and unless.
func (t *execTask) prelude() string {
	var b strings.Builder
	if t.Chdir != "" {
		fmt.Fprintf(&b, "cd %s || exit 1\n", shell.Quote(t.Chdir))
	}
	for _, k := range sortedKeys(t.Env) {
		fmt.Fprintf(&b, "export %s=%s\n", k, shell.Quote(t.Env[k]))
	}
	return b.String()
}

func (t *execTask) Check() string {
	if t.Creates == "" && t.Removes == "" && t.Unless == "" {
		return ""
	}
	var b strings.Builder
	if t.Creates != "" {
		q := shell.Quote(t.Creates)
		fmt.Fprintf(&b, "if [ -e %s ] || [ -L %s ]; then echo 'skip creates'; exit 0; fi\n", q, q)
	}
	if t.Removes != "" {
		q := shell.Quote(t.Removes)
		fmt.Fprintf(&b, "if [ ! -e %s ] && [ ! -L %s ]; then echo 'skip removes'; exit 0; fi\n", q, q)
	}
	if t.Unless != "" {
		fmt.Fprintf(&b, "if (\n%sexec sh -c %s\n) >/dev/null 2>&1 </dev/null; then echo 'skip unless'; exit 0; fi\n", t.prelude(), shell.Quote(t.Unless))
	}
	b.WriteString("echo run\n")
	return b.String()
}

func (t *execTask) Diff(out contract.CheckOutput) (*contract.Plan, error) {
	if t.Check() != "" {
		if out.ExitCode != 0 {
			return nil, checkErr(out)
		}
		switch strings.TrimSpace(string(out.Stdout)) {
		case "skip creates", "skip removes", "skip unless":
			return &contract.Plan{}, nil
		case "run":
		default:
			return nil, fmt.Errorf("unexpected state output %q", out.Stdout)
		}
	}
	ch := contract.Change{Action: contract.Run, Subject: t.Display, Sensitive: t.Sensitive}
	if t.Chdir != "" {
		ch.Attrs = append(ch.Attrs, contract.AttrChange{Name: "chdir", New: t.Chdir})
	}
	for _, k := range sortedKeys(t.Env) {
		v := t.Env[k]
		if t.EnvSensitive {
			v = "(sensitive)"
		}
		ch.Attrs = append(ch.Attrs, contract.AttrChange{Name: "env." + k, New: v})
	}
	if t.Stdin != nil {
		v := fmt.Sprintf("(%d bytes)", len(*t.Stdin))
		if t.StdinSensitive {
			v = "(sensitive)"
		}
		ch.Attrs = append(ch.Attrs, contract.AttrChange{Name: "stdin", New: v})
	}
	script := t.prelude() + t.Command + "\n"
	if t.Stdin == nil {
		// A Script (its stdin is /dev/null), so that ApplyAll can run it in
		// the same round trip as the changes before it. Nothing shows a
		// step's Script; ApplyAll sends it on stdin, never in arguments.
		return &contract.Plan{Changes: []contract.Change{ch}, Steps: []contract.Step{{Script: script}}}, nil
	}
	stdin := t.Stdin
	run := func(ctx context.Context, conn transport.Conn) (transport.Result, error) {
		cmd := transport.Cmd{Command: script}
		if stdin != nil {
			cmd.Stdin = strings.NewReader(*stdin)
		}
		return conn.Run(ctx, cmd)
	}
	// Func, not Script: the command needs stdin of its own.
	return &contract.Plan{Changes: []contract.Change{ch}, Steps: []contract.Step{{Func: run}}}, nil
}

func (t *execTask) Provides() []contract.Resource {
	if t.Creates != "" {
		return []contract.Resource{{Kind: "path", Name: t.Creates}}
	}
	return nil
}

func (t *execTask) Uses() []contract.Resource {
	if t.Chdir != "" {
		return []contract.Resource{{Kind: "path", Name: t.Chdir}}
	}
	return nil
}
