package report

import (
	"fmt"
	"io"
	"slices"
	"strings"
	"sync"
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
	// Live draws the live view below the finished hosts' output (live.go):
	// a line per host at work, redrawn in place with ANSI cursor movement.
	// Only for a terminal; the caller decides (it is off for TERM=dumb).
	Live bool
	// Size returns the terminal's columns and rows, for the live view; nil
	// or a failure (zero) means 80×24.
	Size func() (cols, rows int)
	// Verbose (-v) shows the output of tasks that succeeded too.
	Verbose bool
}

// Terminal renders events for people. A host's events are held and written
// as one block when it finishes, so the output of hosts running in parallel
// never interleaves. Without the live view (output is not a terminal: a CI
// log) a host's events are written as each of its tasks ends instead, whole
// lines at a time, and a task running for more than a second is announced
// by a line of its own. Warnings without a host go to the error writer at
// once.
type Terminal struct {
	mu     sync.Mutex
	out    io.Writer
	errOut io.Writer
	opt    TerminalOptions
	style  *Style
	blocks map[string][]Event
	order  []string // hosts with buffered events, first seen first
	// headers counts the header lines written per host, so that a host
	// whose tasks said how it went gets no extra line when it is done.
	headers map[string]int
	live    *liveView // nil without opt.Live
	running announcer // the running lines, without the live view
	closed  bool
}

// NewTerminal returns a Terminal writing blocks and the recap to out and
// run-wide warnings to errOut.
func NewTerminal(out, errOut io.Writer, opt TerminalOptions) *Terminal {
	t := &Terminal{
		out:     out,
		errOut:  errOut,
		opt:     opt,
		style:   NewStyle(opt.Color),
		blocks:  map[string][]Event{},
		headers: map[string]int{},
	}
	if opt.Live {
		t.live = newLiveView(t)
	}
	return t
}

// Emit implements Sink.
func (t *Terminal) Emit(e Event) {
	t.mu.Lock()
	defer t.mu.Unlock()
	if t.closed {
		return
	}
	switch {
	case e.Kind == KindRunStart:
		if t.live != nil {
			t.live.begin(cleaned(t.opt.Masker, e))
		}
	case e.Kind == KindRecap:
		t.flushAll()
		t.stopProgress()
		if e.Recap != nil {
			t.write(t.out, t.renderRecap(cleaned(t.opt.Masker, e.Recap)))
		}
	case e.Kind == KindPhase:
		// Only the live view shows phases: held in the host's block they
		// would change nothing but the order blocks are written in.
		if t.live != nil {
			t.live.update(cleaned(t.opt.Masker, e))
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
		t.progress(e)
		if e.Kind == KindHostDone || t.live == nil && e.Kind == KindTask {
			t.flush(e.Host)
		}
	}
}

// progress follows the tasks in flight: for the live view, or to announce
// those that run long.
func (t *Terminal) progress(e Event) {
	if t.live != nil {
		t.live.update(cleaned(t.opt.Masker, e))
		return
	}
	t.running.follow(t, e)
}

// stopProgress ends the live view (erasing it) and the running-line timers:
// nothing of them may follow the recap.
func (t *Terminal) stopProgress() {
	if t.live != nil {
		t.live.end()
	}
	t.running.stop()
}

// Close writes the blocks of hosts that never reported done and ends the
// live view, leaving the screen clean (it is called after errors and
// Ctrl-C too).
func (t *Terminal) Close() error {
	t.mu.Lock()
	defer t.mu.Unlock()
	if t.closed {
		return nil
	}
	t.flushAll()
	t.stopProgress()
	t.closed = true
	return nil
}

// ErrWriter returns a writer for messages on the error stream during a run
// (a warning, what Ctrl-C does): the live view is taken down while they are
// written, so that they never mix with it.
func (t *Terminal) ErrWriter() io.Writer { return aside{t, t.errOut} }

// OutWriter is ErrWriter for the output stream: what a command prints
// beside its events (a table).
func (t *Terminal) OutWriter() io.Writer { return aside{t, t.out} }

type aside struct {
	t *Terminal
	w io.Writer
}

func (a aside) Write(b []byte) (int, error) {
	a.t.mu.Lock()
	defer a.t.mu.Unlock()
	a.t.write(a.w, string(b))
	return len(b), nil
}

// Redraw redraws the live view now: the terminal was resized (SIGWINCH).
func (t *Terminal) Redraw() {
	t.mu.Lock()
	defer t.mu.Unlock()
	if t.live != nil && !t.closed {
		t.live.draw(true)
	}
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
	p.headers = t.headers[host]
	for _, e := range events {
		before := p.headers
		t.render(p, e)
		if e.Kind == KindTask && t.running.ended(e) && p.headers == before {
			// Its running line needs an end, even when ok.
			c := cleaned(t.opt.Masker, e)
			p.Header(c.Host, c.Status, c.Task, TaskTime(c.Duration, batchOf(c)))
		}
	}
	t.headers[host] = p.headers
	t.write(t.out, p.String())
}

// render cleans the event (secrets masked, control characters escaped), so
// that every renderer draws safe values and may add colour of its own. It
// runs when the host's block is written, not when the event arrives: a
// secret met in between is masked too.
func (t *Terminal) render(p *Printer, e Event) { render(p, cleaned(t.opt.Masker, e)) }

func (t *Terminal) printer() *Printer {
	return &Printer{Style: t.style, HostWidth: t.opt.HostWidth, Verbose: t.opt.Verbose}
}

// write writes s whole; the live view, if any, is taken down first and
// drawn again after (at most ~10 times a second).
func (t *Terminal) write(w io.Writer, s string) {
	if s == "" {
		return
	}
	if t.live != nil {
		if w == t.out {
			s = t.live.erase() + s // one write: no flicker
		} else {
			_, _ = io.WriteString(t.out, t.live.erase())
		}
	}
	_, _ = io.WriteString(w, s)
	if t.live != nil {
		t.live.draw(false)
	}
}

// Renderer draws one event into a host block (or, for events without a host,
// a block of its own).
type Renderer func(p *Printer, e Event)

var renderers = map[Kind]Renderer{}

// registerRenderer sets how Terminal draws events of kind k. Call it from an
// init function of the file declaring k.
func registerRenderer(k Kind, r Renderer) { renderers[k] = r }

// Kinds are every kind of event drover emits: those with a renderer
// (commands register theirs too) and the two Terminal draws itself. For the
// test that docs/cli.md lists every one.
func Kinds() []Kind {
	out := []Kind{KindRunStart, KindRecap}
	for k := range renderers {
		out = append(out, k)
	}
	slices.Sort(out)
	return out
}

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
