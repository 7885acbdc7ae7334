package remote

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"path"
	"slices"
	"strings"

	"github.com/drover-cm/drover/engine/shell"
	"github.com/drover-cm/drover/engine/transport"
	"github.com/drover-cm/drover/modules/contract"
)

// Limits of what ApplyAll sends inside its script. Larger or binary (NUL)
// uploads go by conn.Put, between two scripts.
const (
	maxInlineUpload = 512 << 10
	maxBatchScript  = 4 << 20
)

// BatchResult is what one plan of ApplyAll did.
type BatchResult struct {
	// Ran is false for plans after a failure (nothing of them ran).
	Ran bool
	// Result holds the plan's stdout and stderr, as Apply returns them.
	Result transport.Result
	// Err is Apply's error for this plan (a *StepError for a failed step).
	Err error
}

// ApplyAll applies plans in order, as Apply would one after another, in as
// few round trips as it can: the uploads and scripts of consecutive steps go
// in one remote script, sent on stdin (so file contents never appear in a
// process's arguments), with the output and exit status of every step framed
// as CheckAll frames state. An inline upload is written as conn.Put writes
// one: to a new temporary file (mode set before any content), renamed onto
// its path. A step with a Func, or an upload too large or not text, ends the
// script; it then runs on its own and a new script starts after it.
//
// ApplyAll stops at the first failing plan: its BatchResult has Err, later
// ones have Ran false. The error is non-nil only when a script's output
// cannot be read (the connection was lost); which of its plans ran is then
// known from a line the script prints as each of its commands completes:
// the plan that was running gets the error (it may have completed), earlier
// ones succeeded (their output is lost), and later ones are reported not
// run.
func ApplyAll(ctx context.Context, conn transport.Conn, plans []*contract.Plan) ([]BatchResult, error) {
	out, _, err := ApplyAllThenCheck(ctx, conn, plans, nil)
	return out, err
}

// ApplyAllThenCheck is ApplyAll followed by CheckAll(tasks), the state read
// at the end of ApplyAll's last script when every plan succeeded: the state
// of tasks after the plans ran, at no extra round trip (one of its own only
// when the last plan ends with a Func step). checks is nil when a plan
// failed or the read failed; the caller then reads again if it must.
func ApplyAllThenCheck(ctx context.Context, conn transport.Conn, plans []*contract.Plan, tasks []contract.Task) (out []BatchResult, checks []contract.CheckOutput, err error) {
	out = make([]BatchResult, len(plans))
	b := &batch{ctx: ctx, conn: conn, out: out}
	if len(tasks) > 0 {
		j, err := newCheckJob(tasks)
		if err != nil {
			return out, nil, err // nothing ran
		}
		if j.n == 0 {
			checks = j.outs
		} else {
			b.check = j
		}
	}
	out, err = b.run(plans)
	if b.checks != nil {
		checks = b.checks
	}
	if err != nil || b.stopped {
		checks = nil
	}
	return out, checks, err
}

func (b *batch) run(plans []*contract.Plan) ([]BatchResult, error) {
	ctx, conn, out := b.ctx, b.conn, b.out
	for i, p := range plans {
		out[i].Ran = true
		if p == nil {
			continue
		}
		for j, st := range p.Steps {
			for _, up := range st.Uploads {
				if !b.addUpload(i, j, up) {
					return out, b.err
				}
			}
			switch {
			case st.Func != nil:
				if !b.flush() {
					return out, b.err
				}
				res, err := st.Func(ctx, conn)
				if !b.record(i, j, res, err) {
					return out, b.err
				}
			case strings.TrimSpace(st.Script) != "":
				libs, rest := splitLibraries(st.Script)
				b.addLibraries(libs)
				b.add(entry{plan: i, step: j}, "( eval "+shell.Quote("set -e\n"+rest)+"\n)")
			}
		}
	}
	if b.check != nil && !b.stopped {
		b.add(entry{plan: -1, check: true}, "( eval "+shell.Quote(b.check.script)+"\n)")
	}
	b.flush()
	return out, b.err
}

// entry is one framed command of a batch script: a step's script or an
// inline upload.
type entry struct {
	plan, step int
	upload     string // the upload's path, "" for a script
	check      bool   // the state read of ApplyAllThenCheck (plan -1)
}

type batch struct {
	ctx     context.Context
	conn    transport.Conn
	out     []BatchResult
	entries []entry
	cmds    []string
	libs    []string // shell libraries the pending steps begin with, each once
	size    int
	stopped bool                   // a plan failed: nothing more runs
	err     error                  // the connection failed
	check   *checkJob              // the state read to end the last script with
	checks  []contract.CheckOutput // what it read
}

