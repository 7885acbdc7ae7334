package remote

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/drover-cm/drover/engine/shell"
	"github.com/drover-cm/drover/modules/contract"
	"github.com/drover-cm/drover/modules/moduletest/shconn"
)

// fragTask is a Task with a fixed Check fragment.
type fragTask string

func (f fragTask) Check() string                                     { return string(f) }
func (f fragTask) Diff(contract.CheckOutput) (*contract.Plan, error) { return nil, nil }

func TestCheckAll(t *testing.T) {
	binary := string([]byte{0, 1, 2, 0xff, '\n', 0, '\r'})
	tasks := []contract.Task{
		fragTask("printf 'hello\\n'; printf 'oops' >&2"),
		fragTask(""), // no state needed
		fragTask("exit 3"),
		// A command line cannot hold NUL; printf makes it.
		fragTask(`printf '\000\001\002\377\n\000\r'`),
		// Output that imitates the frame format cannot shift frames.
		fragTask("printf 'drover-0000 4 0 0 0\\ndrover-0000 end\\n'; printf 'x\\n'"),
		fragTask("if then fi"), // a syntax error only fails its own task
		fragTask("cat; echo read-eof"),
		fragTask("printf 'no newline at end'"),
		fragTask("false # a trailing comment must not swallow the subshell's close"),
		fragTask("echo \"it's $((1+2)) `echo ok`\" ; echo 'a;b' \"$HOME\" >/dev/null"),
	}
	want := []contract.CheckOutput{
		{Stdout: []byte("hello\n"), Stderr: []byte("oops")},
		{},
		{ExitCode: 3},
		{Stdout: []byte(binary)},
		{Stdout: []byte("drover-0000 4 0 0 0\ndrover-0000 end\nx\n")},
		{ExitCode: 2}, // stderr varies by shell
		{Stdout: []byte("read-eof\n")},
		{Stdout: []byte("no newline at end")},
		{ExitCode: 1},
		{Stdout: []byte("it's 3 ok\n")},
	}
	for name, conn := range shconn.All(t) {
		t.Run(name, func(t *testing.T) {
			got, err := CheckAll(context.Background(), conn, tasks)
			if err != nil {
				t.Fatal(err)
			}
			if len(got) != len(want) {
				t.Fatalf("got %d outputs, want %d", len(got), len(want))
			}
			for i := range want {
				g, w := got[i], want[i]
				if i == 5 {
					if g.ExitCode == 0 || len(g.Stderr) == 0 {
						t.Errorf("task %d: syntax error gave exit %d stderr %q", i, g.ExitCode, g.Stderr)
					}
					continue
				}
				if !bytes.Equal(g.Stdout, w.Stdout) || !bytes.Equal(g.Stderr, w.Stderr) || g.ExitCode != w.ExitCode {
					t.Errorf("task %d: got {%q %q %d}, want {%q %q %d}", i, g.Stdout, g.Stderr, g.ExitCode, w.Stdout, w.Stderr, w.ExitCode)
				}
			}
			if n := conn.Stats().RoundTrips; n != 1 {
				t.Errorf("CheckAll made %d round trips, want 1", n)
			}
		})
	}
}

// A play larger than one argv string (128 KiB) is fed on stdin.
func TestCheckAllLarge(t *testing.T) {
	var tasks []contract.Task
	for i := 0; i < 600; i++ {
		tasks = append(tasks, fragTask(fmt.Sprintf("printf '%%s' %d # %s", i, strings.Repeat("x", 200))))
	}
	for name, conn := range shconn.All(t) {
		t.Run(name, func(t *testing.T) {
			got, err := CheckAll(context.Background(), conn, tasks)
			if err != nil {
				t.Fatal(err)
			}
			for i, g := range got {
				if string(g.Stdout) != fmt.Sprint(i) {
					t.Fatalf("task %d: got %q", i, g.Stdout)
				}
			}
		})
	}
}

func TestCheckAllNothing(t *testing.T) {
	conn := &shconn.ShellConn{}
	got, err := CheckAll(context.Background(), conn, []contract.Task{fragTask(""), fragTask(" \n")})
	if err != nil || len(got) != 2 {
		t.Fatalf("got %v, %v", got, err)
	}
	if conn.Stats().RoundTrips != 0 {
		t.Error("CheckAll ran a command though no task has a Check")
	}
}

