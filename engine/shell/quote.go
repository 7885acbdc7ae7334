// Package shell builds POSIX sh command lines from parts.
//
// Every value that reaches a remote shell goes through Quote. Nothing else in
// drover may concatenate a user-supplied value into a command line.
package shell

import "strings"

// Quote returns s as one POSIX sh word that the shell reads back as exactly s,
// byte for byte: single quotes around it, with each embedded single quote
// written as '\” (close, escaped quote, reopen). Newlines, $(), backticks,
// semicolons and non-UTF-8 bytes need no special treatment inside single quotes.
func Quote(s string) string {
	if s == "" {
		return "''"
	}
	if isSafe(s) {
		return s
	}
	return "'" + strings.ReplaceAll(s, "'", `'\''`) + "'"
}

// Join quotes each argument and joins them with spaces, giving a command line
// whose words are exactly args.
func Join(args ...string) string {
	q := make([]string, len(args))
	for i, a := range args {
		q[i] = Quote(a)
	}
	return strings.Join(q, " ")
}

// isSafe reports whether s can stand unquoted: only characters that no POSIX
// shell treats specially in any position. Leaving these unquoted keeps generated
// scripts readable in plan output and logs.
func isSafe(s string) bool {
	for i := 0; i < len(s); i++ {
		c := s[i]
		switch {
		case c >= 'a' && c <= 'z', c >= 'A' && c <= 'Z', c >= '0' && c <= '9':
		case c == '-' && i > 0: // a leading '-' could be taken as an option
		case c == '_', c == '.', c == '/', c == ',', c == ':', c == '@', c == '+', c == '%':
		case c == '=' && i > 0: // a leading word with '=' could be an assignment
		default:
			return false
		}
	}
	// "a=b" as the first word of a command is an assignment; quote it so that a
	// value is never reinterpreted whatever position it is placed in.
	return !strings.Contains(s, "=")
}