// addLibraries defines libs at the top of the pending script (those it
// does not define yet).
func (b *batch) addLibraries(libs []string) {
	for _, l := range libs {
		if !slices.Contains(b.libs, l) {
			b.libs = append(b.libs, l)
			b.size += len(l)
		}
	}
}

func (b *batch) add(e entry, cmd string) {
	b.entries = append(b.entries, e)
	b.cmds = append(b.cmds, cmd)
	b.size += len(cmd)
}

// addUpload adds up to the script, or flushes and puts it. It returns false
// once the batch has stopped.
func (b *batch) addUpload(i, j int, up contract.Upload) bool {
	if b.stopped {
		return false
	}
	r, err := openUpload(up)
	if err != nil {
		b.fail(i, &contract.StepError{Step: j, Err: err})
		return false
	}
	if up.Size >= 0 && up.Size <= maxInlineUpload {
		data, err := io.ReadAll(io.LimitReader(r, maxInlineUpload+1))
		r.Close()
		if err != nil {
			b.fail(i, &contract.StepError{Step: j, Err: fmt.Errorf("upload to %s: %w", up.Path, err)})
			return false
		}
		if len(data) <= maxInlineUpload && bytes.IndexByte(data, 0) < 0 {
			if b.size+len(data) > maxBatchScript && !b.flush() {
				return false
			}
			mode := up.Mode.Perm()
			if mode == 0 {
				mode = 0o600
			}
			tmp, err := inlineTemp(up.Path)
			if err != nil {
				b.fail(i, &contract.StepError{Step: j, Err: fmt.Errorf("upload to %s: %w", up.Path, err)})
				return false
			}
			b.add(entry{plan: i, step: j, upload: up.Path},
				fmt.Sprintf("drover_put %s %s %04o %s", shell.Quote(up.Path), shell.Quote(tmp), mode, shell.Quote(string(data))))
			return true
		}
		// Binary or larger than it said: put it as it is.
		r = io.NopCloser(bytes.NewReader(data))
	}
	defer r.Close()
	if !b.flush() {
		return false
	}
	if err := put(b.ctx, b.conn, up, r); err != nil {
		b.fail(i, &contract.StepError{Step: j, Err: err})
		return false
	}
	return true
}

// inlineTemp is the temporary name an inline upload is written to, as
// conn.Put's: up.Path itself when it is a temporary name already.
func inlineTemp(p string) (string, error) {
	if transport.IsTempName(p) {
		return p, nil
	}
	return transport.TempName(p)
}

func (b *batch) fail(i int, err error) {
	if i < 0 {
		return // the state read after every plan ran: no plan failed
	}
	b.out[i].Err = err
	b.stopped = true
	for k := i + 1; k < len(b.out); k++ {
		b.out[k].Ran = false
	}
}

// record adds a step's result to its plan's; false when the step failed.
func (b *batch) record(i, j int, res transport.Result, err error) bool {
	b.out[i].Result.Stdout = append(b.out[i].Result.Stdout, res.Stdout...)
	b.out[i].Result.Stderr = append(b.out[i].Result.Stderr, res.Stderr...)
	if err := contract.StepFailure(j, res, err); err != nil {
		b.fail(i, err)
		return false
	}
	b.out[i].Result.ExitCode = res.ExitCode
	return true
}

// batchPut writes an inline upload as conn.Put does: a new file (noclobber,
// under a random name) readable by no one else, its mode set before any
// content is written, synced, then renamed onto the path (transport.SyncFuncs;
// the directories are synced once at the end of the script). The directory's
// owner may swap the name for a link at any time, so after the one open that
// creates it the file is reached only through that descriptor: chmod goes
// through /proc/self/fd (the open file, never a name) and printf writes to
// the descriptor (issue 14). printf is a shell builtin: the content is never
// in a process's arguments ($1 is $2 when the upload is to a temporary
// name already: no second one). It runs in the script's own shell, with the
// umask and noclobber set around the open and restored ($m is the host's
// umask, from the preamble), not in a subshell: one process fewer per file.
const batchPut = `drover_put() {
	umask 077; set -C
	if { chmod "$3" /proc/self/fd/3 && printf '%s' "$4" >&3; } 3>"$2"; then
		set +C; umask "$m"
		if drover_sync "$2" && { [ "$1" = "$2" ] || mv -f "$2" "$1"; }; then return 0; fi
	else
		set +C; umask "$m"
	fi
	rm -f "$2"
	return 1
}
`

// syncLater is the file, in the script's private directory, where a
// library may list directories to fsync (one path a line) instead of
// syncing each itself: the script syncs them, with the inline uploads'
// directories, once at its end. Only a path nobody else can redirect may be
// listed (safeFS lists directories whose every component only root or the
// connecting user can change).
const syncLater = `_fsyncs=$d/syncs
`