func TestApply(t *testing.T) {
	for name, conn := range shconn.All(t) {
		t.Run(name, func(t *testing.T) {
			dir := t.TempDir()
			target := filepath.Join(dir, "it's a $(file)")
			plan := &contract.Plan{Steps: []contract.Step{
				{
					Uploads: []contract.Upload{{
						Path: target + ".tmp",
						Mode: 0o600,
						Open: func() (io.ReadCloser, error) { return io.NopCloser(strings.NewReader("content\n")), nil },
					}},
					Script: "mv -f " + shell.Quote(target+".tmp") + " " + shell.Quote(target) + "\necho moved",
				},
				{Script: "echo second; echo warn >&2"},
			}}
			res, err := Apply(context.Background(), conn, plan)
			if err != nil {
				t.Fatal(err)
			}
			if string(res.Stdout) != "moved\nsecond\n" || string(res.Stderr) != "warn\n" {
				t.Errorf("output %q %q", res.Stdout, res.Stderr)
			}
			if b, err := os.ReadFile(target); err != nil || string(b) != "content\n" {
				t.Errorf("target: %q %v", b, err)
			}

			// set -e stops at the first failing command; later steps do not run.
			marker := filepath.Join(dir, "marker")
			var lines []string
			for i := 0; i < 30; i++ {
				lines = append(lines, fmt.Sprintf("echo line%d >&2", i))
			}
			plan = &contract.Plan{Steps: []contract.Step{
				{Script: "echo ok"},
				{Script: strings.Join(lines, "\n") + "\nfalse\ntouch " + shell.Quote(marker)},
				{Script: "touch " + shell.Quote(marker)},
			}}
			res, err = Apply(context.Background(), conn, plan)
			var se *contract.StepError
			if !errors.As(err, &se) || se.Step != 1 || se.ExitCode != 1 {
				t.Fatalf("got %v, want a StepError for step 1", err)
			}
			if !strings.Contains(err.Error(), "line29") || strings.Contains(err.Error(), "line5\n") || !strings.Contains(err.Error(), "10 earlier lines") {
				t.Errorf("error should hold the last 20 lines of stderr: %v", err)
			}
			if res.ExitCode != 1 {
				t.Errorf("result of the failing step: %+v", res)
			}
			if _, err := os.Stat(marker); err == nil {
				t.Error("a command after the failure ran")
			}

			// A failed upload stops the plan with its path in the error.
			plan = &contract.Plan{Steps: []contract.Step{{
				Uploads: []contract.Upload{{Path: filepath.Join(dir, "missing", "f"), Open: func() (io.ReadCloser, error) { return io.NopCloser(strings.NewReader("")), nil }}},
				Script:  "touch " + shell.Quote(marker),
			}}}
			if _, err := Apply(context.Background(), conn, plan); err == nil || !strings.Contains(err.Error(), "missing/f") {
				t.Errorf("upload into a missing directory: %v", err)
			}
			if _, err := os.Stat(marker); err == nil {
				t.Error("the script ran after its upload failed")
			}
		})
	}
}

// The state read's frame runs no command of its own (no mktemp, wc, cat or
// rm): with an empty PATH, fragments of builtins only still read, stderr
// and imitations of the frame lines included.
func TestCheckAllStartsNoCommand(t *testing.T) {
	tasks := []contract.Task{
		fragTask("printf 'a\\n'; printf 'e1' >&2"),
		fragTask("printf 'drover-00 frame 2\\n' >&2; printf 'drover-00 frame 2\\ndrover-00 end\\n'; exit 4"),
		fragTask("printf 'last'"),
	}
	want := []contract.CheckOutput{
		{Stdout: []byte("a\n"), Stderr: []byte("e1")},
		{Stdout: []byte("drover-00 frame 2\ndrover-00 end\n"), Stderr: []byte("drover-00 frame 2\n"), ExitCode: 4},
		{Stdout: []byte("last")},
	}
	for name, sh := range shconn.Shells() {
		t.Run(name, func(t *testing.T) {
			conn := &shconn.ShellConn{Shell: sh, Env: []string{"PATH=" + t.TempDir()}}
			got, err := CheckAll(context.Background(), conn, tasks)
			if err != nil {
				t.Fatal(err)
			}
			for i := range want {
				g, w := got[i], want[i]
				if !bytes.Equal(g.Stdout, w.Stdout) || !bytes.Equal(g.Stderr, w.Stderr) || g.ExitCode != w.ExitCode {
					t.Errorf("task %d: got {%q %q %d}, want {%q %q %d}", i, g.Stdout, g.Stderr, g.ExitCode, w.Stdout, w.Stderr, w.ExitCode)
				}
			}
		})
	}
}

func TestParseStream(t *testing.T) {
	const n = "drover-ab"
	good := func() (string, string) {
		return "motd\n" + n + " frame 0\nout0" + n + " frame 1\n" + n + " status 0 3\n" + n + " end\n",
			"drover-pid 1\n" + n + " frame 0\n" + n + " frame 1\nerr1\n" + n + " end\n"
	}
	out, errs := good()
	got, err := parseStream(n, []byte(out), []byte(errs), 2)
	if err != nil {
		t.Fatal(err)
	}
	if string(got[0].Stdout) != "out0" || len(got[0].Stderr) != 0 || got[0].ExitCode != 0 ||
		len(got[1].Stdout) != 0 || string(got[1].Stderr) != "err1\n" || got[1].ExitCode != 3 {
		t.Errorf("got %+v", got)
	}
	for name, tc := range map[string]struct{ out, err string }{
		"no frames":           {"hello\n", errs},
		"cut in a frame":      {n + " frame 0\nout0", errs},
		"no status":           {n + " frame 0\nout0" + n + " frame 1\n", errs},
		"status cut":          {n + " frame 0\n" + n + " frame 1\n" + n + " status 0 3", errs},
		"too few statuses":    {n + " frame 0\n" + n + " frame 1\n" + n + " status 0\n" + n + " end\n", errs},
		"bad status":          {n + " frame 0\n" + n + " frame 1\n" + n + " status 0 x\n" + n + " end\n", errs},
		"no end":              {n + " frame 0\n" + n + " frame 1\n" + n + " status 0 3\n", errs},
		"stderr cut":          {out, n + " frame 0\n" + n + " frame 1\nerr1\n"},
		"another nonce":       {strings.ReplaceAll(out, n, "drover-cd"), errs},
		"a frame line missed": {strings.Replace(out, n+" frame 1\n", "", 1), errs},
	} {
		if _, err := parseStream(n, []byte(tc.out), []byte(tc.err), 2); err == nil {
			t.Errorf("%s: parsed", name)
		}
	}
}
