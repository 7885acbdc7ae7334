package report

// Runbook reports: what probes found on each host, findings first. Unlike a
// plan or an apply, a runbook's output is a document (terminal text, JSON,
// or one self-contained HTML page), written once every host has answered.

import (
	"encoding/json"
	"fmt"
	"io"
	"sort"
	"strings"
	"time"
)

// Severity ranks findings; higher is worse.
type Severity int

const (
	SevOK Severity = iota
	SevInfo
	SevWarn
	SevError // the check itself could not be evaluated on the host
	SevCrit
)

var sevNames = [...]string{"ok", "info", "warn", "error", "crit"}

func (s Severity) String() string {
	if s < 0 || int(s) >= len(sevNames) {
		return "?"
	}
	return sevNames[s]
}

// MarshalText encodes the severity's name in JSON.
func (s Severity) MarshalText() ([]byte, error) { return []byte(s.String()), nil }

// Finding is one problem a check found on a host.
type Finding struct {
	Check    string   `json:"check"`
	Key      string   `json:"key,omitempty"` // the for_each key ("/var")
	Severity Severity `json:"severity"`
	Message  string   `json:"message"`
	// Probes are the probes the check read: their output is the evidence.
	Probes []string `json:"probes,omitempty"`
}

// ProbeOutput is what one probe printed on a host.
type ProbeOutput struct {
	Name      string   `json:"name"`
	Command   string   `json:"command"` // the command that ran, or the one asked for
	Status    string   `json:"status"`  // ok, failed, timeout, not available, skipped
	ExitCode  int      `json:"exit_code"`
	Stdout    string   `json:"stdout,omitempty"`
	Stderr    string   `json:"stderr,omitempty"`
	Truncated bool     `json:"truncated,omitempty"`
	Missing   []string `json:"missing,omitempty"`
	Note      string   `json:"note,omitempty"` // a parse error, why it was skipped
	// ReadOnly is the guarantee the command ran under (empty when none ran).
	ReadOnly string `json:"read_only,omitempty"`
}

// RunbookHost is one host's part of a runbook report.
type RunbookHost struct {
	Host   string `json:"host"`
	Status Status `json:"status"` // ok, failed, unreachable
	Error  string `json:"error,omitempty"`
	// ReadOnly is what kept the probes from changing the host: "enforced
	// (mount namespace, ...)", "by permissions of user X" or "not
	// enforced: WHY" (per probe when they differ).
	ReadOnly string        `json:"read_only,omitempty"`
	Findings []Finding     `json:"findings"`
	Probes   []ProbeOutput `json:"probes"`
	Duration time.Duration `json:"duration_ns"`
}

// Worst is the host's most severe finding (crit for a host that could not be
// examined: it needs a look as much as a failing one).
func (h *RunbookHost) Worst() Severity {
	if h.Status != StatusOK {
		return SevCrit
	}
	w := SevOK
	for _, f := range h.Findings {
		w = max(w, f.Severity)
	}
	return w
}

// Count returns how many findings of severity s the host has.
func (h *RunbookHost) Count(s Severity) int {
	n := 0
	for _, f := range h.Findings {
		if f.Severity == s {
			n++
		}
	}
	return n
}

// CheckWorst is the most severe finding of a check on the host, and how many
// findings it made.
func (h *RunbookHost) CheckWorst(check string) (Severity, int) {
	w, n := SevOK, 0
	for _, f := range h.Findings {
		if f.Check == check {
			w, n = max(w, f.Severity), n+1
		}
	}
	return w, n
}

// RunbookReport is a whole runbook run.
type RunbookReport struct {
	Runbook     string        `json:"runbook"`
	Description string        `json:"description,omitempty"`
	Started     time.Time     `json:"started"`
	Duration    time.Duration `json:"duration_ns"`
	// Checks are the runbook's check names in declaration order (the
	// columns of the fleet table).
	Checks []string      `json:"checks"`
	Hosts  []RunbookHost `json:"hosts"`
}

// Sort ranks the report: hosts with the most severe findings first (then the
// most critical, then the most warnings, then by name), and each host's
// findings most severe first (in check order within a severity).
func (r *RunbookReport) Sort() {
	order := map[string]int{}
	for i, c := range r.Checks {
		order[c] = i
	}
	for i := range r.Hosts {
		fs := r.Hosts[i].Findings
		sort.SliceStable(fs, func(a, b int) bool {
			if fs[a].Severity != fs[b].Severity {
				return fs[a].Severity > fs[b].Severity
			}
			return order[fs[a].Check] < order[fs[b].Check]
		})
	}
	sort.SliceStable(r.Hosts, func(a, b int) bool {
		ha, hb := &r.Hosts[a], &r.Hosts[b]
		if wa, wb := ha.Worst(), hb.Worst(); wa != wb {
			return wa > wb
		}
		for _, s := range []Severity{SevCrit, SevError, SevWarn, SevInfo} {
			if ca, cb := ha.Count(s), hb.Count(s); ca != cb {
				return ca > cb
			}
		}
		return ha.Host < hb.Host
	})
}

