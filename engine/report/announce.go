package report

import (
	"fmt"
	"strings"
	"time"
)

// Without the live view (a CI log) a task still running after
// announceAfter gets a line saying so: the log shows what a long step waits
// for. The tasks of one batch, which start and end together, share one
// line; each gets a line of its own when it ends, even when ok.

// announceAfter is how long a task runs before its running line.
var announceAfter = time.Second // a variable for tests

// announcer holds the running lines to come and those written. The
// Terminal's lock guards it.
type announcer struct {
	pending map[string]*runningLine // by task key, until the task ends
	open    map[string]*runningLine // by host: a batch still taking its tasks
	// announced are the tasks whose running line was written.
	announced map[string]bool
}

// runningLine is the line of one task, or of the tasks of a batch.
type runningLine struct {
	host  string
	tasks []string // cleaned addresses, in start order
	keys  []string
	batch int
	timer *time.Timer
	ended bool // a task of it ended: so did the batch
}

func taskKey(e Event) string { return e.Host + "\x00" + e.Task }

func batchOf(e Event) int {
	if tr, ok := e.Detail.(*TaskResult); ok && tr != nil {
		return tr.Batch
	}
	return 0
}

// follow notes a task starting or ending (e is not cleaned yet).
func (a *announcer) follow(t *Terminal, e Event) {
	if a.pending == nil {
		a.pending, a.open, a.announced = map[string]*runningLine{}, map[string]*runningLine{}, map[string]bool{}
	}
	key := taskKey(e)
	switch e.Kind {
	case KindTaskStart:
		c, batch := cleaned(t.opt.Masker, e), batchOf(e)
		if l := a.open[e.Host]; l != nil && batch > 1 && len(l.tasks) < l.batch {
			l.tasks, l.keys = append(l.tasks, c.Task), append(l.keys, key)
			a.pending[key] = l
			return
		}
		l := &runningLine{host: c.Host, tasks: []string{c.Task}, keys: []string{key}, batch: batch}
		l.timer = time.AfterFunc(announceAfter, func() { t.announce(l) })
		a.pending[key] = l
		delete(a.open, e.Host)
		if batch > 1 {
			a.open[e.Host] = l
		}
	case KindTask:
		if l := a.pending[key]; l != nil {
			l.ended = true
			l.timer.Stop()
			delete(a.pending, key)
			if a.open[e.Host] == l {
				delete(a.open, e.Host)
			}
		}
	}
}

// ended reports whether the task of e had its running line written (and
// forgets it).
func (a *announcer) ended(e Event) bool {
	key := taskKey(e)
	was := a.announced[key]
	delete(a.announced, key)
	return was
}

// stop cancels the lines to come: nothing may follow the recap.
func (a *announcer) stop() {
	for k, l := range a.pending {
		l.timer.Stop()
		delete(a.pending, k)
	}
}

// announce writes l's running line, unless its tasks ended meanwhile.
func (t *Terminal) announce(l *runningLine) {
	t.mu.Lock()
	defer t.mu.Unlock()
	if t.closed || l.ended || t.running.pending[l.keys[0]] != l {
		return
	}
	for _, k := range l.keys {
		t.running.announced[k] = true
	}
	t.flush(l.host) // what came before, in order
	what := l.tasks[0]
	if l.batch > 1 {
		if len(l.tasks) > 1 {
			what += " … " + l.tasks[len(l.tasks)-1]
		}
		what += fmt.Sprintf(" (batch of %d)", l.batch)
	}
	s := t.style
	t.write(t.out, strings.Join([]string{s.Host.Sprint(pad(l.host, t.opt.HostWidth)), s.Dim.Sprint("running"), what}, s.Dim.Sprint(" | "))+"\n")
}
