package modules

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"strconv"
	"strings"

	"github.com/drover-cm/drover/engine/shell"
	"github.com/drover-cm/drover/engine/transport"
	"github.com/drover-cm/drover/modules/contract"
)

// maxInlineScript is the largest script passed as the command line. Linux
// limits one argv string to 128 KiB (MAX_ARG_STRLEN), and sshd hands the
// command to `sh -c` as one argument; larger scripts are fed on stdin.
const maxInlineScript = 96 << 10

// CheckAll reads the state of every task with one remote command: the Check
// fragments are joined into one POSIX sh script, each fragment run in its own
// subshell (stdin from /dev/null) with its stdout and stderr captured into
// files of a private temporary directory and its exit status kept. The
// script then prints, between lines holding a random nonce, the exit
// statuses, the byte size of every file (one `wc -c`), and the files' content
// back to back (one `cat`). Content is split by those byte counts, never by
// scanning for markers, so no content (NUL bytes, a copy of the marker text)
// can forge or shift a frame; the end marker catches truncated output.
//
// The result has one CheckOutput per task, in order; tasks whose Check is ""
// get an empty CheckOutput without running anything. The error is non-nil
// when the script could not run or its output is malformed; a failing
// fragment is not an error (its ExitCode says so; its Diff decides).
func CheckAll(ctx context.Context, conn transport.Conn, tasks []Task) ([]CheckOutput, error) {
	j, err := newCheckJob(tasks)
	if err != nil {
		return nil, err
	}
	if j.n == 0 {
		return j.outs, nil
	}
	res, err := runScript(ctx, conn, j.script)
	if err != nil {
		return nil, fmt.Errorf("reading state: %w", err)
	}
	return j.parse(res)
}

// checkJob is one batched state read: its script, and how to split what
// the script printed into the tasks' CheckOutputs. ApplyAllThenCheck runs
// the script inside its own.
type checkJob struct {
	outs   []CheckOutput
	idx    []int // indexes of tasks with a fragment
	paths  *pathBatch
	n      int // frames; 0 when there is nothing to read
	nonce  string
	script string
}

func newCheckJob(tasks []Task) (*checkJob, error) {
	j := &checkJob{outs: make([]CheckOutput, len(tasks)), paths: newPathBatch()}
	frags := make([]string, 0, len(tasks))
	for i, t := range tasks {
		if pc, ok := t.(PathChecker); ok {
			j.paths.add(i, pc.CheckPath())
			continue
		}
		if f := t.Check(); strings.TrimSpace(f) != "" {
			j.idx = append(j.idx, i)
			frags = append(frags, f)
		}
	}
	j.n = len(frags)
	if len(j.paths.tasks) > 0 {
		j.n += j.paths.frames()
	}
	if j.n == 0 {
		return j, nil
	}
	var err error
	if j.nonce, err = newNonce(); err != nil {
		return nil, err
	}
	j.script = checkScript(j.nonce, frags, j.paths)
	return j, nil
}

// parse splits the output of the job's script.
func (j *checkJob) parse(res transport.Result) ([]CheckOutput, error) {
	got, err := parseFrames(j.nonce, res.Stdout, j.n)
	if err != nil {
		return nil, fmt.Errorf("reading state: %w (exit status %d%s)", err, res.ExitCode, contract.StderrTail(res.Stderr, ": "))
	}
	for k, i := range j.idx {
		j.outs[i] = got[k]
	}
	if len(j.paths.tasks) > 0 {
		j.paths.outputs(got[len(j.idx):], j.outs)
	}
	return j.outs, nil
}

// checkScript builds the batched state-reading script. Each fragment is
// passed to eval as one quoted word, so that a fragment with a syntax error or
// an `exit` only ends its own subshell. Apart from the fragments' own
// commands, the script forks a fixed number of processes whatever the number
// of tasks. The PathCheckers' prelude (see pathBatch.script) runs last, in
// the script's own shell, and fills the frames after the fragments'.
func checkScript(nonce string, frags []string, paths *pathBatch) string {
	var b strings.Builder
	b.WriteString("umask 077\n")
	b.WriteString("d=$(mktemp -d 2>/dev/null || mktemp -d -p /dev/shm) || { echo 'drover: mktemp -d failed: cannot create a temporary directory' >&2; exit 125; }\n")
	b.WriteString("trap 'rm -rf \"$d\"' EXIT\n")
	b.WriteString("trap 'exit 129' HUP INT TERM\n")
	b.WriteString("x=\n")
	for i, f := range frags {
		fmt.Fprintf(&b, "( eval %s\n) </dev/null >\"$d/%d.o\" 2>\"$d/%d.e\"; x=\"$x $?\"\n", shell.Quote(f), i, i)
	}
	n := len(frags)
	if paths != nil && len(paths.tasks) > 0 {
		fmt.Fprintf(&b, "_dy=''\n{\n%s} </dev/null >\"$d/%d.o\" 2>\"$d/%d.e\"; x=\"$x $?$_dy\"\n", paths.script(n), n, n)
		n += paths.frames()
	}
	var files strings.Builder
	for i := range n {
		fmt.Fprintf(&files, " %d.o %d.e", i, i)
	}
	b.WriteString("cd \"$d\" || exit 125\n")
	fmt.Fprintf(&b, "printf '%%s status%%s\\n' %s \"$x\"\n", nonce)
	fmt.Fprintf(&b, "wc -c%s\n", files.String())
	fmt.Fprintf(&b, "printf '%%s data\\n' %s\n", nonce)
	fmt.Fprintf(&b, "cat%s\n", files.String())
	fmt.Fprintf(&b, "printf '%%s end\\n' %s\n", nonce)
	return b.String()
}