// Totals counts hosts by their worst severity.
func (r *RunbookReport) Totals() map[Severity]int {
	t := map[Severity]int{}
	for i := range r.Hosts {
		t[r.Hosts[i].Worst()]++
	}
	return t
}

// WriteRunbookJSON writes the report as one JSON document, masked (before
// encoding: JSON escapes &, < and >) but otherwise raw.
func WriteRunbookJSON(w io.Writer, r *RunbookReport, m *Masker) error {
	b, err := json.MarshalIndent(masked(m, r), "", "  ")
	if err != nil {
		return err
	}
	_, err = w.Write(append(b, '\n'))
	return err
}

// RunbookTextOptions shape the terminal report.
type RunbookTextOptions struct {
	Color  bool
	Masker *Masker
	// Full shows every probe's whole output; otherwise a single host's
	// probes are shown folded (their first lines) and a fleet's not at all.
	Full bool
	// FoldLines is how many lines of a probe a folded section shows.
	FoldLines int
}

// WriteRunbookText writes the report for people: the fleet table when there
// are several hosts, then per host its findings and its probes' output.
func WriteRunbookText(w io.Writer, r *RunbookReport, o RunbookTextOptions) error {
	r = cleaned(o.Masker, r)
	st := NewStyle(o.Color)
	if o.FoldLines == 0 {
		o.FoldLines = 12
	}
	var b strings.Builder
	fmt.Fprintf(&b, "%s %s", st.Bold.Sprint("Runbook"), st.Bold.Sprint(r.Runbook))
	if r.Description != "" {
		fmt.Fprintf(&b, " — %s", r.Description)
	}
	fmt.Fprintf(&b, "\n%s\n", st.Dim.Sprintf("%d host(s), %s, %s", len(r.Hosts), r.Started.UTC().Format(time.RFC3339), r.Duration.Round(time.Millisecond)))
	sevColor := func(s Severity) func(a ...any) string {
		switch s {
		case SevCrit, SevError:
			return st.Failed.Sprint
		case SevWarn:
			return st.Warn.Sprint
		case SevOK:
			return st.OK.Sprint
		}
		return st.Dim.Sprint
	}
	if len(r.Hosts) > 1 {
		b.WriteString("\n")
		writeMatrix(&b, r, sevColor)
	}
	showProbes := o.Full || len(r.Hosts) == 1
	for i := range r.Hosts {
		h := &r.Hosts[i]
		worst := h.Worst()
		fmt.Fprintf(&b, "\n%s %s\n", st.Host.Sprint("== "+h.Host), sevColor(worst)("["+hostVerdict(h)+"]"))
		if h.ReadOnly != "" {
			ro := st.Dim.Sprint
			if strings.HasPrefix(h.ReadOnly, "not enforced") {
				ro = st.Failed.Sprint
			}
			fmt.Fprintf(&b, "  %s\n", ro("read-only: "+h.ReadOnly))
		}
		if h.Status != StatusOK {
			fmt.Fprintf(&b, "  %s %s\n", st.Failed.Sprint(string(h.Status)+":"), h.Error)
			continue
		}
		if len(h.Findings) == 0 {
			b.WriteString("  " + st.OK.Sprint("no findings") + "\n")
		}
		for _, f := range h.Findings {
			label := fmt.Sprintf("%-5s", strings.ToUpper(f.Severity.String()))
			fmt.Fprintf(&b, "  %s %s  %s\n", sevColor(f.Severity)(label), f.Message, st.Dim.Sprint("("+findingAddr(f)+")"))
		}
		var na []string
		for _, p := range h.Probes {
			if p.Status == "not available" {
				na = append(na, p.Name)
			}
		}
		if len(na) > 0 {
			fmt.Fprintf(&b, "  %s %s\n", st.Dim.Sprint("not available:"), strings.Join(na, ", "))
		}
		if !showProbes {
			continue
		}
		for _, p := range h.Probes {
			fmt.Fprintf(&b, "\n  %s %s %s\n", st.Bold.Sprint("▸ "+p.Name), st.Dim.Sprint("$ "+oneLine(p.Command)), probeStatusText(p, st))
			out := strings.TrimRight(p.Stdout, "\n")
			if p.Stderr != "" && p.Status != "ok" {
				out = strings.TrimRight(out+"\n"+p.Stderr, "\n")
			}
			if out == "" {
				continue
			}
			lines := strings.Split(out, "\n")
			shown := lines
			if !o.Full && len(lines) > o.FoldLines {
				shown = lines[:o.FoldLines]
			}
			for _, l := range shown {
				b.WriteString("    " + l + "\n")
			}
			if len(shown) < len(lines) {
				b.WriteString("    " + st.Dim.Sprintf("… %d more lines (--full shows everything, --html FILE folds it)", len(lines)-len(shown)) + "\n")
			}
		}
	}
	_, err := io.WriteString(w, b.String())
	return err
}

