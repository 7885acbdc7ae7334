// Package remote runs module tasks on a host over its transport.Conn: it
// reads the state of many tasks in one batched script (CheckAll) and applies
// plans, as few scripts as it can (Apply, ApplyAll, ApplyAllThenCheck). It
// knows the module contract (modules/contract), never a module
// implementation.
//
// ApplyAll's batched scripts have the same frame: a preamble that makes a
// private temporary directory for the commands' output files (removed on
// exit, and on a hangup), and a trailer that prints, between lines holding a
// random nonce, the commands' exit statuses, the byte size of every output
// file (one `wc -c`) and the files' content back to back (one `cat`).
// parseFramesUpTo splits that by the byte counts, never by scanning for
// markers, so no output (NUL bytes, a copy of the marker text) can forge or
// shift a frame; the end marker catches truncated output. The state read
// (CheckAll) needs no file: its fragments' output is streamed between
// lines holding its nonce (checkScript), which travels only in the script
// on stdin, so no other user of the host can read it; a no-change run then
// starts no command of drover's own, only the fragments' subshells.
package remote

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"io"
	"strings"

	"github.com/drover-cm/drover/engine/transport"
	"github.com/drover-cm/drover/modules/contract"
)

// MaxInlineScript is the largest script passed as the command line. Linux
// limits one argv string to 128 KiB (MAX_ARG_STRLEN), and sshd hands the
// command to `sh -c` as one argument; larger scripts are fed on stdin.
const MaxInlineScript = 96 << 10

// runScript runs a POSIX sh script on the host: as the command line when it
// is small, otherwise fed to `sh -s` on stdin.
func runScript(ctx context.Context, conn transport.Conn, script string) (transport.Result, error) {
	if len(script) <= MaxInlineScript {
		return conn.Run(ctx, transport.Cmd{Command: script})
	}
	return conn.Run(ctx, transport.Cmd{Command: "sh -s", Stdin: strings.NewReader(script)})
}

func newNonce() (string, error) {
	var b [12]byte
	if _, err := rand.Read(b[:]); err != nil {
		return "", fmt.Errorf("generating nonce: %w", err)
	}
	return "drover-" + hex.EncodeToString(b[:]), nil
}

// writePreamble starts a framed script: the temporary directory $d is made
// under umask 077. With restoreUmask the host's umask is restored after (the
// steps of ApplyAll create files as any command would); otherwise 077 stays
// (CheckAll only reads).
func writePreamble(b *strings.Builder, restoreUmask bool) {
	if restoreUmask {
		b.WriteString("m=$(umask); umask 077\n")
	} else {
		b.WriteString("umask 077\n")
	}
	b.WriteString("d=$(mktemp -d 2>/dev/null || mktemp -d -p /dev/shm) || { echo 'drover: mktemp -d failed: cannot create a temporary directory' >&2; exit 125; }\n")
	b.WriteString("trap 'rm -rf \"$d\"' EXIT\n")
	b.WriteString("trap 'exit 129' HUP INT TERM\n")
	if restoreUmask {
		b.WriteString("umask \"$m\"\n")
	}
}

// writeTrailer ends a framed script. The statuses are in $x; files are the
// output files' names in $d, as shell words each after a space.
func writeTrailer(b *strings.Builder, nonce, files string) {
	b.WriteString("cd \"$d\" || exit 125\n")
	fmt.Fprintf(b, "printf '%%s status%%s\\n' %s \"$x\"\n", nonce)
	fmt.Fprintf(b, "wc -c%s\n", files)
	fmt.Fprintf(b, "printf '%%s data\\n' %s\n", nonce)
	fmt.Fprintf(b, "cat%s\n", files)
	fmt.Fprintf(b, "printf '%%s end\\n' %s\n", nonce)
}

// openUpload opens an upload's content.
func openUpload(up contract.Upload) (io.ReadCloser, error) {
	if up.Open == nil {
		return nil, fmt.Errorf("upload to %s: no content (module bug: Upload.Open is nil)", up.Path)
	}
	r, err := up.Open()
	if err != nil {
		return nil, fmt.Errorf("upload to %s: %w", up.Path, err)
	}
	return r, nil
}

// put writes an upload's content with conn.Put (atomically).
func put(ctx context.Context, conn transport.Conn, up contract.Upload, r io.Reader) error {
	mode := up.Mode
	if mode == 0 {
		mode = 0o600
	}
	if err := conn.Put(ctx, up.Path, r, transport.PutOptions{Mode: mode}); err != nil {
		return fmt.Errorf("writing %s on the host: %w; check that its directory exists and is writable", up.Path, err)
	}
	return nil
}
