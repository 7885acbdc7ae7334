package modules

import (
	"fmt"
	"strings"
)

// splitWords splits a command string into words the way a POSIX shell splits
// a simple command, but with no expansion at all: blanks separate words;
// single quotes keep everything literally; inside double quotes a backslash
// escapes only \ " $ and ` (an unescaped $ or ` is an error); outside quotes a backslash escapes the next
// character; a backslash-newline is removed. Characters a shell would
// interpret or expand (| & ; < > ( ) $ ` * ? and a leading ~ or #) are errors
// unless quoted, because the command module would pass them on literally
// where the user most likely expected the shell's meaning (use the shell
// module for that).
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
				return nil, fmt.Errorf("unterminated single quote at byte %d", i+1)
			}
			cur.WriteString(s[i+1 : i+1+j])
			inWord = true
			i += j + 1
		case c == '"':
			inWord = true
			i++
			for ; i < len(s) && s[i] != '"'; i++ {
				if s[i] == '$' || s[i] == '`' {
					return nil, fmt.Errorf("%q at byte %d inside double quotes would be expanded by a shell, but the command module runs no shell: escape it (\\%s), single-quote it, or use the shell module", string(s[i]), i+1, string(s[i]))
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
				return nil, fmt.Errorf("unterminated double quote")
			}
		case c == '\\':
			if i+1 >= len(s) {
				return nil, fmt.Errorf("a backslash ends the command")
			}
			i++
			if s[i] == '\n' {
				continue
			}
			cur.WriteByte(s[i])
			inWord = true
		case strings.IndexByte("|&;<>()$`*?", c) >= 0, (c == '~' || c == '#') && !inWord:
			return nil, fmt.Errorf("%q at byte %d would mean something to a shell, but the command module runs no shell: quote it to pass it literally, or use the shell module", string(c), i+1)
		default:
			cur.WriteByte(c)
			inWord = true
		}
	}
	end()
	return words, nil
}
