package report

import (
	"fmt"
	"io"
	"slices"
	"strings"
	"time"
	"unicode/utf8"
)

// The live view: below what the Terminal has written, one line per host at
// work (the task it is on, or the phase before its tasks: connecting,
// reading state; how long it has been at it, a ticker once that passes a
// second) and a line counting the hosts done. With more hosts at work than
// the screen holds, the lines are those of the hosts longest at what they
// do (the ones to look at), in the run's order, and a line counts the rest. It is drawn with
// plain ANSI sequences (cursor up, erase to the end of the screen) and
// taken down before anything else is written, so finished hosts' blocks
// scroll up above it and nothing interleaves. Every string in it was
// cleaned (masked, escaped) with its event.

// liveRate is the shortest time between two redraws.
const liveRate = 100 * time.Millisecond

// tickAfter is how long a task runs before its line gets a ticker.
const tickAfter = time.Second

var tickFrames = []string{"⠋", "⠙", "⠹", "⠸", "⠼", "⠴", "⠦", "⠧", "⠇", "⠏"}

type liveView struct {
	t     *Terminal
	now   func() time.Time
	start time.Time
	// hosts in the order the run listed them (or first seen), and what
	// each is doing.
	hosts []string
	state map[string]*liveHost
	// label says what a host without a task in flight is doing: the run's
	// command (exec, ping, apply between two tasks).
	label string
	// drawn are the widths of the lines on screen, to take them down (a
	// line the terminal wrapped after a resize takes more rows); shown is
	// their text, to skip redraws that would change nothing.
	drawn    []int
	shown    string
	lastDraw time.Time
	stop     chan struct{}
	running  bool // between begin and end
	ended    bool
}

type liveHost struct {
	since time.Time // first event
	tasks []liveTask
	done  bool
	// phase is the host's last KindPhase, since when; while applying,
	// finished counts the tasks ended of the total announced.
	phase           string
	phaseSince      time.Time
	finished, total int
	reading         int // the tasks whose state is being read
}

type liveTask struct {
	addr  string
	batch int
	since time.Time
}

func newLiveView(t *Terminal) *liveView {
	return &liveView{t: t, now: time.Now, state: map[string]*liveHost{}}
}

// begin starts the view at the run's start; the ticker redraws it.
func (v *liveView) begin(e Event) {
	if v.running || v.ended {
		return
	}
	v.running = true
	v.start = v.now()
	v.label = e.Task
	for _, h := range e.Hosts {
		v.host(h)
	}
	v.stop = make(chan struct{})
	go v.tick(v.stop)
	v.draw(true)
}

func (v *liveView) tick(stop chan struct{}) {
	tk := time.NewTicker(liveRate)
	defer tk.Stop()
	for {
		select {
		case <-stop:
			return
		case <-tk.C:
			v.t.mu.Lock()
			v.draw(false)
			v.t.mu.Unlock()
		}
	}
}

func (v *liveView) host(name string) *liveHost {
	h := v.state[name]
	if h == nil {
		h = &liveHost{}
		v.state[name] = h
		v.hosts = append(v.hosts, name)
	}
	return h
}

// update follows one (cleaned) event of a host.
func (v *liveView) update(e Event) {
	h := v.host(e.Host)
	if h.since.IsZero() {
		h.since = v.now()
	}
	switch e.Kind {
	case KindPhase:
		if hp, ok := e.Detail.(*HostPhase); ok && hp != nil {
			h.phase, h.phaseSince, h.reading = hp.Phase, v.now(), hp.Tasks
			if hp.Phase == PhaseApplying {
				h.finished, h.total = 0, hp.Tasks
			}
		}
	case KindConnect:
		if h.phase == PhaseConnecting {
			// Connected (ad-hoc commands): the command's work from now.
			h.phase, h.phaseSince = "", v.now()
		}
	case KindTaskStart:
		lt := liveTask{addr: e.Task, since: v.now()}
		if tr, ok := e.Detail.(*TaskResult); ok {
			lt.batch = tr.Batch
		}
		h.tasks = append(h.tasks, lt)
	case KindTask:
		if h.phase == PhaseApplying {
			h.finished++
		}
		for i, lt := range h.tasks {
			if lt.addr == e.Task {
				h.tasks = append(h.tasks[:i], h.tasks[i+1:]...)
				break
			}
		}
	case KindHostDone:
		h.done, h.tasks = true, nil
	}
}

