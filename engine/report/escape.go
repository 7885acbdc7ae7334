package report

import (
	"fmt"
	"strings"
	"unicode"
	"unicode/utf8"
)

// Escape makes text that came from a host safe to show on a terminal. A
// compromised host may print escape sequences that set the clipboard
// (OSC 52), move the cursor, clear or retitle the screen, or bidi and
// invisible characters that make text read differently from what it is.
// Escape replaces each such character with a visible escape, so the
// operator sees that something was there:
//
//   - C0 controls other than newline and tab, DEL, and bytes that are not
//     UTF-8: \x1b, \x07, \x7f, \xff;
//   - C1 controls, format characters (bidi overrides and isolates,
//     zero-width characters, BOM, tag characters) and the line and
//     paragraph separators: \u009b, \u202e, \u200b, \U000e0041.
//
// A CR that ends a line (CRLF) is dropped; a lone CR, which would let later
// text overwrite the line, is escaped. Backslashes are left alone, so a
// host printing the text `\x1b` looks the same as one printing ESC: the
// point is that nothing reaches the terminal as a control.
//
// JSON output keeps the raw bytes (JSON escapes them itself); every other
// writer of remote text goes through Escape (via Clean or the sinks).
func Escape(s string) string { return escape(s, false) }

// EscapeLine is Escape for text that must stay on one line (a table cell):
// newlines and tabs are escaped too.
func EscapeLine(s string) string { return escape(s, true) }

func escape(s string, oneLine bool) string {
	if !needsEscape(s, oneLine) {
		return s
	}
	var b strings.Builder
	b.Grow(len(s) + 16)
	for i := 0; i < len(s); {
		r, size := utf8.DecodeRuneInString(s[i:])
		switch {
		case r == utf8.RuneError && size == 1:
			fmt.Fprintf(&b, `\x%02x`, s[i])
		case r == '\r' && !oneLine && strings.HasPrefix(s[i+1:], "\n"):
			// CRLF: the LF alone ends the line.
		case (r == '\n' || r == '\t') && !oneLine:
			b.WriteRune(r)
		case r == '\n':
			b.WriteString(`\n`)
		case r == '\t':
			b.WriteString(`\t`)
		case r < 0x20 || r == 0x7f:
			fmt.Fprintf(&b, `\x%02x`, r)
		case unsafeRune(r) && r <= 0xffff:
			fmt.Fprintf(&b, `\u%04x`, r)
		case unsafeRune(r):
			fmt.Fprintf(&b, `\U%08x`, r)
		default:
			b.WriteString(s[i : i+size])
		}
		i += size
	}
	return b.String()
}

// needsEscape is the fast path: most output is plain printable text.
func needsEscape(s string, oneLine bool) bool {
	for _, r := range s {
		switch {
		case r == '\n' || r == '\t':
			if oneLine {
				return true
			}
		case r < 0x20 || r == 0x7f || r == utf8.RuneError || unsafeRune(r):
			// RuneError may be an invalid byte: escape looks closer.
			return true
		}
	}
	return false
}

// unsafeRune: a non-ASCII rune a terminal may act on or that does not show.
func unsafeRune(r rune) bool {
	return (r >= 0x80 && r <= 0x9f) || r == '\u2028' || r == '\u2029' || unicode.Is(unicode.Cf, r)
}
