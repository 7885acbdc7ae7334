package main

// Helpers shared by every command that reads an inventory or reaches hosts:
// the colour decision, signal handling, password prompts, loading and
// selecting hosts with diagnostics, building the connector, and the sinks.

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"os/signal"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/hashicorp/hcl/v2"
	"github.com/hashicorp/hcl/v2/hclparse"
	"github.com/spf13/cobra"
	"golang.org/x/term"

	"github.com/drover-cm/drover/engine/connect"
	"github.com/drover-cm/drover/engine/fanout"
	"github.com/drover-cm/drover/engine/report"
	"github.com/drover-cm/drover/engine/transport"
	"github.com/drover-cm/drover/inventory"
)

// ui is what a command decided once about its output.
type ui struct {
	stdout, stderr io.Writer
	// color is the one colour decision of the run: off with --no-color, with
	// NO_COLOR set to anything non-empty, or when stdout is not a terminal.
	color bool
	// colorErr is the same decision for stderr (diagnostics, warnings).
	colorErr bool
	masker   *report.Masker
	// live is the terminal sink drawing the live view, once sinks made it:
	// messages on stderr during the run go through it (errWriter).
	live *report.Terminal
}

// outputMasker holds every secret the command met: one process runs one
// command, and main masks the error it prints with it too.
var outputMasker = report.NewMasker()

func newUI(cmd *cobra.Command) *ui {
	out, errOut := cmd.OutOrStdout(), cmd.ErrOrStderr()
	c := useColor(global.noColor, os.Getenv("NO_COLOR"), isTerminal(out))
	return &ui{
		stdout:   out,
		stderr:   errOut,
		color:    c,
		colorErr: c && isTerminal(errOut),
		masker:   outputMasker,
	}
}

// useColor is the colour rule, in one place.
func useColor(noColorFlag bool, noColorEnv string, stdoutTTY bool) bool {
	return !noColorFlag && noColorEnv == "" && stdoutTTY
}

func isTerminal(w io.Writer) bool {
	f, ok := w.(*os.File)
	return ok && term.IsTerminal(int(f.Fd()))
}

// termWidth is the width diagnostics are wrapped to.
func termWidth(w io.Writer) uint {
	if f, ok := w.(*os.File); ok {
		if cols, _, err := term.GetSize(int(f.Fd())); err == nil && cols > 20 {
			return uint(cols)
		}
	}
	return 0 // no wrapping
}

// sinks builds the run's output: JSON lines with --json, otherwise the
// terminal; plus a Recorder for the recap. hostWidth aligns host names.
func (u *ui) sinks(hostWidth int) (report.Sink, *report.Recorder) {
	rec := report.NewRecorder()
	var out report.Sink
	if global.jsonOut {
		out = report.NewJSON(u.stdout, u.masker)
	} else {
		live := liveView(u.stdout)
		t := report.NewTerminal(u.stdout, u.stderr, report.TerminalOptions{
			Color:     u.color,
			HostWidth: min(hostWidth, 32),
			Masker:    u.masker,
			Live:      live,
			Size:      func() (int, int) { return termSize(u.stdout) },
			Verbose:   global.verbose,
		})
		if live {
			u.live = t
			redrawOnResize(t)
		}
		out = t
	}
	return report.Multi(rec, out), rec
}

// liveView reports whether the live view is drawn on w: a terminal that
// moves its cursor (not TERM=dumb). It does not depend on colour:
// NO_COLOR and --no-color take the colour out of it, not the view.
func liveView(w io.Writer) bool {
	return isTerminal(w) && os.Getenv("TERM") != "dumb"
}

func termSize(w io.Writer) (cols, rows int) {
	if f, ok := w.(*os.File); ok {
		if c, r, err := term.GetSize(int(f.Fd())); err == nil {
			return c, r
		}
	}
	return 0, 0
}

// redrawOnResize redraws the live view when the terminal is resized.
func redrawOnResize(t *report.Terminal) {
	ch := make(chan os.Signal, 1)
	signal.Notify(ch, syscall.SIGWINCH)
	go func() {
		for range ch {
			t.Redraw()
		}
	}()
}

// outWriter is where output beside the events goes during a run (the
// facts table): through the live view, as errWriter.
func (u *ui) outWriter() io.Writer {
	if u.live != nil {
		return u.live.OutWriter()
	}
	return u.stdout
}

