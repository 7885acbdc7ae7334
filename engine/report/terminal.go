package report

import (
	"fmt"
	"io"
	"strings"
	"sync"
	"time"

	"github.com/fatih/color"
)

// TerminalOptions configure the Terminal sink.
type TerminalOptions struct {
	// Color turns on ANSI colour. The caller decides once (--no-color,
	// NO_COLOR, whether stdout is a terminal); this package never guesses.
	Color bool
	// HostWidth pads host names in header lines so that columns line up.
	HostWidth int
	// Masker hides secrets in everything written; nil hides nothing.
	// Control characters from hosts are escaped regardless (see Escape).
	Masker *Masker
}

// Terminal renders events for people. Output is grouped per host: a host's
// events are held until its KindHostDone and then written as one block, so
// the output of hosts running in parallel never interleaves. Warnings
// without a host go to the error writer at once.
type Terminal struct {
	mu     sync.Mutex
	out    io.Writer
	errOut io.Writer
	opt    TerminalOptions
	style  *Style
	blocks map[string][]Event
	order  []string // hosts with buffered events, first seen first
}

// NewTerminal returns a Terminal writing blocks and the recap to out and
// run-wide warnings to errOut.
func NewTerminal(out, errOut io.Writer, opt TerminalOptions) *Terminal {
	return &Terminal{
		out:    out,
		errOut: errOut,
		opt:    opt,
		style:  NewStyle(opt.Color),
		blocks: map[string][]Event{},
	}
}

// Emit implements Sink.
func (t *Terminal) Emit(e Event) {
	t.mu.Lock()
	defer t.mu.Unlock()
	switch {
	case e.Kind == KindRunStart:
	case e.Kind == KindRecap:
		t.flushAll()
		if e.Recap != nil {
			t.write(t.out, t.renderRecap(cleaned(t.opt.Masker, e.Recap)))
		}
	case e.Host == "":
		p := t.printer()
		t.render(p, e)
		t.write(t.errOut, p.String())
	default:
		if _, ok := t.blocks[e.Host]; !ok {
			t.order = append(t.order, e.Host)
		}
		t.blocks[e.Host] = append(t.blocks[e.Host], e)
		if e.Kind == KindHostDone {
			t.flush(e.Host)
		}
	}
}

// Close writes the blocks of hosts that never reported done.
func (t *Terminal) Close() error {
	t.mu.Lock()
	defer t.mu.Unlock()
	t.flushAll()
	return nil
}

func (t *Terminal) flushAll() {
	for len(t.order) > 0 {
		t.flush(t.order[0])
	}
}

func (t *Terminal) flush(host string) {
	events := t.blocks[host]
	delete(t.blocks, host)
	for i, h := range t.order {
		if h == host {
			t.order = append(t.order[:i], t.order[i+1:]...)
			break
		}
	}
	p := t.printer()
	for _, e := range events {
		t.render(p, e)
	}
	t.write(t.out, p.String())
}

// render cleans the event (secrets masked, control characters escaped), so
// that every renderer draws safe values and may add colour of its own. It
// runs when the host's block is written, not when the event arrives: a
// secret met in between is masked too.
func (t *Terminal) render(p *Printer, e Event) { render(p, cleaned(t.opt.Masker, e)) }

func (t *Terminal) printer() *Printer {
	return &Printer{Style: t.style, HostWidth: t.opt.HostWidth}
}

func (t *Terminal) write(w io.Writer, s string) {
	if s != "" {
		_, _ = io.WriteString(w, s)
	}
}

// Renderer draws one event into a host block (or, for events without a host,
// a block of its own).
type Renderer func(p *Printer, e Event)

var renderers = map[Kind]Renderer{}

// registerRenderer sets how Terminal draws events of kind k. Call it from an
// init function of the file declaring k.
func registerRenderer(k Kind, r Renderer) { renderers[k] = r }

// RegisterRenderer sets how Terminal draws events of a kind declared outside
// this package (a command's own events). Call it from an init function.
func RegisterRenderer(k Kind, r Renderer) { registerRenderer(k, r) }