// parseFrames splits the output of checkScript into n CheckOutputs.
func parseFrames(nonce string, data []byte, n int) ([]CheckOutput, error) {
	outs, err := parseFramesUpTo(nonce, data, n)
	if err == nil && len(outs) != n {
		return nil, fmt.Errorf("got %d exit statuses for %d checks", len(outs), n)
	}
	return outs, err
}

// parseFramesUpTo is parseFrames for scripts that stop early (ApplyAll):
// between 1 and max frames.
func parseFramesUpTo(nonce string, data []byte, max int) ([]CheckOutput, error) {
	line := func() (string, bool) {
		nl := bytes.IndexByte(data, '\n')
		if nl < 0 {
			return "", false
		}
		l := string(data[:nl])
		data = data[nl+1:]
		return l, true
	}
	// Skip anything a login script printed before ours.
	status := nonce + " status"
	for {
		l, ok := line()
		if !ok {
			return nil, fmt.Errorf("no state in the output of the check script")
		}
		if strings.HasPrefix(l, status) {
			status = l
			break
		}
	}
	codes := strings.Fields(strings.TrimPrefix(status, nonce+" status"))
	if len(codes) == 0 || len(codes) > max {
		return nil, fmt.Errorf("got %d exit statuses for %d commands", len(codes), max)
	}
	n := len(codes)
	outs := make([]CheckOutput, n)
	for i, c := range codes {
		code, err := strconv.Atoi(c)
		if err != nil {
			return nil, fmt.Errorf("malformed exit status %q for check %d", c, i+1)
		}
		outs[i].ExitCode = code
	}
	// wc -c prints "SIZE NAME" per file, then a total.
	sizes := make([]int, 2*n)
	for i := range sizes {
		l, ok := line()
		f := strings.Fields(l)
		want := fmt.Sprintf("%d.%c", i/2, "oe"[i%2])
		if !ok || len(f) != 2 || f[1] != want {
			return nil, fmt.Errorf("malformed size line for %s: %q", want, l)
		}
		sz, err := strconv.Atoi(f[0])
		if err != nil || sz < 0 {
			return nil, fmt.Errorf("malformed size line for %s: %q", want, l)
		}
		sizes[i] = sz
	}
	for {
		l, ok := line()
		if !ok {
			return nil, fmt.Errorf("output cut short before the checks' content")
		}
		if l == nonce+" data" {
			break
		}
		if f := strings.Fields(l); len(f) != 2 || f[1] != "total" {
			return nil, fmt.Errorf("unexpected line after the sizes: %q", l)
		}
	}
	for i := range outs {
		no, ne := sizes[2*i], sizes[2*i+1]
		if len(data) < no+ne {
			return nil, fmt.Errorf("output cut short in the state of check %d of %d", i+1, n)
		}
		outs[i].Stdout = bytes.Clone(data[:no])
		outs[i].Stderr = bytes.Clone(data[no : no+ne])
		data = data[no+ne:]
	}
	if l, ok := line(); !ok || l != nonce+" end" {
		return nil, fmt.Errorf("output cut short: no end marker after %d checks", n)
	}
	return outs, nil
}

func newNonce() (string, error) {
	var b [12]byte
	if _, err := rand.Read(b[:]); err != nil {
		return "", fmt.Errorf("generating nonce: %w", err)
	}
	return "drover-" + hex.EncodeToString(b[:]), nil
}

// runScript runs a POSIX sh script on the host: as the command line when it
// is small, otherwise fed to `sh -s` on stdin (one argv string is limited to
// 128 KiB on Linux).
func runScript(ctx context.Context, conn transport.Conn, script string) (transport.Result, error) {
	if len(script) <= maxInlineScript {
		return conn.Run(ctx, transport.Cmd{Command: script})
	}
	return conn.Run(ctx, transport.Cmd{Command: "sh -s", Stdin: strings.NewReader(script)})
}

// Apply runs the Steps of plan in order: for each step its uploads (by
// conn.Put), then its Script under `set -e` (or its Func). It stops at the
// first failure and returns that step's output with an error (a *StepError
// for a non-zero exit, whose message holds the last lines of stderr). On
// success the Result holds the stdout and stderr of every step, concatenated,
// and the exit status of the last.
func Apply(ctx context.Context, conn transport.Conn, plan *Plan) (transport.Result, error) {
	var all transport.Result
	if plan == nil {
		return all, nil
	}
	for i, st := range plan.Steps {
		for _, up := range st.Uploads {
			if err := upload(ctx, conn, up); err != nil {
				return all, &StepError{Step: i, Err: err}
			}
		}
		var res transport.Result
		var err error
		switch {
		case st.Func != nil:
			res, err = st.Func(ctx, conn)
		case strings.TrimSpace(st.Script) != "":
			res, err = runScript(ctx, conn, "set -e\n"+st.Script)
		default:
			continue
		}
		if err := contract.StepFailure(i, res, err); err != nil {
			return res, err
		}
		all.Stdout = append(all.Stdout, res.Stdout...)
		all.Stderr = append(all.Stderr, res.Stderr...)
		all.ExitCode = res.ExitCode
	}
	return all, nil
}

func upload(ctx context.Context, conn transport.Conn, up Upload) error {
	if up.Open == nil {
		return fmt.Errorf("upload to %s: no content (module bug: Upload.Open is nil)", up.Path)
	}
	r, err := up.Open()
	if err != nil {
		return fmt.Errorf("upload to %s: %w", up.Path, err)
	}
	defer r.Close()
	mode := up.Mode
	if mode == 0 {
		mode = 0o600
	}
	if err := conn.Put(ctx, up.Path, r, transport.PutOptions{Mode: mode}); err != nil {
		return fmt.Errorf("writing %s on the host: %w; check that its directory exists and is writable", up.Path, err)
	}
	return nil
}
