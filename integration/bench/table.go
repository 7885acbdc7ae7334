// The results table: printed after each fleet size, and written into
// docs/speed.md between its markers by -write-doc.

package main

import (
	"errors"
	"fmt"
	"os"
	"strconv"
	"strings"
	"time"
)

// Tools, in the order their rows are printed.
var tools = []string{"drover", "spot", "Ansible"}

// result is one measured run of one tool.
type result struct {
	run      string // "first", "no change" ("again" for spot, which has no such mode)
	wall     time.Duration
	ctlCPU   time.Duration
	hostCPU  time.Duration // all hosts together
	procs    float64       // processes started per host
	peakRSS  int64         // bytes; for Ansible the largest single process
	trips    float64       // per host; -1 when not counted
	changed  int           // tasks changed on host1; -1 when the tool does not say
	failures string
}

// cell is one tool at one fleet size and run: a result, or why there is
// none ("not installed", "skipped above 10 hosts").
type cell struct {
	r      *result
	reason string
}

type row struct {
	hosts int
	run   string // "first" or "no change"
	tools map[string]cell
}

// markdownTable is the results as docs/speed.md shows them: one line per
// fleet size, run and tool, the tools of one run side by side.
func markdownTable(rows []row) string {
	var b strings.Builder
	b.WriteString("| hosts | run | tool | wall | wall / drover's | controller CPU | host CPU | peak RSS | round trips per host | processes per host | changed on host1 |\n")
	b.WriteString("|---:|---|---|---:|---:|---:|---:|---:|---:|---:|---:|\n")
	for _, rw := range rows {
		d := rw.tools["drover"].r
		for _, tool := range tools {
			c, ok := rw.tools[tool]
			if !ok {
				continue
			}
			run := rw.run
			if c.r != nil && c.r.run != "" {
				run = c.r.run
			}
			if c.r == nil {
				fmt.Fprintf(&b, "| %d | %s | %s | %s | – | – | – | – | – | – | – |\n", rw.hosts, run, tool, c.reason)
				continue
			}
			r := c.r
			ratio := "–"
			if d != nil && tool != "drover" && d.wall > 0 {
				ratio = fmt.Sprintf("%.1f×", r.wall.Seconds()/d.wall.Seconds())
				if r.wall >= 10*d.wall {
					ratio = fmt.Sprintf("%.0f×", r.wall.Seconds()/d.wall.Seconds())
				}
			}
			trips, changed := "–", "–"
			if r.trips >= 0 {
				trips = strconv.FormatFloat(r.trips, 'f', -1, 64)
			}
			if r.changed >= 0 {
				changed = strconv.Itoa(r.changed)
			}
			wall := secs(r.wall)
			if r.failures != "" {
				wall += " (failed)"
			}
			fmt.Fprintf(&b, "| %d | %s | %s | %s | %s | %s | %s | %.0f MB | %s | %.0f | %s |\n", rw.hosts, run, tool,
				wall, ratio, secs(r.ctlCPU), secs(r.hostCPU), float64(r.peakRSS)/1e6, trips, r.procs, changed)
		}
	}
	return b.String()
}

func secs(d time.Duration) string {
	if d < 10*time.Second {
		return fmt.Sprintf("%.2f s", d.Seconds())
	}
	return fmt.Sprintf("%.1f s", d.Seconds())
}

// The markers in docs/speed.md around the generated results.
const (
	docBegin = "<!-- bench results: written by make bench-doc, edit the prose around it -->"
	docEnd   = "<!-- end of bench results -->"
)

// replaceResults puts generated between doc's markers, keeping the rest.
func replaceResults(doc, generated string) (string, error) {
	i := strings.Index(doc, docBegin)
	j := strings.Index(doc, docEnd)
	if i < 0 || j < i {
		return "", errors.New("the markers " + docBegin + " and " + docEnd + " are missing or out of order")
	}
	return doc[:i+len(docBegin)] + "\n" + generated + doc[j:], nil
}

// writeDoc rewrites the results of the doc at path.
func writeDoc(path, generated string) error {
	b, err := os.ReadFile(path)
	if err != nil {
		return err
	}
	out, err := replaceResults(string(b), generated)
	if err != nil {
		return fmt.Errorf("%s: %w", path, err)
	}
	return os.WriteFile(path, []byte(out), 0o644)
}