// errWriter is where messages go on stderr during a run: through the live
// view, which is taken down while they are written, when there is one.
func (u *ui) errWriter() io.Writer {
	if u.live != nil {
		return u.live.ErrWriter()
	}
	return u.stderr
}

// warnf prints a warning on stderr (outside of a run's sinks).
func (u *ui) warnf(format string, args ...any) {
	msg := report.Clean(u.masker, fmt.Sprintf(format, args...))
	label := "warning:"
	if u.colorErr {
		label = report.NewStyle(true).Warn.Sprint(label)
	}
	fmt.Fprintln(u.errWriter(), label, msg)
}

// errInterrupted is the cause of the run context's cancellation on SIGINT or
// SIGTERM.
var errInterrupted = errors.New("interrupted")

// signalContext returns a context cancelled (with cause errInterrupted) by
// the first SIGINT or SIGTERM. The handler is then removed, so a second
// Ctrl-C kills drover at once. stop releases the handler.
func signalContext(parent context.Context, stderr io.Writer) (ctx context.Context, stop func()) {
	ctx, cancel := context.WithCancelCause(parent)
	sigs := make(chan os.Signal, 1)
	signal.Notify(sigs, os.Interrupt, syscall.SIGTERM)
	done := make(chan struct{})
	go func() {
		select {
		case s := <-sigs:
			signal.Stop(sigs)
			fmt.Fprintf(stderr, "\ndrover: %v: stopping (no new host starts; running ones are cut). Press Ctrl-C again to quit at once.\n", s)
			cancel(errInterrupted)
		case <-done:
		}
	}()
	var once sync.Once
	return ctx, func() {
		once.Do(func() {
			signal.Stop(sigs)
			close(done)
			cancel(nil)
		})
	}
}

// interrupted reports whether ctx was cancelled by a signal.
func interrupted(ctx context.Context) bool {
	return errors.Is(context.Cause(ctx), errInterrupted)
}

// prompter reads secrets from the terminal without echo: the sudo password
// once per run, and the passphrase of each encrypted key file once. Prompts
// are serialised: hosts connecting in parallel may ask at the same moment.
type prompter struct {
	mu          sync.Mutex
	passphrases map[string][]byte
	masker      *report.Masker
	// stdin is read for the become password when there is no terminal
	// (`echo pw | drover exec -K ...`), one line.
	stdin io.Reader
}

func newPrompter(m *report.Masker, stdin io.Reader) *prompter {
	return &prompter{passphrases: map[string][]byte{}, masker: m, stdin: stdin}
}

// readSecret prints prompt on the controlling terminal and reads a line
// without echo. Without a terminal it reads one line from stdin when stdin
// is not a terminal itself, or fails.
func (p *prompter) readSecret(prompt string, allowStdin bool) ([]byte, error) {
	tty, err := os.OpenFile("/dev/tty", os.O_RDWR, 0)
	if err == nil {
		defer tty.Close()
		fmt.Fprint(tty, prompt)
		secret, err := term.ReadPassword(int(tty.Fd()))
		fmt.Fprintln(tty)
		if err != nil {
			return nil, fmt.Errorf("reading from the terminal: %w", err)
		}
		return secret, nil
	}
	if allowStdin && p.stdin != nil && !isTerminalReader(p.stdin) {
		line, rerr := bufio.NewReader(p.stdin).ReadString('\n')
		if rerr != nil && rerr != io.EOF {
			return nil, fmt.Errorf("reading the password from stdin: %w", rerr)
		}
		if line == "" && rerr == io.EOF {
			return nil, errors.New("no terminal to ask on, and stdin is empty; pipe the password to stdin")
		}
		return []byte(trimNewline(line)), nil
	}
	return nil, fmt.Errorf("no terminal to ask for the password on (%v)", err)
}

func isTerminalReader(r io.Reader) bool {
	f, ok := r.(*os.File)
	return ok && term.IsTerminal(int(f.Fd()))
}

func trimNewline(s string) string {
	if n := len(s); n > 0 && s[n-1] == '\n' {
		s = s[:n-1]
		if n := len(s); n > 0 && s[n-1] == '\r' {
			s = s[:n-1]
		}
	}
	return s
}

// becomePassword asks for the sudo password (--ask-become-pass) and
// registers it with the masker.
func (p *prompter) becomePassword() ([]byte, error) {
	p.mu.Lock()
	defer p.mu.Unlock()
	pw, err := p.readSecret("BECOME password: ", true)
	if err != nil {
		return nil, fmt.Errorf("--ask-become-pass: %w", err)
	}
	p.masker.Add(string(pw))
	return pw, nil
}

