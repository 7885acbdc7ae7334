package transport

import (
	"context"
	"errors"
	"io"
	"strings"

	"github.com/drover-cm/drover/engine/shell"
)

// How a command reaches the host's shell. A command line handed to sshd or
// sudo is the argument of a process on the host, which every local user can
// read (/proc/PID/cmdline, ps) and which sudo logs; drover's scripts hold
// secrets (exported env values, file contents). So no Conn puts
// Cmd.Command in any process's arguments: the argument is one of two fixed
// bootstraps, and the command travels on stdin, in front of the command's
// own input. Either way the command runs in `sh` (from PATH), whatever the
// login shell.
//
// A command without stdin of its own is read by `sh -s` as one brace group
// with stdin from /dev/null: the shell parses the whole group (reading a
// pipe in blocks, so a 4 MiB batch script is cheap) before running any of
// it, so nothing in it can read the rest of the script, and its commands
// read end of file as with `sh -c`.
//
// A command with stdin comes first as one line, read by the `read` builtin
// (which reads a pipe a byte at a time and never past the newline, so what
// follows is left for the command), then evaluated. Such commands are small
// (a Func step, an upload's script); reading costs about 0.5 ms per KiB.
const (
	bootNoStdin = "exec sh -s"
	// n holds a newline for the one-line form (stdinLine).
	bootStdin = `exec sh -c 'n="
"; IFS= read -r s || { echo "drover: the command did not arrive on stdin" >&2; exit 125; }; eval "s=$s"; eval "unset n s; $s"'`
)

// errNUL is returned for a command no shell can hold.
var errNUL = errors.New("the command contains a NUL byte, which no shell can run")

// viaStdin returns the Cmd that runs cmd with the command on stdin: its
// Command is a fixed bootstrap, safe in any process's arguments.
func viaStdin(cmd Cmd) (Cmd, error) {
	if strings.IndexByte(cmd.Command, 0) >= 0 {
		return Cmd{}, errNUL
	}
	out := Cmd{Stdout: cmd.Stdout, Stderr: cmd.Stderr}
	if cmd.Stdin == nil {
		out.Command = bootNoStdin
		out.Stdin = strings.NewReader("{\n" + cmd.Command + "\n} </dev/null\n")
		return out, nil
	}
	out.Command = bootStdin
	out.Stdin = io.MultiReader(strings.NewReader(stdinLine(cmd.Command)+"\n"), cmd.Stdin)
	return out, nil
}

// stdinLine is command as one line of shell words that evaluate to it:
// quoted, with each newline (only ever inside single quotes) written as
// '"$n"', where the bootstrap has set n to a newline.
func stdinLine(command string) string {
	return strings.ReplaceAll(shell.Quote(command), "\n", `'"$n"'`)
}

// argvRunner is implemented by the transports' own Conns: runArgv runs
// cmd.Command as the shell's argument, as it is. Only for fixed command lines
// that hold nothing secret (the bootstraps, the sudo line around one).
type argvRunner interface {
	runArgv(ctx context.Context, cmd Cmd) (Result, error)
}

// SyncFuncs defines two shell functions for writing a file durably with a
// temporary file and mv, as Put does: `drover_sync FILE` before the mv
// fsyncs the content, `drover_syncdir PATH` after it fsyncs the directory
// holding PATH, so that after a crash PATH names the old file or the
// complete new one, never an empty one. POSIX sh has no fsync; `sync FILE`
// fsyncs FILE with coreutils 8.24 and later and busybox; where sync takes
// no operand, the fallback syncs every file system (slower, as safe).
const SyncFuncs = `drover_sync() { sync -- "$@" 2>/dev/null || sync; }
drover_syncdir() { case $1 in */*) set -- "${1%/*}";; *) set -- .;; esac; drover_sync "${1:-/}" || :; }
`
