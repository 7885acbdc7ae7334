package main

import (
	"bytes"
	"encoding/json"
	"fmt"
	"maps"
	"os"
	"slices"
	"strings"
	"time"

	"github.com/spf13/cobra"

	"github.com/drover-cm/drover/engine/planfile"
	"github.com/drover-cm/drover/engine/report"
)

var showCmd = &cobra.Command{
	Use:   "show PLANFILE",
	Short: "Print a saved plan as drover plan printed it, with what it was made from",
	Long: `Print a plan saved by drover plan -out FILE: who made it and when, the
command line, the variables (sensitive ones by name and source only), the
files it was made from, and per host the changes drover apply FILE would
make, as plan printed them. Nothing is contacted. --json prints the plan's
events as plan --json does.`,
	Example: `  drover plan -i hosts.hcl site.hcl -out site.plan
  drover show site.plan`,
	Args: cobra.ExactArgs(1),
	RunE: runShow,
}

func init() {
	rootCmd.AddCommand(showCmd)
}

func runShow(cmd *cobra.Command, args []string) error {
	path := args[0]
	data, err := os.ReadFile(path)
	if err != nil {
		return fmt.Errorf("reading the plan: %w", err)
	}
	p, err := planfile.Decode(path, data, versionString())
	if err != nil {
		return &exitCodeError{code: exitError, err: err}
	}
	u := newUI(cmd)
	width := 0
	for _, h := range p.Hosts {
		width = max(width, len(h.Name))
	}
	if !global.jsonOut {
		writePlanHeader(u, path, p)
	}
	sink, _ := u.sinks(width)
	em := report.NewEmitter(sink)
	for _, h := range p.Hosts {
		for _, pl := range h.Plays {
			hp := &report.HostPlan{Play: pl.Name}
			for _, t := range pl.Tasks {
				hp.Tasks = append(hp.Tasks, report.TaskPlan{Task: t.Addr, Module: t.Module, Changes: t.Changes, Deferred: t.Deferred, Skipped: t.Skipped})
			}
			em.Emit(report.Event{Time: p.Created, Kind: report.KindPlan, Host: h.Name, Detail: hp})
		}
	}
	em.Emit(report.Event{Time: p.Created, Kind: report.KindPlanSummary, Detail: &p.Summary, Message: p.Summary.Line()})
	_ = sink.Close()
	if !global.jsonOut {
		fmt.Fprintln(u.stdout, "\n"+p.Summary.Line())
	}
	return nil
}

// inputValue is the value of a variable's cty JSON ({"value": …, "type":
// …}), compact.
func inputValue(js json.RawMessage) string {
	var v struct{ Value json.RawMessage }
	var b bytes.Buffer
	if json.Unmarshal(js, &v) != nil || json.Compact(&b, v.Value) != nil {
		return string(js)
	}
	return b.String()
}

// writePlanHeader says what a plan was made from, for a reviewer.
func writePlanHeader(u *ui, path string, p *planfile.Plan) {
	w := u.stdout
	fmt.Fprintf(w, "Plan %s, made %s by drover %s", path, p.Created.Format(time.RFC3339), p.Drover)
	if p.Drover != versionString() {
		fmt.Fprintf(w, " (this is drover %s: apply would refuse it)", versionString())
	}
	fmt.Fprintln(w)
	if a := p.Applied; a != nil {
		fmt.Fprintf(w, "Applied %s by %s: apply would refuse it again.\n", a.At.Format(time.RFC3339), a.By)
	}
	c := p.Command
	line := "drover plan -i " + strings.Join(c.Inventories, " -i ") + " " + strings.Join(c.Playbooks, " ")
	if c.Limit != "" {
		line += " --limit " + c.Limit
	}
	for _, f := range c.VarFiles {
		line += " --var-file " + f
	}
	for _, f := range c.AllowLocal {
		line += " --allow-local " + f
	}
	for _, k := range slices.Sorted(maps.Keys(c.Overrides)) {
		line += " --" + k + "=" + c.Overrides[k]
	}
	fmt.Fprintln(w, "Command: "+report.Clean(u.masker, line))
	for _, in := range p.Inputs {
		if in.Sensitive {
			fmt.Fprintf(w, "Variable %s: (sensitive; read again at apply from %s)\n", in.Name, in.Source)
		} else {
			fmt.Fprintf(w, "Variable %s = %s (from %s)\n", in.Name, report.Clean(u.masker, inputValue(in.Value)), in.Source)
		}
	}
	fmt.Fprintf(w, "Made from %d local files (their digests are checked at apply):\n", len(p.Files))
	for _, f := range p.Files {
		what := f.Path
		if f.Digest == "absent" {
			what += " (absent)"
		}
		fmt.Fprintf(w, "  %-9s %s\n", f.Role, what)
	}
	fmt.Fprintln(w)
}
