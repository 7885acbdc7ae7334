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
// when the script runs (the account may have been created just before), the
// new file is built in a temporary file in ~/.ssh and renamed over the old.
func (t *userTask) keysScript() string {
	var b strings.Builder
	fmt.Fprintf(&b, "n=%s\n", shell.Quote(t.name))
	b.WriteString(`h=$(getent passwd "$n" | cut -d: -f6)
g=$(id -g "$n")
[ -n "$h" ] && [ -d "$h" ] || { echo "user $n has no home directory ($h): set create_home = true or create it first" >&2; exit 1; }
d="$h/.ssh"
if [ -L "$d" ]; then echo "refusing to write keys: $d is a symbolic link" >&2; exit 1; fi
[ -d "$d" ] || mkdir "$d"
chown -h "$n:$g" "$d"
chmod 700 "$d"
t=$(mktemp "$d/.authorized_keys.XXXXXX")
trap 'rm -f "$t"' EXIT
`)
	if t.exclusiveKeys {
		if len(t.keys) > 0 {
			b.WriteString("printf '%s\\n' " + shell.Join(t.keys...) + " > \"$t\"\n")
		}
	} else {
		b.WriteString(`if [ -f "$d/authorized_keys" ]; then cat "$d/authorized_keys" > "$t"; fi
if [ -s "$t" ] && [ -n "$(tail -c 1 "$t")" ]; then echo >> "$t"; fi
`)
		for _, k := range t.keys {
			fmt.Fprintf(&b, "grep -qxF -e %[1]s \"$t\" || printf '%%s\\n' %[1]s >> \"$t\"\n", shell.Quote(k))
		}
	}
	b.WriteString(`chown "$n:$g" "$t"
chmod 600 "$t"
mv -f "$t" "$d/authorized_keys"
`)
	return b.String()
}
