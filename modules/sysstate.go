package modules

import (
	"bytes"
	"fmt"
	"strconv"
	"strings"

	"github.com/drover-cm/drover/engine/shell"
)

// The system modules' (user, group, cron, sysctl, download, archive, git,
// wait_for) Check output format, the sh fragments that print it, and the
// checks their steps share.

// kv is the parsed output of a Check fragment written in the system modules'
// format: "key=value" lines, and blobs written as a line "blob KEY SIZE"
// followed by exactly SIZE bytes and a newline. Sizes, not markers, delimit
// blobs, so no content can forge a key.
type kv struct {
	vals  map[string]string
	blobs map[string][]byte
}

func parseKV(out []byte) (kv, error) {
	r := kv{vals: map[string]string{}, blobs: map[string][]byte{}}
	for len(out) > 0 {
		nl := bytes.IndexByte(out, '\n')
		if nl < 0 {
			nl = len(out)
		}
		line := string(out[:nl])
		out = out[min(nl+1, len(out)):]
		if rest, ok := strings.CutPrefix(line, "blob "); ok {
			f := strings.Fields(rest)
			if len(f) != 2 {
				return r, fmt.Errorf("malformed state line %q", line)
			}
			n, err := strconv.Atoi(f[1])
			if err != nil || n < 0 || n > len(out) {
				return r, fmt.Errorf("malformed or cut state blob %q", line)
			}
			r.blobs[f[0]] = bytes.Clone(out[:n])
			out = out[n:]
			if len(out) > 0 && out[0] == '\n' {
				out = out[1:]
			}
			continue
		}
		if k, v, ok := strings.Cut(line, "="); ok {
			r.vals[k] = v
		}
	}
	return r, nil
}

func (k kv) has(key string) bool { _, ok := k.vals[key]; return ok }

// shFileBlob is a sh fragment printing the file at path (a shell word or
// "$var") as blob key, when it is a readable regular file.
func shFileBlob(key, pathWord string) string {
	return fmt.Sprintf("if [ -f %[2]s ] && [ -r %[2]s ]; then printf 'blob %[1]s %%s\\n' \"$(($(wc -c < %[2]s)))\"; cat %[2]s; echo; fi\n", key, pathWord)
}

// shVarBlob is a sh fragment printing the content of variable name as blob key.
func shVarBlob(key, name string) string {
	return fmt.Sprintf("printf 'blob %[1]s %%s\\n' \"$(($(printf %%s \"$%[2]s\" | wc -c)))\"; printf '%%s\\n' \"$%[2]s\"\n", key, name)
}

// shTools is a sh fragment printing "tool.NAME=1" for each tool found. It
// forks nothing: command -v is a builtin and its output is not captured.
func shTools(names ...string) string {
	var b strings.Builder
	for _, n := range names {
		fmt.Fprintf(&b, "if command -v %[1]s >/dev/null 2>&1; then echo 'tool.%[2]s=1'; fi\n", shell.Quote(n), n)
	}
	return b.String()
}

// shRequireDir is a sh line that fails with a clear message unless dir
// exists. Steps check their directory when they run rather than at plan
// time: an earlier task of the play may create it.
func shRequireDir(dir string) string {
	return fmt.Sprintf("[ -d %[1]s ] || { printf '%%s does not exist on the host: create it first (a directory task)\\n' %[1]s >&2; exit 1; }\n", shell.Quote(dir))
}

// checkFailed wraps a failed Check into an error.
func checkFailed(what string, out CheckOutput) error {
	msg := strings.TrimSpace(string(out.Stderr))
	if msg == "" {
		msg = fmt.Sprintf("exit status %d", out.ExitCode)
	}
	return fmt.Errorf("reading the state of %s: %s", what, msg)
}
