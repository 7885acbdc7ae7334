package initgen

import (
	"fmt"
	"strings"

	"github.com/drover-cm/drover/engine/shell"
)

// splitWords splits a command the way shell.Split does: the generated units
// and scripts run the program directly, not through a shell.
func splitWords(s string) ([]string, error) {
	w, err := shell.Split(s)
	if se, ok := err.(*shell.SplitError); ok && se.Char != 0 {
		return nil, fmt.Errorf("%w; or run /bin/sh -c '...' explicitly (only ${instance} is substituted)", err)
	}
	return w, err
}

// shWord is one POSIX sh word for w, the placeholder (NUL) becoming a
// reference to the shell variable v: '/etc/redis/'"$INSTANCE"'.conf'.
func shWord(w, v string) string {
	if !strings.ContainsRune(w, 0) {
		return shell.Quote(w)
	}
	parts := strings.Split(w, "\x00")
	var b strings.Builder
	for i, p := range parts {
		if i > 0 {
			b.WriteString(`"$` + v + `"`)
		}
		if p != "" {
			b.WriteString(shell.Quote(p))
		}
	}
	return b.String()
}

// shWords is shWord for every word, space separated.
func shWords(argv []string, v string) string {
	q := make([]string, len(argv))
	for i, w := range argv {
		q[i] = shWord(w, v)
	}
	return strings.Join(q, " ")
}

// shValue is a sh word for a value that may hold the placeholder text.
func shValue(s, v string) string { return shWord(strings.ReplaceAll(s, Placeholder, "\x00"), v) }

// unitEscape escapes text for a systemd unit setting value: % starts a
// specifier and is doubled; the placeholder becomes %i.
func unitEscape(s string) string {
	return strings.ReplaceAll(strings.ReplaceAll(s, "%", "%%"), "\x00", "%i")
}

// unitWord is one word of a systemd Exec line: $ is doubled (systemd expands
// environment variables), % is doubled, and a word with blanks, quotes or
// backslashes is double-quoted with C-style escapes.
func unitWord(w string, first bool) string {
	w = strings.ReplaceAll(w, "$", "$$")
	w = unitEscape(w)
	// The program word must not start with one of systemd's prefixes
	// (- @ + ! :), which change how it runs.
	safe := w != "" && !strings.ContainsAny(w, " \t\"'\\;") && (!first || !strings.ContainsAny(w[:1], "-@+!:"))
	if safe {
		return w
	}
	w = strings.ReplaceAll(w, `\`, `\\`)
	w = strings.ReplaceAll(w, `"`, `\"`)
	return `"` + w + `"`
}

// unitExec is the value of an Exec setting for argv.
func unitExec(argv []string) string {
	q := make([]string, len(argv))
	for i, w := range argv {
		q[i] = unitWord(w, i == 0)
	}
	// The program itself must not be quoted with a leading special prefix;
	// it was validated absolute or a plain name.
	return strings.Join(q, " ")
}

// unitQuoted double-quotes a whole setting value (Environment="K=V").
func unitQuoted(s string) string {
	s = unitEscape(strings.ReplaceAll(s, Placeholder, "\x00"))
	s = strings.ReplaceAll(s, `\`, `\\`)
	s = strings.ReplaceAll(s, `"`, `\"`)
	return `"` + s + `"`
}