// syncDirs is the end of a script that hoisted libraries: one fsync for
// every directory among dirs (the uploads') and those listed in $_fsyncs,
// each once.
func syncDirs(s *strings.Builder, dirs []string) {
	s.WriteString("set -- " + shell.Join(dirs...) + "\n_dl=" + shell.Quote("\n"+strings.Join(dirs, "\n")+"\n") + "\n")
	s.WriteString(`if [ -s "$_fsyncs" ]; then
	while IFS= read -r _dp; do
		case $_dl in *"
$_dp
"*) ;; *) _dl="$_dl$_dp
" && set -- "$@" "$_dp" ;; esac
	done <"$_fsyncs"
fi
if [ $# -gt 0 ]; then drover_sync "$@" || :; fi
`)
}

// flush runs the pending entries as one script. It returns false once the
// batch has stopped.
func (b *batch) flush() bool {
	if b.stopped || b.err != nil {
		return false
	}
	if len(b.entries) == 0 {
		return true
	}
	entries, cmds, libs := b.entries, b.cmds, b.libs
	b.entries, b.cmds, b.libs, b.size = nil, nil, nil, 0
	nonce, err := newNonce()
	if err != nil {
		b.err = err
		b.fail(entries[0].plan, err)
		return false
	}
	var s strings.Builder
	writePreamble(&s, true)
	s.WriteString(journalVars(b.ctx, true))
	s.WriteString(transport.SyncFuncs)
	s.WriteString(batchPut)
	for _, l := range libs {
		s.WriteString(l)
	}
	if len(libs) > 0 {
		s.WriteString(syncLater)
	}
	s.WriteString("x= f= stop=\n")
	for k, c := range cmds {
		// Each entry runs only while all before it succeeded.
		// A line per entry done, so that a lost connection is blamed on
		// the entry that was running (Run returns what arrived).
		fmt.Fprintf(&s, "if [ -z \"$stop\" ]; then %s </dev/null >\"$d/%d.o\" 2>\"$d/%d.e\"; c=$?; x=\"$x $c\"; f=\"$f %d.o %d.e\"; if [ $c -eq 0 ]; then echo %s done; else stop=1; fi; fi\n", c, k, k, k, k, nonce)
	}
	// After every rename in them: one fsync per directory, not per file.
	if dirs := uploadDirs(entries); len(libs) > 0 {
		syncDirs(&s, dirs)
	} else if len(dirs) > 0 {
		s.WriteString("drover_sync " + shell.Join(dirs...) + " || :\n")
	}
	writeTrailer(&s, nonce, " $f")
	res, err := b.conn.Run(b.ctx, transport.Cmd{Command: "sh -s", Stdin: strings.NewReader(s.String())})
	// When the output is lost or cut, the entries before the one that was
	// running completed (their own output is lost).
	running := min(bytes.Count(res.Stdout, []byte(nonce+" done\n")), len(entries)-1)
	if err != nil {
		b.err = fmt.Errorf("applying changes: %w", err)
		b.fail(entries[running].plan, b.err)
		return false
	}
	outs, err := parseFramesUpTo(nonce, res.Stdout, len(entries))
	if err != nil {
		b.err = fmt.Errorf("applying changes: %w (exit status %d%s)", err, res.ExitCode, contract.StderrTail(res.Stderr, ": "))
		b.fail(entries[running].plan, b.err)
		return false
	}
	for k, o := range outs {
		e := entries[k]
		if e.check {
			if o.ExitCode == 0 {
				b.checks, _ = b.check.parse(transport.Result{Stdout: o.Stdout, Stderr: o.Stderr})
			}
			continue
		}
		if e.upload != "" {
			if o.ExitCode != 0 {
				b.fail(e.plan, &contract.StepError{Step: e.step, Err: fmt.Errorf("writing %s on the host failed%s; check that its directory exists and is writable", e.upload, contract.StderrTail(o.Stderr, ": "))})
				return false
			}
			continue
		}
		if !b.record(e.plan, e.step, transport.Result{Stdout: o.Stdout, Stderr: o.Stderr, ExitCode: o.ExitCode}, nil) {
			return false
		}
	}
	return true
}

// uploadDirs returns the directories of the inline uploads among entries,
// sorted, each once.
func uploadDirs(entries []entry) []string {
	var dirs []string
	for _, e := range entries {
		if e.upload != "" {
			dirs = append(dirs, path.Dir(e.upload))
		}
	}
	slices.Sort(dirs)
	return slices.Compact(dirs)
}
