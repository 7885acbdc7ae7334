package main

import (
	"os"
	"strings"
	"testing"
	"time"

	"github.com/drover-cm/drover/internal/golden"
)

// TestMarkdownTable: the results table docs/speed.md shows, with every kind
// of cell: measured runs, a failed one, a tool not installed, one skipped
// above its size, spot's "again" run and the ratio to drover's wall time.
func TestMarkdownTable(t *testing.T) {
	ms := time.Millisecond
	res := func(run string, wall, ctl, host time.Duration, rss int64, trips, procs float64, changed int) *result {
		return &result{run: run, wall: wall, ctlCPU: ctl, hostCPU: host, peakRSS: rss, trips: trips, procs: procs, changed: changed}
	}
	failed := res("", 61*time.Second, 900*ms, 70*time.Second, 210e6, 4, 229.5, 12)
	failed.failures = "exit status 1"
	rows := []row{
		{hosts: 1, run: "first", tools: map[string]cell{
			"drover":  {r: res("", 1240*ms, 50*ms, 340*ms, 21e6, 4, 230, 30)},
			"spot":    {r: res("", 660*ms, 50*ms, 230*ms, 21e6, -1, 81, -1)},
			"Ansible": {r: res("", 20200*ms, 6850*ms, 14300*ms, 60e6, -1, 900, 30)},
		}},
		{hosts: 1, run: "no change", tools: map[string]cell{
			"drover":  {r: res("", 150*ms, 10*ms, 90*ms, 19e6, 1, 34, 0)},
			"spot":    {r: res("again", 520*ms, 50*ms, 190*ms, 21e6, -1, 58, -1)},
			"Ansible": {r: res("", 19200*ms, 6130*ms, 14800*ms, 60e6, -1, 880, 0)},
		}},
		{hosts: 1000, run: "first", tools: map[string]cell{
			"drover":  {r: failed},
			"spot":    {reason: "not installed"},
			"Ansible": {reason: "skipped above 10 hosts (-ansible-max)"},
		}},
	}
	golden.Check(t, "testdata/table.golden", markdownTable(rows))
}

func TestReplaceResults(t *testing.T) {
	doc := "# Speed\n\nprose before\n\n" + docBegin + "\nold table\n" + docEnd + "\n\nprose after\n"
	got, err := replaceResults(doc, "\nnew table\n")
	if err != nil {
		t.Fatal(err)
	}
	want := "# Speed\n\nprose before\n\n" + docBegin + "\n\nnew table\n" + docEnd + "\n\nprose after\n"
	if got != want {
		t.Errorf("replaceResults:\n%s\nwant:\n%s", got, want)
	}
	// Running it again on its own output changes nothing but the table.
	if again, err := replaceResults(got, "\nnew table\n"); err != nil || again != got {
		t.Errorf("second replaceResults = %q, %v; want it unchanged", again, err)
	}
	for _, bad := range []string{"no markers", docEnd + "\n" + docBegin} {
		if _, err := replaceResults(bad, "x"); err == nil || !strings.Contains(err.Error(), "markers") {
			t.Errorf("replaceResults(%q) = %v, want an error about the markers", bad, err)
		}
	}
}

// TestSpeedDocMarkers: docs/speed.md has the markers make bench writes
// between, once each.
func TestSpeedDocMarkers(t *testing.T) {
	b, err := os.ReadFile("../../docs/speed.md")
	if err != nil {
		t.Fatal(err)
	}
	doc := string(b)
	if strings.Count(doc, docBegin) != 1 || strings.Count(doc, docEnd) != 1 {
		t.Fatalf("docs/speed.md needs the lines %q and %q once each", docBegin, docEnd)
	}
	if _, err := replaceResults(doc, "x"); err != nil {
		t.Fatal(err)
	}
}
