package main

// drover report merge: one recap from the --json streams of N controllers
// that each ran a --shard of the same run (docs/speed.md).

import (
	"bytes"
	"fmt"
	"os"
	"time"

	"github.com/spf13/cobra"

	"github.com/drover-cm/drover/engine/report"
)

var reportCmd = &cobra.Command{
	Use:   "report",
	Short: "Work with the JSON event streams of runs",
}

var reportMergeCmd = &cobra.Command{
	Use:   "merge FILE.json...",
	Short: "Combine the --json outputs of sharded runs into one recap",
	Long: `Read the JSON event streams that several controllers wrote with --json, each
running one --shard K/N of the same command, and print one recap as a single
run over all the hosts would (with --json: one recap event).

With --html FILE, also write the HTML report the unsharded run's --html would
have written (plan and apply streams; hosts sorted by name).

A host in two files is an error. A file that ends without a recap (its
controller was stopped) is reported as incomplete: its unfinished hosts count
as cancelled. The run's duration is the longest file's.

Exit status: as the single run's would be: 0 when every host is ok, 1 when a
host failed, was unreachable or a file is incomplete, 130 when a run was
interrupted; 64 on bad input.`,
	Example: `  drover report merge shard-1.json shard-2.json shard-3.json
  drover report merge results/*.json
  drover report merge --html report.html shard-*.json`,
	Args: cobra.MinimumNArgs(1),
	RunE: runReportMerge,
}

var mergeHTML string

func init() {
	registerHTMLFlag(reportMergeCmd, &mergeHTML)
	reportCmd.AddCommand(reportMergeCmd)
	rootCmd.AddCommand(reportCmd)
}

func runReportMerge(cmd *cobra.Command, args []string) error {
	u := newUI(cmd)
	var streams []report.Stream
	for _, name := range args {
		f, err := os.Open(name)
		if err != nil {
			return usageErrorf("reading the event stream: %w", err)
		}
		defer f.Close()
		streams = append(streams, report.Stream{Name: name, R: f})
	}
	m, err := report.Merge(streams)
	if err != nil {
		return usageErrorf("%w", err)
	}
	if mergeHTML != "" && m.Command != "plan" && m.Command != "apply" {
		return usageErrorf("--html: the streams are of a %s run; the HTML report is of plan and apply runs", m.Command)
	}
	for _, w := range m.Warnings {
		u.warnf("%s", w)
	}
	for _, name := range m.Incomplete {
		u.warnf("%s is incomplete: it ends without a recap (its controller stopped early); hosts it had not reached are not in the recap", name)
	}
	width := 0
	for _, h := range m.Recap.Hosts {
		width = max(width, len(h.Host))
	}
	sink, _ := u.sinks(width)
	ev := report.Event{Time: time.Now(), Kind: report.KindRecap, Recap: m.Recap, Duration: m.Recap.Duration}
	if m.Plan != nil {
		ev.Message = m.Plan.Line()
	}
	sink.Emit(ev)
	_ = sink.Close()
	if m.Plan != nil && !global.jsonOut {
		fmt.Fprintln(u.stdout, m.Plan.Line())
	}
	if mergeHTML != "" {
		// The streams are masked already; the masker adds what this
		// invocation knows (nothing, usually).
		var b bytes.Buffer
		if err := report.WriteRunHTML(&b, m.Report, u.masker); err != nil {
			return &exitCodeError{code: exitError, err: fmt.Errorf("rendering the HTML report: %w", err)}
		}
		if err := writeAtomic(mergeHTML, b.Bytes(), 0o644); err != nil {
			return &exitCodeError{code: exitError, err: fmt.Errorf("the HTML report: %w; check that its directory exists and is writable", err)}
		}
		if !global.jsonOut {
			fmt.Fprintf(u.stdout, "\nHTML report: %s\n", mergeHTML)
		}
	}
	switch {
	case m.Recap.Interrupted:
		return &exitCodeError{code: exitInterrupted}
	case !m.Recap.OK() || len(m.Incomplete) > 0:
		return &exitCodeError{code: exitError}
	}
	return nil
}
