package remote

import (
	"fmt"
	"regexp"
	"strings"

	"github.com/drover-cm/drover/engine/shell"
	"github.com/drover-cm/drover/modules/contract"
)

// FactScript is a POSIX sh fragment printing facts in the KV dialect (see
// contract.FactSet). Whatever the number of facts, it runs at most one getent per
// kind of account fact (one key list) and forks nothing else but the
// subshell of the loop that prefixes getent's lines (builtins only): command
// -v is a builtin.
// Keys reach the shell only as shell.Quote'd words. A getent that fails (no
// such key, no getent) prints nothing: the facts then do not hold, as with
// `if e=$(getent passwd NAME)` one key at a time.
func FactScript(facts []contract.Fact) string {
	keys := map[contract.FactKind][]string{}
	seen := map[contract.Fact]bool{}
	for _, f := range facts {
		if !seen[f] {
			seen[f] = true
			keys[f.Kind] = append(keys[f.Kind], f.Key)
		}
	}
	var b strings.Builder
	for _, n := range keys[contract.FactTool] {
		// Tool names are the modules' constants, never a user's value.
		if !toolName.MatchString(n) {
			panic(fmt.Sprintf("remote.FactScript: tool name %q", n))
		}
		fmt.Fprintf(&b, "if command -v %s >/dev/null 2>&1; then echo 'tool.%s=1'; fi\n", shell.Quote(n), n)
	}
	for _, kind := range []contract.FactKind{contract.FactPasswd, contract.FactGroup} {
		ks := keys[kind]
		if len(ks) == 0 {
			continue
		}
		if len(ks) == 1 {
			// No loop (and its subshell) for one key.
			fmt.Fprintf(&b, "if e=$(getent %s %s); then printf '%s=%%s\\n' \"$e\"; fi\n", kind, shell.Quote(ks[0]), kind)
			continue
		}
		words := make([]string, len(ks))
		for i, k := range ks {
			words[i] = shell.Quote(k)
		}
		// getent prints the entries it found, in no promised order, and
		// nothing for the others; an entry's name is its first field.
		fmt.Fprintf(&b, "getent %s %s 2>/dev/null | while IFS= read -r _fl; do printf '%s=%%s\\n' \"$_fl\"; done\n",
			kind, strings.Join(words, " "), kind)
	}
	return b.String()
}

var toolName = regexp.MustCompile(`^[A-Za-z0-9_.+-]+$`)
