package report

import (
	"embed"
	"fmt"
	"html/template"
	"io"
	"strings"
	"time"
)

//go:embed runbook_assets/report.html.tmpl
var runbookAssets embed.FS

var runbookTmpl = template.Must(template.New("report.html.tmpl").Funcs(template.FuncMap{
	"addr": findingAddr,
	"status": func(p ProbeOutput) string {
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
		return s
	},
	"bad": func(p ProbeOutput) bool { return p.Status == "failed" || p.Status == "timeout" },
}).ParseFS(runbookAssets, "runbook_assets/report.html.tmpl"))

// UnmarshalText reads a severity's name.
func (s *Severity) UnmarshalText(b []byte) error {
	for i, n := range sevNames {
		if n == string(b) {
			*s = Severity(i)
			return nil
		}
	}
	return fmt.Errorf("unknown severity %q", b)
}

type htmlCell struct {
	Sev  Severity
	N    int
	Text string
}

type htmlRow struct {
	Host    string
	Worst   Severity
	Verdict string
	Cells   []htmlCell
}

type htmlHost struct {
	H       *RunbookHost
	Worst   Severity
	Verdict string
	// Open are the probes shown unfolded: the evidence of a warn or crit
	// finding, and those that failed or timed out.
	Open map[string]bool
}

// WriteRunbookHTML writes the report as one self-contained HTML page (styles
// inline, no script, no external asset) to attach to an incident ticket.
func WriteRunbookHTML(w io.Writer, r *RunbookReport, m *Masker) error {
	// Cleaned like the terminal report: the page is for people, and bidi
	// overrides or invisible characters from a host mislead in a browser too.
	rep := cleaned(m, r)
	data := struct {
		R                         *RunbookReport
		Started, Duration, Totals string
		Cols                      []string
		Rows                      []htmlRow
		Hosts                     []htmlHost
	}{R: rep, Started: rep.Started.UTC().Format(time.RFC3339), Duration: rep.Duration.Round(time.Millisecond).String()}
	t := rep.Totals()
	var parts []string
	for _, s := range []Severity{SevCrit, SevError, SevWarn, SevInfo, SevOK} {
		if t[s] > 0 {
			parts = append(parts, fmt.Sprintf("%d %s", t[s], s))
		}
	}
	data.Totals = strings.Join(parts, ", ")
	data.Cols = matrixChecks(rep)
	for i := range rep.Hosts {
		h := &rep.Hosts[i]
		row := htmlRow{Host: h.Host, Worst: h.Worst(), Verdict: hostVerdict(h)}
		for _, c := range data.Cols {
			s, n := h.CheckWorst(c)
			cell := htmlCell{Sev: s, N: n, Text: "·"}
			if h.Status != StatusOK {
				cell.Text = "?"
			}
			row.Cells = append(row.Cells, cell)
		}
		data.Rows = append(data.Rows, row)
		hh := htmlHost{H: h, Worst: h.Worst(), Verdict: hostVerdict(h), Open: map[string]bool{}}
		for _, f := range h.Findings {
			if f.Severity >= SevWarn {
				for _, p := range f.Probes {
					hh.Open[p] = true
				}
			}
		}
		for _, p := range h.Probes {
			if p.Status == "failed" || p.Status == "timeout" {
				hh.Open[p.Name] = true
			}
		}
		data.Hosts = append(data.Hosts, hh)
	}
	return runbookTmpl.Execute(w, data)
}
