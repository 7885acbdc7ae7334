package modules

import (
	"fmt"
	"slices"
	"strings"

	"github.com/drover-cm/drover/engine/shell"
)

// The user module's authorized_keys: how the file would change, and the
// script that writes it.

func countKeys(n int) string {
	if n == 1 {
		return "1 key"
	}
	return fmt.Sprintf("%d keys", n)
}

// keyLines returns the non-blank, non-comment lines of an authorized_keys file.
func keyLines(content string) []string {
	var out []string
	for _, l := range strings.Split(content, "\n") {
		l = strings.TrimSpace(l)
		if l != "" && !strings.HasPrefix(l, "#") {
			out = append(out, l)
		}
	}
	return out
}

// keysChange says how the authorized_keys file would change: "" for upd when
// it is as desired.
func (t *userTask) keysChange(cur string, exists bool) (old, upd string) {
	have := keyLines(cur)
	old = countKeys(len(have))
	if !exists {
		old = "(none)"
	}
	var add []string
	for _, k := range t.keys {
		if !slices.Contains(have, k) {
			add = append(add, k)
		}
	}
	if !t.exclusiveKeys {
		if len(add) == 0 && exists {
			return old, ""
		}
		return old, fmt.Sprintf("%s (+%d)", countKeys(len(have)+len(add)), len(add))
	}
	if exists && cur == t.exclusiveContent() {
		return old, ""
	}
	del := 0
	for _, k := range have {
		if !slices.Contains(t.keys, k) {
			del++
		}
	}
	return old, fmt.Sprintf("%s (+%d -%d, exclusive)", countKeys(len(t.keys)), len(add), del)
}

func (t *userTask) exclusiveContent() string {
	if len(t.keys) == 0 {
		return ""
	}
	return strings.Join(t.keys, "\n") + "\n"
}

// keysScript writes ~/.ssh/authorized_keys: the home directory is looked up
// when the script runs (the account may have been created just before). The
// user owns the home directory and ~/.ssh and can swap their entries for
// links at any moment, so the script works through safeFS: it enters them
// with drover_cd, reads the old file with drover_read (a link or a second
// name is refused, never followed), builds the new file in a private
// directory and renames it into place.
func (t *userTask) keysScript() string {
	var b strings.Builder
	b.WriteString(safeFS)
	fmt.Fprintf(&b, "n=%s\n", shell.Quote(t.name))
	b.WriteString(`h=$(getent passwd "$n" | cut -d: -f6)
u=$(id -u "$n")
g=$(id -g "$n")
[ -n "$h" ] && [ -d "$h" ] || { echo "user $n has no home directory ($h): set create_home = true or create it first" >&2; exit 1; }
drover_cd "$h"
if [ -L .ssh ]; then echo "refusing to write keys: $h/.ssh is a symbolic link" >&2; exit 1; fi
[ -d .ssh ] || ( umask 077 && mkdir .ssh )
drover_enter .ssh
chown "$u:$g" .
chmod 700 .
if [ -L authorized_keys ] || { [ -e authorized_keys ] && [ ! -f authorized_keys ]; }; then
  echo "refusing to write keys: $h/.ssh/authorized_keys is a symbolic link or not a regular file; remove it and run drover again" >&2; exit 1
fi
drover_stage authorized_keys
trap 'drover_unstage' EXIT
: > f
`)
	if t.exclusiveKeys {
		if len(t.keys) > 0 {
			b.WriteString("printf '%s\\n' " + shell.Join(t.keys...) + " > f\n")
		}
	} else {
		b.WriteString(`if [ -e ../authorized_keys ]; then drover_read ../authorized_keys > f; fi
if [ -s f ] && [ -n "$(tail -c 1 f)" ]; then echo >> f; fi
`)
		for _, k := range t.keys {
			fmt.Fprintf(&b, "grep -qxF -e %[1]s f || printf '%%s\\n' %[1]s >> f\n", shell.Quote(k))
		}
	}
	b.WriteString(`chown "$u:$g" f
chmod 600 f
mv -fT f ../authorized_keys
`)
	return b.String()
}