// end takes the view down for good.
func (v *liveView) end() {
	if v.ended {
		return
	}
	if v.running {
		close(v.stop)
	}
	_, _ = io.WriteString(v.t.out, v.erase())
	v.running, v.ended = false, true
}

// erase is what takes the view down: the cursor is at the start of the line
// below it (after a ^C echoed there, a carriage return brings it back).
func (v *liveView) erase() string {
	if len(v.drawn) == 0 {
		return ""
	}
	cols, _ := v.size()
	rows := 0
	for _, w := range v.drawn {
		rows += max(1, (w+cols-1)/cols)
	}
	v.drawn, v.shown = nil, ""
	return fmt.Sprintf("\r\x1b[%dA\x1b[J", rows)
}

// draw redraws the view, at most every liveRate unless now; not at all
// when it would look the same.
func (v *liveView) draw(now bool) {
	if !v.running {
		return
	}
	t := v.now()
	if !now && t.Sub(v.lastDraw) < liveRate*9/10 { // the ticker may come a little early
		return
	}
	lines := v.lines(t)
	text := strings.Join(lines, "\n")
	if text == v.shown && len(v.drawn) > 0 {
		return
	}
	var b strings.Builder
	b.WriteString(v.erase())
	drawn := make([]int, 0, len(lines))
	for _, l := range lines {
		b.WriteString(l)
		b.WriteByte('\n')
		drawn = append(drawn, visibleWidth(l))
	}
	_, _ = io.WriteString(v.t.out, b.String())
	v.drawn, v.shown, v.lastDraw = drawn, text, t
}

func (v *liveView) size() (cols, rows int) {
	cols, rows = 80, 24
	if v.t.opt.Size != nil {
		if c, r := v.t.opt.Size(); c > 0 && r > 0 {
			cols, rows = c, r
		}
	}
	return cols, rows
}

// lines is the view at time t: the hosts at work, as many as the screen
// holds, then the count of hosts done.
func (v *liveView) lines(t time.Time) []string {
	cols, rows := v.size()
	s := v.t.style
	var busy []string
	done := 0
	for _, name := range v.hosts {
		h := v.state[name]
		switch {
		case h.done:
			done++
		case !h.since.IsZero():
			busy = append(busy, name)
		}
	}
	room := max(1, min(rows-2, 20)) // a view taller than the screen cannot be taken down
	var out []string
	shown := busy
	if len(busy) > room {
		shown = v.oldest(busy, room-1)
	}
	for _, name := range shown {
		out = append(out, v.hostLine(cols, name, v.state[name], t))
	}
	if len(shown) < len(busy) {
		out = append(out, fit(cols, seg{s.Dim.Sprint, fmt.Sprintf("  … %d more hosts at work", len(busy)-len(shown))}))
	}
	footer := fmt.Sprintf("  %d/%d %s done · %s", done, len(v.hosts), plural(len(v.hosts), "host", "hosts"), liveDuration(t.Sub(v.start)))
	return append(out, fit(cols, seg{s.Dim.Sprint, footer}))
}

// oldest is the k of busy hosts longest at what they do now, in busy's
// order.
func (v *liveView) oldest(busy []string, k int) []string {
	byAge := slices.Clone(busy)
	slices.SortStableFunc(byAge, func(a, b string) int { return v.state[a].at().Compare(v.state[b].at()) })
	keep := map[string]bool{}
	for _, name := range byAge[:k] {
		keep[name] = true
	}
	out := make([]string, 0, k)
	for _, name := range busy {
		if keep[name] {
			out = append(out, name)
		}
	}
	return out
}

