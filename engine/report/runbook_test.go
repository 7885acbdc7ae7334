package report

import (
	"bytes"
	"encoding/json"
	"regexp"
	"strings"
	"testing"
	"time"
)

func sampleRunbook() *RunbookReport {
	return &RunbookReport{
		Runbook: "first-five-minutes", Description: "A first look", Started: time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC),
		Duration: 1500 * time.Millisecond,
		Checks:   []string{"disk_full", "load", "ports"},
		Hosts: []RunbookHost{
			{Host: "web1", Status: StatusOK, Findings: []Finding{{Check: "load", Severity: SevWarn, Message: "load 3 above 2 CPUs"}},
				Probes: []ProbeOutput{{Name: "uptime", Command: "uptime", Status: "ok", Stdout: "up 1 day"}}},
			{Host: "web2", Status: StatusOK},
			{Host: "db1", Status: StatusOK, Findings: []Finding{
				{Check: "ports", Key: "31337", Severity: SevWarn, Message: "port 31337 <nc> is not allowed"},
				{Check: "disk_full", Key: "/data", Severity: SevCrit, Message: "/data is 100% full, token s3cret"},
			}, Probes: []ProbeOutput{
				{Name: "df", Command: "df -P", Status: "ok", Stdout: "/dev/x 100% /data\n"},
				{Name: "iostat", Command: "iostat -x", Status: "not available", Missing: []string{"iostat"}},
				{Name: "hang", Command: "sleep 100", Status: "timeout", ExitCode: 124},
			}},
			{Host: "web3", Status: StatusUnreachable, Error: "connection refused"},
		},
	}
}

func TestRunbookSortRanksWorstFirst(t *testing.T) {
	r := sampleRunbook()
	r.Sort()
	var hosts []string
	for _, h := range r.Hosts {
		hosts = append(hosts, h.Host)
	}
	// Unreachable counts as crit (it needs a look), then by number of crits.
	if got := strings.Join(hosts, " "); got != "db1 web3 web1 web2" {
		t.Errorf("host order %q", got)
	}
	if f := r.Hosts[0].Findings[0]; f.Check != "disk_full" || f.Severity != SevCrit {
		t.Errorf("first finding of db1 is %+v, want the crit one", f)
	}
}

func TestRunbookText(t *testing.T) {
	r := sampleRunbook()
	r.Sort()
	m := NewMasker()
	m.Add("s3cret")
	var b bytes.Buffer
	if err := WriteRunbookText(&b, r, RunbookTextOptions{Masker: m}); err != nil {
		t.Fatal(err)
	}
	out := b.String()
	for _, want := range []string{
		"host  verdict      disk_full  load    ports",
		"db1   crit         crit       ·       warn",
		"web3  unreachable  ?          ?       ?",
		"== db1 [1 crit, 1 warn]",
		"  CRIT  /data is 100% full, token ********  (check.disk_full[\"/data\"])",
		"not available: iostat",
		"Hosts: 2 crit, 1 warn, 1 ok.",
	} {
		if !strings.Contains(out, want) {
			t.Errorf("missing %q in:\n%s", want, out)
		}
	}
	if strings.Contains(out, "▸ df") {
		t.Errorf("a fleet report shows probe output only with Full:\n%s", out)
	}
	// One host: probes are shown.
	one := &RunbookReport{Runbook: "x", Checks: r.Checks, Hosts: r.Hosts[:1]}
	b.Reset()
	WriteRunbookText(&b, one, RunbookTextOptions{Masker: m})
	if !strings.Contains(b.String(), "▸ hang $ sleep 100 [timeout (exit 124)]") {
		t.Errorf("single-host report without folded probes:\n%s", b.String())
	}
}

func TestRunbookHTMLSelfContained(t *testing.T) {
	r := sampleRunbook()
	r.Sort()
	m := NewMasker()
	m.Add("s3cret")
	var b bytes.Buffer
	if err := WriteRunbookHTML(&b, r, m); err != nil {
		t.Fatal(err)
	}
	out := b.String()
	if strings.Contains(out, "s3cret") {
		t.Error("secret in the HTML report")
	}
	if regexp.MustCompile(`(?i)(src|href)\s*=\s*"(https?:)?//`).MatchString(out) || strings.Contains(out, "@import") {
		t.Error("the HTML report refers to an external asset")
	}
	for _, want := range []string{"<th>disk_full</th>", `id="host-db1"`, "port 31337 &lt;nc&gt; is not allowed", "<details open>", "not available: no iostat"} {
		if !strings.Contains(out, want) {
			t.Errorf("missing %q in the HTML", want)
		}
	}
	if strings.Index(out, `id="host-db1"`) > strings.Index(out, `id="host-web1"`) {
		t.Error("db1 (crit) must come before web1")
	}
}

func TestRunbookJSON(t *testing.T) {
	r := sampleRunbook()
	var b bytes.Buffer
	if err := WriteRunbookJSON(&b, r, NewMasker()); err != nil {
		t.Fatal(err)
	}
	var back RunbookReport
	if err := json.Unmarshal(b.Bytes(), &back); err != nil {
		t.Fatal(err)
	}
	if back.Hosts[2].Findings[1].Severity != SevCrit || !strings.Contains(b.String(), `"severity": "crit"`) {
		t.Errorf("severity not round-tripped by name:\n%s", b.String())
	}
}
