package initgen

import (
	"fmt"
	"strings"

	"github.com/drover-cm/drover/engine/shell"
)

// splitWords splits a command line the way a POSIX shell splits a simple
// command, with no expansion: blanks separate words, single quotes keep
// everything, inside double quotes a backslash escapes \ " $ and `, outside
// a backslash escapes the next character. Characters a shell would interpret
// (| & ; < > ( ) $ ` * ?, a leading ~ or #) are errors unless quoted: the
// generated units and scripts run the program directly, not through a shell.
// (The same rules as the command module's.)
func splitWords(s string) ([]string, error) {
	var words []string
	var cur strings.Builder
	inWord := false
	end := func() {
		if inWord {
			words = append(words, cur.String())
			cur.Reset()
			inWord = false
		}
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		switch {
		case c == ' ' || c == '\t' || c == '\n':
			end()
		case c == '\'':
			j := strings.IndexByte(s[i+1:], '\'')
			if j < 0 {
				return nil, fmt.Errorf("unterminated single quote")
			}
			cur.WriteString(s[i+1 : i+1+j])
			inWord = true
			i += j + 1
		case c == '"':
			inWord = true
			i++
			for ; i < len(s) && s[i] != '"'; i++ {
				if s[i] == '$' || s[i] == '`' {
					return nil, fmt.Errorf("%q inside double quotes would be expanded by a shell, but no shell runs the command: escape it or single-quote it (only ${instance} is substituted)", string(s[i]))
				}
				if s[i] == '\\' && i+1 < len(s) && strings.IndexByte("\\\"$`", s[i+1]) >= 0 {
					i++
				}
				cur.WriteByte(s[i])
			}
			if i >= len(s) {
				return nil, fmt.Errorf("unterminated double quote")
			}
		case c == '\\':
			if i+1 >= len(s) {
				return nil, fmt.Errorf("a backslash ends the command")
			}
			i++
			cur.WriteByte(s[i])
			inWord = true
		case strings.IndexByte("|&;<>()$`*?", c) >= 0, (c == '~' || c == '#') && !inWord:
			return nil, fmt.Errorf("%q would mean something to a shell, but no shell runs the command: quote it to pass it literally, or run /bin/sh -c '...' explicitly (only ${instance} is substituted)", string(c))
		default:
			cur.WriteByte(c)
			inWord = true
		}
	}
	end()
	return words, nil
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
