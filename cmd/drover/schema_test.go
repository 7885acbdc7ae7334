package main

import (
	"os"
	"reflect"
	"regexp"
	"slices"
	"strings"
	"testing"

	"github.com/drover-cm/drover/engine/report"
)

// docTable returns the first-column names of the Markdown table in doc
// whose header's first cell is header: each backquoted name in the cell
// (`stdout`, `stderr` gives both).
func docTable(t *testing.T, doc, header string) []string {
	t.Helper()
	return docTables(t, doc, header)[0]
}

// docTables is docTable for every table with that header, in order.
func docTables(t *testing.T, doc, header string) [][]string {
	t.Helper()
	var tables [][]string
	var names []string
	in := false
	name := regexp.MustCompile("`([a-z_]+)`")
	for _, line := range strings.Split(doc+"\n", "\n") {
		cells := strings.Split(line, "|")
		switch {
		case len(cells) > 2 && strings.TrimSpace(cells[1]) == header:
			in, names = true, nil
		case in && strings.HasPrefix(line, "|---"):
		case in && strings.HasPrefix(line, "|"):
			for _, m := range name.FindAllStringSubmatch(cells[1], -1) {
				names = append(names, m[1])
			}
		case in:
			if names == nil {
				t.Fatalf("table %q in docs/cli.md is empty", header)
			}
			tables, in = append(tables, names), false
		}
	}
	if tables == nil {
		t.Fatalf("no table %q in docs/cli.md", header)
	}
	return tables
}

func jsonNames(v any) []string {
	t := reflect.TypeOf(v)
	var out []string
	for i := range t.NumField() {
		name, _, _ := strings.Cut(t.Field(i).Tag.Get("json"), ",")
		out = append(out, name)
	}
	return out
}

// TestJSONSchemaDocumented: every kind of event drover emits, every member
// of a JSON event, and the detail members of task and plan_summary events
// are listed in docs/cli.md, and the tables there list nothing else.
func TestJSONSchemaDocumented(t *testing.T) {
	b, err := os.ReadFile("../../docs/cli.md")
	if err != nil {
		t.Fatal(err)
	}
	doc := string(b)
	var kinds []string
	for _, k := range report.Kinds() {
		kinds = append(kinds, string(k))
	}
	for _, c := range []struct {
		table string
		code  []string
	}{
		{"kind", kinds},
		{"member", report.JSONMembers()},
		{"detail member", slices.Concat(jsonNames(report.TaskResult{}), jsonNames(report.PlanSummary{}),
			jsonNames(report.RunInfo{}), jsonNames(report.HostPhase{}))},
	} {
		documented := docTable(t, doc, c.table)
		if c.table == "detail member" {
			// The tables of task, run_start, host_phase and plan_summary.
			documented = slices.Concat(docTables(t, doc, c.table)...)
		}
		for _, n := range c.code {
			if !slices.Contains(documented, n) {
				t.Errorf("%s %q is emitted but not in docs/cli.md's %q table", c.table, n, c.table)
			}
		}
		for _, n := range documented {
			if !slices.Contains(c.code, n) {
				t.Errorf("docs/cli.md's %q table lists %q, which drover does not emit", c.table, n)
			}
		}
	}
}
