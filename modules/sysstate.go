package modules

import (
	"fmt"
	"strings"

	"github.com/drover-cm/drover/engine/remote"
	"github.com/drover-cm/drover/engine/shell"
	"github.com/drover-cm/drover/modules/contract"
)

// The system modules' (user, group, cron, sysctl, download, archive, git,
// wait_for) Check output format, the sh fragments that print it, and the
// checks their steps share.

// kv is the parsed output of a Check fragment written in the KV dialect
// (contract.ParseKV documents its grammar).
type kv struct {
	vals  map[string]string
	blobs map[string][]byte
}

func parseKV(out []byte) (kv, error) {
	r, err := contract.ParseKV(out)
	return kv{vals: r.Vals, blobs: r.Blobs}, err
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
func shTools(names ...string) string { return remote.FactScript(contract.Tools(names...)) }

// shRequireDir is a sh line that fails with a clear message unless dir
// exists. Steps check their directory when they run rather than at plan
// time: an earlier task of the play may create it.
func shRequireDir(dir string) string {
	return fmt.Sprintf("[ -d %[1]s ] || { printf '%%s does not exist on the host: create it first (a directory task)\\n' %[1]s >&2; exit 1; }\n", shell.Quote(dir))
}

// checkFailed wraps a failed Check into an error.
func checkFailed(what string, out contract.CheckOutput) error {
	msg := strings.TrimSpace(string(out.Stderr))
	if msg == "" {
		msg = fmt.Sprintf("exit status %d", out.ExitCode)
	}
	return fmt.Errorf("reading the state of %s: %s", what, msg)
}
