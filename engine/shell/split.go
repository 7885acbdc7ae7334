package shell

import (
	"fmt"
	"strings"
)

// Split splits a command line into words the way a POSIX shell splits a
// simple command, but with no expansion at all, for places where drover runs
// a program directly rather than through a shell (the command module,
// generated service units): blanks separate words; single quotes keep
// everything literally; inside double quotes a backslash escapes only \ " $
// and `; outside quotes a backslash escapes the next character; a
// backslash-newline is removed.
//
// Characters a shell would interpret or expand (| & ; < > ( ) $ ` * ? and a
// leading ~ or #) are a *SplitError unless quoted: passing them on literally
// is rarely what the writer meant. Callers add their own hint (use the shell
// module, run /bin/sh -c explicitly).
func Split(s string) ([]string, error) {
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
				return nil, &SplitError{Pos: i + 1, Msg: "unterminated single quote"}
			}
			cur.WriteString(s[i+1 : i+1+j])
			inWord = true
			i += j + 1
		case c == '"':
			inWord = true
			start := i + 1
			i++
			for ; i < len(s) && s[i] != '"'; i++ {
				if s[i] == '$' || s[i] == '`' {
					return nil, &SplitError{Pos: i + 1, Char: s[i], Msg: fmt.Sprintf("%q inside double quotes would be expanded by a shell, but no shell runs this command: escape it (\\%s) or single-quote it", string(s[i]), string(s[i]))}
				}
				if s[i] == '\\' && i+1 < len(s) {
					switch s[i+1] {
					case '\\', '"', '$', '`':
						i++
					case '\n':
						i++
						continue
					}
				}
				cur.WriteByte(s[i])
			}
			if i >= len(s) {
				return nil, &SplitError{Pos: start, Msg: "unterminated double quote"}
			}
		case c == '\\':
			if i+1 >= len(s) {
				return nil, &SplitError{Pos: i + 1, Msg: "a backslash ends the command"}
			}
			i++
			if s[i] == '\n' {
				continue
			}
			cur.WriteByte(s[i])
			inWord = true
		case strings.IndexByte("|&;<>()$`*?", c) >= 0, (c == '~' || c == '#') && !inWord:
			return nil, &SplitError{Pos: i + 1, Char: c, Msg: fmt.Sprintf("%q would mean something to a shell, but no shell runs this command: quote it to pass it literally", string(c))}
		default:
			cur.WriteByte(c)
			inWord = true
		}
	}
	end()
	return words, nil
}

// SplitError says why Split refused a command line.
type SplitError struct {
	Pos  int  // 1-based byte offset
	Char byte // the special character, or 0 for a quoting error
	Msg  string
}

func (e *SplitError) Error() string { return fmt.Sprintf("%s (at byte %d)", e.Msg, e.Pos) }