func init() {
	registerRenderer(KindConnect, renderConnect)
	registerRenderer(KindCommand, renderCommand)
	registerRenderer(KindPing, renderPing)
	registerRenderer(KindWarning, renderWarning)
	registerRenderer(KindHostDone, renderHostDone)
}

func render(p *Printer, e Event) {
	if r := renderers[e.Kind]; r != nil {
		r(p, e)
		return
	}
	// An unknown kind still says something rather than vanishing.
	p.Header(e.Host, e.Status, string(e.Kind), e.Message)
}

func renderConnect(p *Printer, e Event) {
	if e.Status == StatusOK {
		return // shown with the command that follows
	}
	p.Header(e.Host, e.Status, e.ErrorKind, p.Duration("after", e.ConnectTime))
	p.Body(e.Message)
	p.Hint(e.Hint)
}

func renderCommand(p *Printer, e Event) {
	var rc string
	switch {
	case e.Signal != "":
		rc = "signal " + e.Signal
	case e.ExitCode != nil:
		rc = fmt.Sprintf("exit %d", *e.ExitCode)
	default:
		rc = e.ErrorKind
	}
	p.Header(e.Host, e.Status, rc, p.Duration("connect", e.ConnectTime), p.Duration("run", e.Duration))
	p.Body(e.Message)
	p.Body(e.Stdout)
	if strings.TrimSpace(e.Stderr) != "" {
		p.Label("stderr:")
		p.Body(e.Stderr)
	}
	p.Hint(e.Hint)
}

func renderPing(p *Printer, e Event) {
	if e.Status == StatusOK {
		p.Header(e.Host, e.Status, p.Duration("connect", e.ConnectTime), p.Duration("rtt", e.Duration))
		return
	}
	p.Header(e.Host, e.Status, e.ErrorKind, p.Duration("connect", e.ConnectTime))
	p.Body(e.Message)
	p.Hint(e.Hint)
}

func renderWarning(p *Printer, e Event) {
	if e.Host == "" {
		p.Line(p.Style.Warn.Sprint("warning:") + " " + e.Message)
		return
	}
	p.Header(e.Host, "", p.Style.Warn.Sprint("warning"), e.Message)
}

func renderHostDone(p *Printer, e Event) {
	if p.headers > 0 {
		return // the host's events already said how it went
	}
	p.Header(e.Host, e.Status, e.ErrorKind, p.Duration("after", e.Duration))
	p.Body(e.Message)
	p.Hint(e.Hint)
}

func (t *Terminal) renderRecap(r *Recap) string {
	p := t.printer()
	s := p.Style
	p.Line("")
	if r.PerTask {
		for _, h := range r.Hosts {
			c := h.Tasks
			line := fmt.Sprintf("%s  %s  ok=%d changed=%d failed=%d skipped=%d",
				s.Host.Sprint(pad(h.Host, p.HostWidth)), s.Status(h.Status), c.OK, c.Changed, c.Failed, c.Skipped)
			line += recapExtra(c)
			if h.Duration > 0 {
				line += "  " + s.Dim.Sprint(FormatDuration(h.Duration))
			}
			p.Line(line)
		}
	} else {
		for _, st := range []Status{StatusFailed, StatusUnreachable, StatusLocked, StatusCancelled, StatusNotStarted} {
			var names []string
			for _, h := range r.Hosts {
				if h.Status != st {
					continue
				}
				n := h.Host
				if h.ErrorKind != "" && st == StatusUnreachable {
					n += " (" + h.ErrorKind + ")"
				}
				names = append(names, n)
			}
			if len(names) > 0 {
				label := strings.ReplaceAll(string(st), "_", " ") + ":"
				p.Line(fmt.Sprintf("%s %s", s.statusColor(st).Sprint(pad(label, 12)), strings.Join(names, ", ")))
			}
		}
	}
	line := r.Line()
	if r.OK() {
		line = s.OK.Sprint(line)
	} else {
		line = s.Bold.Sprint(line)
	}
	p.Line(line)
	return p.String()
}

// Printer builds a block of text for one host.
type Printer struct {
	Style     *Style
	HostWidth int
	b         strings.Builder
	headers   int
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
