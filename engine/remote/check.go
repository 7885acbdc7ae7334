package remote

import (
	"bytes"
	"context"
	"fmt"
	"strconv"
	"strings"

	"github.com/drover-cm/drover/engine/shell"
	"github.com/drover-cm/drover/engine/transport"
	"github.com/drover-cm/drover/modules/contract"
)

// CheckAll reads the state of every task with one remote command: the Check
// fragments are joined into one POSIX sh script, each fragment run in its own
// subshell (stdin from /dev/null) and its exit status kept. Each fragment's
// stdout and stderr go straight to the script's: before each fragment the
// script prints a line holding the run's random nonce and the frame's number
// on both, and after the last the exit statuses and an end line (see
// checkScript). The nonce is 96 random bits made for this run, sent only in
// the script on stdin (never in a process's arguments or a file), so no
// output can hold it by chance or design: content is split at those lines,
// NUL bytes and imitations of the format (with another nonce) included; the
// end lines catch truncated output. No temporary file, hence no mktemp,
// wc, cat or rm: a no-change run's state read forks only the fragments'
// own commands.
//
// The result has one CheckOutput per task, in order; tasks whose Check is ""
// get an empty CheckOutput without running anything. The error is non-nil
// when the script could not run or its output is malformed; a failing
// fragment is not an error (its ExitCode says so; its Diff decides).
func CheckAll(ctx context.Context, conn transport.Conn, tasks []contract.Task) ([]contract.CheckOutput, error) {
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
	outs   []contract.CheckOutput
	idx    []int // indexes of tasks with a fragment
	paths  *pathBatch
	facts  []contract.Fact // every FactChecker's facts
	factIx []int           // tasks that are FactCheckers
	groups checkGroups
	n      int // frames; 0 when there is nothing to read
	nonce  string
	script string
}