// passphrase is transport.Options.Passphrase: it asks for an encrypted key
// file's passphrase once per file (a wrong one is not asked again in the
// same run; the transport then skips the key).
func (p *prompter) passphrase(keyFile string) ([]byte, error) {
	p.mu.Lock()
	defer p.mu.Unlock()
	if pp, ok := p.passphrases[keyFile]; ok {
		if pp == nil {
			return nil, fmt.Errorf("no passphrase for %s", keyFile)
		}
		return pp, nil
	}
	pp, err := p.readSecret(fmt.Sprintf("Enter passphrase for key '%s': ", keyFile), false)
	if err != nil {
		p.passphrases[keyFile] = nil
		return nil, err
	}
	p.masker.Add(string(pp))
	p.passphrases[keyFile] = pp
	return pp, nil
}

// parseDurationFlag parses a duration flag, as a usage error when bad.
func parseDurationFlag(name, value string) (time.Duration, error) {
	if value == "" {
		return 0, nil
	}
	d, err := time.ParseDuration(value)
	if err != nil || d < 0 {
		return 0, usageErrorf("--%s %q: want a duration such as 10s or 1m30s", name, value)
	}
	return d, nil
}

// loadInventory reads the -i files. Diagnostics (warnings too) are printed
// with source snippets; errors make it fail with exit status 1.
func loadInventory(u *ui) (*inventory.Inventory, error) {
	if len(global.inventories) == 0 {
		return nil, usageErrorf("no inventory: pass one or more with -i FILE")
	}
	parser := hclparse.NewParser()
	inv, diags := inventory.Load(global.inventories, inventory.LoadOptions{Parser: parser, Vault: secretKeys(u).OpenVault})
	maskInventorySecrets(u, inv) // secret_keys.go
	if len(diags) > 0 {
		wr := hcl.NewDiagnosticTextWriter(u.stderr, parser.Files(), termWidth(u.stderr), u.colorErr)
		_ = wr.WriteDiagnostics(diags)
	}
	if diags.HasErrors() {
		// The one-line file:line:col form, for editors and CI logs.
		var where []string
		for _, d := range diags {
			if d.Severity == hcl.DiagError && d.Subject != nil {
				where = append(where, fmt.Sprintf("%s:%d:%d", d.Subject.Filename, d.Subject.Start.Line, d.Subject.Start.Column))
			}
		}
		n := len(diags.Errs())
		msg := fmt.Sprintf("the inventory has %d error(s)", n)
		if len(where) > 0 {
			msg += " at " + strings.Join(where, ", ")
		}
		return nil, &exitCodeError{code: exitError, err: errors.New(msg + "; fix them and try again")}
	}
	if err := addSourceHosts(u, inv); err != nil { // inventory_cloud.go
		return nil, err
	}
	return inv, nil
}

// selectHosts applies the pattern, --limit and --shard, warning about terms that
// match nothing. No host at all is an error: a run on nothing is almost
// always a typo.
func selectHosts(u *ui, inv *inventory.Inventory, pattern string) ([]*inventory.Host, error) {
	hosts, err := inv.SelectLimit(pattern, global.limit)
	var um *inventory.UnmatchedError
	switch {
	case errors.As(err, &um):
		for _, term := range um.Terms {
			u.warnf("no host or group matches %q", term)
		}
	case err != nil:
		return nil, usageErrorf("%w", err)
	}
	hosts, emptied := keepShard(u, hosts)
	if len(hosts) == 0 && !emptied {
		what := fmt.Sprintf("pattern %q", pattern)
		if global.limit != "" {
			what += fmt.Sprintf(" with --limit %q", global.limit)
		}
		return nil, &exitCodeError{code: exitError, err: fmt.Errorf("no hosts selected by %s; see `drover inventory list` for the names", what)}
	}
	return hosts, nil
}

// session is one run over the selected hosts: the hosts, their connection
// pool, the sinks, and the interrupt context.
type session struct {
	ui      *ui
	ctx     context.Context
	stop    func()
	hosts   []*inventory.Host
	targets []transport.Target
	dialer  *transport.Dialer
	pool    *connect.Pool
	sink    *gate
	rec     *report.Recorder
	emit    *report.Emitter
	start   time.Time
	forks   int
	// perTask asks for apply-style recap rows.
	perTask bool
}