func hostVerdict(h *RunbookHost) string {
	if h.Status != StatusOK {
		return string(h.Status)
	}
	var parts []string
	for _, s := range []Severity{SevCrit, SevError, SevWarn, SevInfo} {
		if n := h.Count(s); n > 0 {
			parts = append(parts, fmt.Sprintf("%d %s", n, s))
		}
	}
	if len(parts) == 0 {
		return "ok"
	}
	return strings.Join(parts, ", ")
}

func findingAddr(f Finding) string {
	if f.Key != "" {
		return fmt.Sprintf("check.%s[%q]", f.Check, f.Key)
	}
	return "check." + f.Check
}

func probeStatusText(p ProbeOutput, st *Style) string {
	s := p.Status
	if p.Status == "failed" || p.Status == "timeout" {
		s = fmt.Sprintf("%s (exit %d)", p.Status, p.ExitCode)
	}
	if len(p.Missing) > 0 {
		s += ": no " + strings.Join(p.Missing, ", ")
	}
	if p.Truncated {
		s += ", truncated"
	}
	if p.Note != "" {
		s += ": " + p.Note
	}
	switch p.Status {
	case "ok":
		return st.Dim.Sprint("[" + s + "]")
	case "not available", "skipped":
		return st.Dim.Sprint("[" + s + "]")
	}
	return st.Warn.Sprint("[" + s + "]")
}

func oneLine(s string) string {
	s = strings.Join(strings.Fields(s), " ")
	if r := []rune(s); len(r) > 80 {
		s = string(r[:77]) + "..." // whole runes: half of one is not UTF-8
	}
	return s
}

// matrixChecks are the columns worth showing: checks with a finding on some
// host (a column of "ok" everywhere tells nothing).
func matrixChecks(r *RunbookReport) []string {
	var out []string
	for _, c := range r.Checks {
		for i := range r.Hosts {
			if _, n := r.Hosts[i].CheckWorst(c); n > 0 {
				out = append(out, c)
				break
			}
		}
	}
	return out
}

func writeMatrix(b *strings.Builder, r *RunbookReport, sevColor func(Severity) func(a ...any) string) {
	cols := matrixChecks(r)
	hw := len("host")
	for i := range r.Hosts {
		hw = max(hw, len(r.Hosts[i].Host))
	}
	widths := make([]int, len(cols))
	fmt.Fprintf(b, "%-*s  %-11s", hw, "host", "verdict")
	for i, c := range cols {
		widths[i] = max(len(c), 6)
		fmt.Fprintf(b, "  %-*s", widths[i], c)
	}
	b.WriteString("\n")
	for i := range r.Hosts {
		h := &r.Hosts[i]
		v := h.Worst().String()
		if h.Status != StatusOK {
			v = string(h.Status)
		}
		fmt.Fprintf(b, "%-*s  %s", hw, h.Host, sevColor(h.Worst())(fmt.Sprintf("%-11s", v)))
		for j, c := range cols {
			cell := "·"
			s, n := h.CheckWorst(c)
			if h.Status != StatusOK {
				cell = "?"
			} else if n > 0 {
				cell = s.String()
				if n > 1 {
					cell += fmt.Sprintf("×%d", n)
				}
			}
			pad := widths[j] - len([]rune(cell))
			fmt.Fprintf(b, "  %s%s", sevColor(s)(cell), strings.Repeat(" ", max(pad, 0)))
		}
		b.WriteString("\n")
	}
	if len(cols) == 0 {
		b.WriteString("(no check found anything on any host)\n")
	}
	t := r.Totals()
	var parts []string
	for _, s := range []Severity{SevCrit, SevError, SevWarn, SevInfo, SevOK} {
		if t[s] > 0 {
			parts = append(parts, fmt.Sprintf("%d %s", t[s], s))
		}
	}
	fmt.Fprintf(b, "Hosts: %s.\n", strings.Join(parts, ", "))
}