func newCheckJob(tasks []contract.Task) (*checkJob, error) {
	j := &checkJob{outs: make([]contract.CheckOutput, len(tasks)), paths: newPathBatch()}
	frags := make([]string, 0, len(tasks))
	for i, t := range tasks {
		if pc, ok := t.(contract.PathChecker); ok {
			j.paths.add(i, pc.CheckPath())
			continue
		}
		if j.groups.add(i, t) {
			continue
		}
		f := ""
		if sc, ok := t.(contract.SharedChecker); ok && j.groups.addShared(i, sc) {
			f = sc.CheckRest()
		} else if fc, ok := t.(contract.FactChecker); ok {
			j.factIx = append(j.factIx, i)
			j.facts = append(j.facts, fc.Facts()...)
			f = fc.CheckRest()
		} else {
			f = t.Check()
		}
		if strings.TrimSpace(f) != "" {
			j.idx = append(j.idx, i)
			frags = append(frags, f)
		}
	}
	// The groups' fragments and the facts' are more frames, after the
	// tasks'.
	frags = append(frags, j.groups.fragments()...)
	if len(j.facts) > 0 {
		contract.SortFacts(j.facts)
		frags = append(frags, FactScript(j.facts))
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
func (j *checkJob) parse(res transport.Result) ([]contract.CheckOutput, error) {
	got, err := parseStream(j.nonce, res.Stdout, res.Stderr, j.n)
	if err != nil {
		return nil, fmt.Errorf("reading state: %w (exit status %d%s)", err, res.ExitCode, contract.StderrTail(res.Stderr, ": "))
	}
	for k, i := range j.idx {
		j.outs[i] = got[k]
	}
	got = got[len(j.idx):]
	j.groups.outputs(got, j.outs)
	got = got[len(j.groups.groups):]
	if len(j.facts) > 0 {
		if err := j.setFacts(got[0]); err != nil {
			return nil, err
		}
		got = got[1:]
	}
	if len(j.paths.tasks) > 0 {
		j.paths.outputs(got, j.outs)
	}
	return j.outs, nil
}

// setFacts gives every FactChecker the facts the facts' frame printed.
func (j *checkJob) setFacts(frame contract.CheckOutput) error {
	facts, err := contract.ParseFacts(frame.Stdout)
	if err != nil {
		return fmt.Errorf("reading the host's facts: %w%s", err, contract.StderrTail(frame.Stderr, ": "))
	}
	for _, i := range j.factIx {
		j.outs[i].Facts = facts
	}
	return nil
}

// checkScript builds the batched state-reading script. Each fragment is
// passed to eval as one quoted word, so that a fragment with a syntax error or
// an `exit` only ends its own subshell. Apart from the fragments' own
// commands, the script forks nothing: one subshell per fragment, and the
// frame lines are printf, a builtin. The PathCheckers' prelude (see
// pathBatch.script) runs last, in the script's own shell, and fills the
// frames after the fragments'.
//
// Its output, on stdout (and the same frame lines and end line on stderr):
//
//	NONCE frame 0
//	FRAGMENT 0'S STDOUT (any bytes)NONCE frame 1
//	...
//	LAST FRAME'S STDOUTNONCE status CODE...
//	NONCE end
func checkScript(nonce string, frags []string, paths *pathBatch) string {
	var b strings.Builder
	// Nothing is written, but a fragment's command that makes a file
	// makes a private one.
	b.WriteString("umask 077\nx=\n")
	for i, f := range frags {
		b.WriteString(frameLine(nonce, i))
		fmt.Fprintf(&b, "( eval %s\n) </dev/null; x=\"$x $?\"\n", shell.Quote(f))
	}
	if paths != nil && len(paths.tasks) > 0 {
		b.WriteString(paths.script(len(frags), func(i int) string { return frameLine(nonce, i) }))
	}
	fmt.Fprintf(&b, "printf '%%s status%%s\\n' %s \"$x\"\n", nonce)
	fmt.Fprintf(&b, "printf '%%s end\\n' %s\nprintf '%%s end\\n' %s >&2\n", nonce, nonce)
	return b.String()
}

// frameLine is the script line that starts frame i on stdout and stderr.
func frameLine(nonce string, i int) string {
	return fmt.Sprintf("printf '%%s frame %[2]d\\n' %[1]s; printf '%%s frame %[2]d\\n' %[1]s >&2\n", nonce, i)
}

// parseStream splits the output of checkScript into n CheckOutputs.
// Anything before the first frame line (a login script's output, the
// transport's PID line) is skipped.
func parseStream(nonce string, stdout, stderr []byte, n int) ([]contract.CheckOutput, error) {
	outs, rest, err := splitFrames(nonce, stdout, n, " status")
	if err != nil {
		return nil, fmt.Errorf("stdout: %w", err)
	}
	nl := bytes.IndexByte(rest, '\n')
	if nl < 0 {
		return nil, fmt.Errorf("output cut short in the exit statuses")
	}
	codes := strings.Fields(string(rest[:nl]))
	if len(codes) != n {
		return nil, fmt.Errorf("got %d exit statuses for %d checks", len(codes), n)
	}
	if string(rest[nl+1:]) != nonce+" end\n" {
		return nil, fmt.Errorf("output cut short: no end line after %d checks", n)
	}
	errs, _, err := splitFrames(nonce, stderr, n, " end\n")
	if err != nil {
		return nil, fmt.Errorf("stderr: %w", err)
	}
	res := make([]contract.CheckOutput, n)
	for i, c := range codes {
		code, err := strconv.Atoi(c)
		if err != nil {
			return nil, fmt.Errorf("malformed exit status %q for check %d", c, i+1)
		}
		res[i] = contract.CheckOutput{ExitCode: code, Stdout: bytes.Clone(outs[i]), Stderr: bytes.Clone(errs[i])}
	}
	return res, nil
}

// splitFrames cuts data at the frame lines of checkScript: n frames, the
// last ending at nonce+last. It returns what follows that.
func splitFrames(nonce string, data []byte, n int, last string) ([][]byte, []byte, error) {
	start := []byte(nonce + " frame 0\n")
	k := bytes.Index(data, start)
	if k < 0 {
		return nil, nil, fmt.Errorf("no state in the output of the check script")
	}
	data = data[k+len(start):]
	frames := make([][]byte, n)
	for i := range frames {
		next := nonce + " frame " + strconv.Itoa(i+1) + "\n"
		if i == n-1 {
			next = nonce + last
		}
		k := bytes.Index(data, []byte(next))
		if k < 0 {
			return nil, nil, fmt.Errorf("output cut short in the state of check %d of %d", i+1, n)
		}
		frames[i], data = data[:k], data[k+len(next):]
	}
	return frames, data, nil
}

// parseFramesUpTo splits the output of a script framed by writePreamble and
// writeTrailer (ApplyAll's, which may stop early) into between 1 and max
// frames.
func parseFramesUpTo(nonce string, data []byte, max int) ([]contract.CheckOutput, error) {
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
	outs := make([]contract.CheckOutput, n)
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
