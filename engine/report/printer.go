package report

import (
	"strings"
	"time"

	"github.com/fatih/color"
)

// Printer builds a block of text for one host.
type Printer struct {
	Style     *Style
	HostWidth int
	// Verbose (-v) asks renderers for what they leave out by default: the
	// output of tasks that succeeded.
	Verbose bool
	b       strings.Builder
	// headers counts the host's header lines so far, in this block and
	// those already written for it.
	headers int
}

// String returns the text so far.
func (p *Printer) String() string { return p.b.String() }

// Line writes one line as is.
func (p *Printer) Line(s string) {
	p.b.WriteString(s)
	p.b.WriteByte('\n')
}

// Header writes "host | status | field | field", skipping empty fields.
func (p *Printer) Header(host string, st Status, fields ...string) {
	p.headers++
	s := p.Style
	parts := []string{s.Host.Sprint(pad(host, p.HostWidth))}
	if st != "" {
		parts = append(parts, s.Status(st))
	}
	for _, f := range fields {
		if f != "" {
			parts = append(parts, f)
		}
	}
	p.Line(strings.Join(parts, s.Dim.Sprint(" | ")))
}

// Body writes text indented under the header; nothing when it is blank.
func (p *Printer) Body(text string) {
	text = strings.TrimRight(text, "\n")
	if strings.TrimSpace(text) == "" {
		return
	}
	for _, l := range strings.Split(text, "\n") {
		p.Line("    " + strings.TrimRight(l, "\r"))
	}
}

// Streams writes a command's stdout and stderr under labels of their own,
// each only when not blank.
func (p *Printer) Streams(stdout, stderr string) {
	for _, s := range []struct{ label, text string }{{"stdout:", stdout}, {"stderr:", stderr}} {
		if strings.TrimSpace(s.text) != "" {
			p.Label(s.label)
			p.Body(s.text)
		}
	}
}

// Label writes a dim sub-heading under the header.
func (p *Printer) Label(s string) { p.Line("  " + p.Style.Dim.Sprint(s)) }

// Hint writes what the user can do about a failure.
func (p *Printer) Hint(h string) {
	if h != "" {
		p.Line("  " + p.Style.Hint.Sprint("hint:") + " " + h)
	}
}

// Duration formats "label 12ms", or "" when d is zero.
func (p *Printer) Duration(label string, d time.Duration) string {
	if d <= 0 {
		return ""
	}
	return label + " " + FormatDuration(d)
}

func pad(s string, w int) string {
	if len(s) >= w {
		return s
	}
	return s + strings.Repeat(" ", w-len(s))
}

// Style holds the colours; with colour off every one prints plain text.
type Style struct {
	Host, Dim, Bold, Hint, Warn                    *color.Color
	OK, Changed, Failed, Unreachable, Skipped, Cut *color.Color
}

// NewStyle returns the colours, on or off regardless of the environment.
func NewStyle(enabled bool) *Style {
	c := func(attrs ...color.Attribute) *color.Color {
		col := color.New(attrs...)
		if enabled {
			col.EnableColor()
		} else {
			col.DisableColor()
		}
		return col
	}
	return &Style{
		Host:        c(color.Bold),
		Dim:         c(color.Faint),
		Bold:        c(color.Bold),
		Hint:        c(color.FgCyan),
		Warn:        c(color.FgYellow, color.Bold),
		OK:          c(color.FgGreen),
		Changed:     c(color.FgYellow),
		Failed:      c(color.FgRed),
		Unreachable: c(color.FgRed, color.Bold),
		Skipped:     c(color.FgCyan),
		Cut:         c(color.FgYellow),
	}
}

func (s *Style) statusColor(st Status) *color.Color {
	switch st {
	case StatusOK:
		return s.OK
	case StatusChanged:
		return s.Changed
	case StatusFailed:
		return s.Failed
	case StatusUnreachable:
		return s.Unreachable
	case StatusSkipped:
		return s.Skipped
	case StatusCancelled, StatusLocked, StatusIgnored, StatusRescued:
		return s.Cut
	}
	return s.Dim
}

// Status returns the status word in its colour.
func (s *Style) Status(st Status) string {
	return s.statusColor(st).Sprint(strings.ReplaceAll(string(st), "_", " "))
}