// openSession loads the inventory, selects hosts by pattern, applies the
// command-line overrides, asks for the become password when asked to, and
// prepares the connection pool and output. The caller must call finish.
func openSession(cmd *cobra.Command, pattern, task, command string) (*session, error) {
	u := newUI(cmd)
	ov, err := cliOverrides(cmd)
	if err != nil {
		return nil, err
	}
	if global.forks < 0 {
		return nil, usageErrorf("--forks %d: want a positive number (0 means all hosts, up to %d)", global.forks, fanout.DefaultForks)
	}
	if err := checkShard(); err != nil {
		return nil, err
	}
	inv, err := loadInventory(u)
	if err != nil {
		return nil, err
	}
	hosts, err := selectHosts(u, inv, pattern)
	if err != nil {
		return nil, err
	}
	hosts = withOverrides(hosts, ov)
	boundForks(u, len(hosts)) // fdlimit.go
	c, err := newConnector(cmd, u, inv, ov)
	if err != nil {
		return nil, err
	}
	s := &session{ui: u, hosts: hosts, forks: global.forks, dialer: c.dialer}
	width := 0
	for _, h := range hosts {
		t, err := c.target(h)
		if err != nil {
			_ = c.dialer.Close()
			return nil, err
		}
		s.targets = append(s.targets, t)
		width = max(width, len(h.Name))
	}
	s.pool = connect.NewPool(s.dialer)
	sink, rec := u.sinks(width)
	s.sink, s.rec = &gate{sink: sink}, rec
	s.emit = report.NewEmitter(s.sink)
	s.ctx, s.stop = signalContext(cmd.Context(), u.errWriter())
	s.start = time.Now()
	names := make([]string, len(hosts))
	for i, h := range hosts {
		names[i] = h.Name
	}
	s.emit.Emit(report.Event{Kind: report.KindRunStart, Task: task, Command: command, Hosts: names})
	return s, nil
}

// hostFunc does a command's work on one host and emits its events, ending
// with KindHostDone.
type hostFunc func(ctx context.Context, h *inventory.Host, t transport.Target) error

// Grace periods after Ctrl-C: running hosts get graceCut to stop on their
// own; then the connections are closed under them and they get graceClose
// more before the recap is printed without them.
var (
	graceCut   = 3 * time.Second
	graceClose = 2 * time.Second
)

// run calls fn for every host in parallel (--forks bound). A host whose turn
// never came because of Ctrl-C is left out; the recap reports it. After
// Ctrl-C, run returns within graceCut+graceClose even if a host hangs.
func (s *session) run(fn hostFunc) {
	idx := make([]int, len(s.hosts))
	for i := range idx {
		idx[i] = i
	}
	done := make(chan []fanout.Outcome, 1)
	go func() {
		done <- fanout.Run(s.ctx, idx, s.forks, func(ctx context.Context, i int) error {
			return fn(ctx, s.hosts[i], s.targets[i])
		})
	}()
	var out []fanout.Outcome
	select {
	case out = <-done:
	case <-s.ctx.Done():
		select {
		case out = <-done:
		case <-time.After(graceCut):
			_ = s.pool.Close() // cuts the commands still running
			select {
			case out = <-done:
			case <-time.After(graceClose):
				// Give up on them: the recap counts them as cancelled, and
				// the gate drops whatever they emit later.
			}
		}
	}
	for i, o := range out {
		var pe *fanout.PanicError
		if errors.As(o.Err, &pe) {
			// A bug, not the host's fault: still report the host as failed.
			s.emit.Emit(report.Event{Kind: report.KindHostDone, Host: s.hosts[i].Name, Status: report.StatusFailed,
				Duration: o.Duration, Message: pe.Error()})
		}
	}
}

// gate passes events on until it is closed, then drops them: a host
// abandoned after Ctrl-C must not print after the recap.
type gate struct {
	mu     sync.Mutex
	closed bool
	sink   report.Sink
}

func (g *gate) Emit(e report.Event) {
	g.mu.Lock()
	defer g.mu.Unlock()
	if !g.closed {
		g.sink.Emit(e)
	}
}

func (g *gate) Close() error { return g.closeWith(nil) }

