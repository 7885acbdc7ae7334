package main

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"strconv"
	"strings"
	"sync"
	"text/tabwriter"
	"time"

	"github.com/spf13/cobra"

	"github.com/drover-cm/drover/engine/facts"
	"github.com/drover-cm/drover/engine/report"
	"github.com/drover-cm/drover/engine/transport"
	"github.com/drover-cm/drover/inventory"
)

// kindFacts is the event carrying one host's facts (in Detail, as the JSON
// object docs/facts.md describes).
const kindFacts report.Kind = "facts"

var factsCmd = &cobra.Command{
	Use:   "facts -i FILE [PATTERN]",
	Short: "Show what drover detects on each selected host: OS, init system, package manager, ...",
	Long: `Connect to every host PATTERN selects (default: all), in parallel, gather its
facts in one round trip, and print a table of the main ones: OS and version,
kernel, architecture, CPUs, memory, init system, package manager and first
address. These are the values playbooks read as host.facts.* and that the
package and service modules rely on; docs/facts.md lists them with the rules
that detect them.

With --json every host's facts are printed in full, one JSON event per host
(kind "facts", the facts in "detail").

Exit status: 0 if every host answered, 1 otherwise, 130 when interrupted.`,
	Example: `  drover facts -i hosts.hcl
  drover facts -i hosts.hcl web --json | jq '.detail.os_pretty'`,
	Args: func(cmd *cobra.Command, args []string) error {
		if len(args) > 1 {
			return usageErrorf("facts: expected at most one host pattern, got %d arguments (quote a pattern with spaces)", len(args))
		}
		return nil
	},
	RunE: runFacts,
}

func init() {
	rootCmd.AddCommand(factsCmd)
	// Text output shows facts as a table, not as event lines.
	report.RegisterRenderer(kindFacts, func(*report.Printer, report.Event) {})
}

func runFacts(cmd *cobra.Command, args []string) error {
	pattern := "all"
	if len(args) == 1 {
		pattern = args[0]
	}
	s, err := openSession(cmd, pattern, "facts", "")
	if err != nil {
		return err
	}
	var mu sync.Mutex
	got := map[string]*facts.Facts{}
	s.run(func(ctx context.Context, h *inventory.Host, t transport.Target) error {
		if f := gatherHost(ctx, s, t); f != nil {
			mu.Lock()
			got[t.Name] = f
			mu.Unlock()
		}
		return nil
	})
	if !global.jsonOut && len(got) > 0 {
		mu.Lock()
		rows := make([]factsRow, 0, len(got))
		for _, h := range s.hosts {
			if f, ok := got[h.Name]; ok {
				rows = append(rows, factsRow{h.Name, f})
			}
		}
		mu.Unlock()
		var table bytes.Buffer // one write: whole lines beside the live view
		writeFactsTable(&table, rows, s.ui.masker)
		_, _ = s.ui.outWriter().Write(table.Bytes())
	}
	return s.finish()
}

// gatherHost connects, gathers and reports one host. In text mode a host
// that answered is shown in the table, not as an event of its own: only the
// recap hears about it.
func gatherHost(ctx context.Context, s *session, t transport.Target) *facts.Facts {
	start := time.Now()
	conn, connectTime := s.connectHost(ctx, t)
	if conn == nil {
		return nil
	}
	f, err := facts.Gather(ctx, conn)
	if err != nil {
		st, kind, msg, hint := describeError(ctx, err)
		s.emit.Emit(report.Event{Kind: report.KindHostDone, Host: t.Name, Status: st, Duration: time.Since(start),
			ConnectTime: connectTime, ErrorKind: kind, Message: msg, Hint: hint})
		return nil
	}
	done := report.Event{Time: time.Now(), Kind: report.KindHostDone, Host: t.Name, Status: report.StatusOK,
		Duration: time.Since(start), ConnectTime: connectTime}
	if global.jsonOut {
		s.emit.Emit(report.Event{Kind: kindFacts, Host: t.Name, Status: report.StatusOK,
			Duration: time.Since(start), ConnectTime: connectTime, Detail: f})
		s.emit.Emit(done)
	} else {
		s.rec.Emit(done)
	}
	return f
}

type factsRow struct {
	host  string
	facts *facts.Facts
}

// writeFactsTable prints one line per host; unknown values are "-". The
// values come from the host: each cell is masked and kept to one line with
// its control characters escaped.
func writeFactsTable(w io.Writer, rows []factsRow, m *report.Masker) {
	tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "HOST\tOS\tVERSION\tFAMILY\tKERNEL\tARCH\tCPUS\tMEMORY\tINIT\tPACKAGES\tADDRESS")
	for _, r := range rows {
		f := r.facts
		addr := ""
		if len(f.Addresses) > 0 {
			addr = f.Addresses[0]
			if len(f.Addresses) > 1 {
				addr += " (+" + strconv.Itoa(len(f.Addresses)-1) + ")"
			}
		}
		mem := ""
		if f.MemoryMB > 0 {
			mem = formatMemory(f.MemoryMB)
		}
		cpus := ""
		if f.CPUs > 0 {
			cpus = strconv.Itoa(f.CPUs)
		}
		cells := []string{r.host, f.OSID, f.OSVersion, f.OSFamily, f.Kernel, f.Arch, cpus, mem, f.InitSystem, f.PackageManager, addr}
		for i, c := range cells {
			if c == "" {
				c = "-"
			}
			cells[i] = report.EscapeLine(m.String(c))
		}
		fmt.Fprintln(tw, strings.Join(cells, "\t"))
	}
	tw.Flush()
}

// formatMemory shows MiB as GiB with one decimal from 1 GiB up.
func formatMemory(mb int) string {
	if mb < 1024 {
		return strconv.Itoa(mb) + " MiB"
	}
	return strconv.FormatFloat(float64(mb)/1024, 'f', 1, 64) + " GiB"
}