// at is when the host began what its line shows: its oldest task in
// flight, else its phase, else its first event.
func (h *liveHost) at() time.Time {
	switch {
	case len(h.tasks) > 0:
		return h.tasks[0].since
	case !h.phaseSince.IsZero():
		return h.phaseSince
	}
	return h.since
}

// progress is "[3/12] ", the tasks a host applying has ended of those it
// has, or "" before it applies.
func (h *liveHost) progress() string {
	if h.phase != PhaseApplying || h.total == 0 {
		return ""
	}
	return fmt.Sprintf("[%d/%d] ", h.finished, max(h.total, h.finished))
}

func (v *liveView) hostLine(cols int, name string, h *liveHost, t time.Time) string {
	s := v.t.style
	what, since := v.label+"…", h.at()
	switch {
	case len(h.tasks) > 0:
	case h.phase == PhaseReading && h.reading > 0:
		what = fmt.Sprintf("%s of %d %s…", h.phase, h.reading, plural(h.reading, "task", "tasks"))
	case h.phase != "":
		what = strings.TrimSpace(h.phase+" "+h.progress()) + "…"
	}
	if len(h.tasks) > 0 {
		lt := h.tasks[0]
		what = h.progress() + lt.addr
		switch {
		case lt.batch > 1:
			// The batch's last task is as likely the slow one as its first.
			if last := h.tasks[min(lt.batch, len(h.tasks))-1]; last.addr != lt.addr {
				what += " … " + last.addr
			}
			what += fmt.Sprintf(" (batch of %d)", lt.batch)
		case len(h.tasks) > 1:
			what += fmt.Sprintf(" (+%d)", len(h.tasks)-1)
		}
	}
	d := t.Sub(since)
	segs := []seg{{s.Host.Sprint, "  " + pad(name, v.t.opt.HostWidth) + "  "}, {plain, what}, {s.Dim.Sprint, "  " + liveDuration(d)}}
	if d >= tickAfter {
		frame := int(d/liveRate) % len(tickFrames)
		segs = append(segs, seg{s.Hint.Sprint, " " + tickFrames[frame]})
	}
	return fit(cols, segs...)
}

// liveDuration is an elapsed time that changes at most ten times a second:
// 0.4s, 12.3s, 2m05s.
func liveDuration(d time.Duration) string {
	if d < time.Minute {
		return fmt.Sprintf("%.1fs", d.Seconds())
	}
	return fmt.Sprintf("%dm%02ds", int(d.Minutes()), int(d.Seconds())%60)
}

// seg is a piece of a live line: its text (already cleaned) and its colour.
type seg struct {
	color func(...any) string
	text  string
}

func plain(a ...any) string { return fmt.Sprint(a...) }

// fit joins segs, cut to fewer than cols characters: a line as wide as the
// terminal would wrap and throw off the count of rows to take down.
func fit(cols int, segs ...seg) string {
	room := cols - 1
	var b strings.Builder
	for _, sg := range segs {
		text := sg.text
		n := utf8.RuneCountInString(text)
		if n > room {
			r := []rune(text)
			if room > 0 {
				text = string(r[:room-1]) + "…"
			} else {
				text = ""
			}
			n = room
		}
		if text != "" {
			b.WriteString(sg.color(text))
		}
		room -= n
		if room <= 0 {
			break
		}
	}
	return b.String()
}

// visibleWidth is the number of characters of s on screen, colour
// sequences left out.
func visibleWidth(s string) int {
	n, esc := 0, false
	for _, r := range s {
		switch {
		case esc:
			if r >= '@' && r <= '~' && r != '[' {
				esc = false
			}
		case r == '\x1b':
			esc = true
		default:
			n++
		}
	}
	return n
}