// closeWith emits last (the recap) and closes, with nothing in between.
func (g *gate) closeWith(last *report.Event) error {
	g.mu.Lock()
	defer g.mu.Unlock()
	if g.closed {
		return nil
	}
	if last != nil {
		g.sink.Emit(*last)
	}
	g.closed = true
	return g.sink.Close()
}

// finish prints the recap, closes connections and output, and returns the
// command's result: nil when every host is ok, an exit status otherwise.
func (s *session) finish() error {
	defer s.stop()
	names := make([]string, len(s.hosts))
	for i, h := range s.hosts {
		names[i] = h.Name
	}
	intr := interrupted(s.ctx)
	rc := s.rec.Recap(names, time.Since(s.start), intr)
	rc.PerTask = s.perTask
	_ = s.sink.closeWith(&report.Event{Time: time.Now(), Kind: report.KindRecap, Recap: rc, Duration: rc.Duration})
	_ = s.pool.Close()
	_ = s.dialer.Close()
	switch {
	case intr:
		return &exitCodeError{code: exitInterrupted}
	case !rc.OK():
		return &exitCodeError{code: exitError}
	}
	return nil
}

// connectHost gets the host's connection from the pool and emits the
// connect event. On failure it also emits the host's KindHostDone and
// returns nil.
func (s *session) connectHost(ctx context.Context, t transport.Target) (transport.Conn, time.Duration) {
	// The live view's line for the host until the connect event.
	s.emit.Emit(report.Event{Kind: report.KindPhase, Host: t.Name, Detail: &report.HostPhase{Phase: report.PhaseConnecting}})
	conn, err := s.pool.Conn(ctx, t)
	d, _ := s.pool.Dial(t.Name)
	if err != nil {
		st, kind, msg, hint := describeError(ctx, err)
		s.emit.Emit(report.Event{Kind: report.KindConnect, Host: t.Name, Status: st, ConnectTime: d.Duration,
			ErrorKind: kind, Message: msg, Hint: hint})
		s.emit.Emit(report.Event{Kind: report.KindHostDone, Host: t.Name, Status: st, Duration: d.Duration,
			ErrorKind: kind, Message: msg})
		return nil, d.Duration
	}
	s.emit.Emit(report.Event{Kind: report.KindConnect, Host: t.Name, Status: report.StatusOK, ConnectTime: d.Duration})
	return conn, d.Duration
}

// describeError classifies an error for events: the host status, the error
// kind, a message without the host name (the output shows it already), and
// a hint.
func describeError(ctx context.Context, err error) (st report.Status, kind, msg, hint string) {
	if interrupted(ctx) {
		// Whatever broke (the command, or the connection closed under it),
		// it broke because the user stopped the run.
		return report.StatusCancelled, "", "interrupted before it finished", ""
	}
	var te *transport.Error
	if errors.As(err, &te) {
		st = report.StatusFailed
		if transport.Unreachable(err) {
			st = report.StatusUnreachable
		}
		msg = fmt.Sprint(te.Err)
		if te.Addr != "" && !strings.Contains(msg, te.Addr) {
			msg = te.Addr + ": " + msg
		}
		return st, te.Kind.String(), msg, te.Hint
	}
	return report.StatusFailed, transport.ErrOther.String(), err.Error(), ""
}

// readEach runs read on every host's connection and reports what it
// returned as one command event (task, command: how the event names it):
// stdout the human listing, detail the value --json carries. It is for the
// read-only listings (releases, history) that take one round trip per host.
func (s *session) readEach(task, command string, read func(ctx context.Context, conn transport.Conn) (stdout string, detail any, err error)) {
	s.run(func(ctx context.Context, h *inventory.Host, t transport.Target) error {
		start := time.Now()
		conn, connectTime := s.connectHost(ctx, t)
		if conn == nil {
			return nil
		}
		ev := report.Event{Kind: report.KindCommand, Host: t.Name, Task: task, Command: command, ConnectTime: connectTime}
		out, detail, err := read(ctx, conn)
		if err != nil {
			ev.Status, ev.Message = report.StatusFailed, err.Error()
		} else {
			ev.Status, ev.Stdout, ev.Detail = report.StatusOK, out, detail
		}
		ev.Duration = time.Since(start)
		s.emit.Emit(ev)
		s.emit.Emit(report.Event{Kind: report.KindHostDone, Host: t.Name, Status: ev.Status, Duration: time.Since(start), Message: ev.Message})
		return nil
	})
}
