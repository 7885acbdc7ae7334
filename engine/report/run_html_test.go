package report

import (
	"bytes"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/drover-cm/drover/internal/golden"
)

// hostile is what a compromised host prints: markup, an OSC 52 clipboard
// write, a bidi override, a lone CR.
const hostile = "<script>document.title='pwned'</script><img src=x onerror=alert(1)>\x1b]52;c;aGk=\x07 \u202eevil\rover"

func collect(events ...Event) *RunCollector {
	c := NewRunCollector()
	for _, e := range events {
		c.Emit(e)
	}
	return c
}

// planEvents and applyEvents are runs at t0 (report_test.go): the golden
// files hold fixed times, never the clock's.
func planEvents() []Event {
	return []Event{
		{Time: t0, Kind: KindRunStart, Task: "plan"},
		{Time: t0, Kind: KindPlan, Host: "web1", Detail: &HostPlan{Play: "web", Tasks: []TaskPlan{
			{Task: "directory.app", Module: "directory", Changes: []ChangeView{{Action: "create", Subject: "/srv/app", Attrs: []AttrView{{Name: "mode", New: `"0755"`}}}}},
			{Task: "template.site", Module: "template", Changes: []ChangeView{{Action: "update", Subject: "/etc/site.conf",
				Attrs: []AttrView{{Name: "owner", Old: "root", New: "app"}},
				Diff:  "--- /etc/site.conf\n+++ /etc/site.conf\n@@ -1,2 +1,2 @@\n listen 80;\n-root /var/www;\n+root /srv/app;\n"}}},
			{Task: "file.env", Module: "file", Changes: []ChangeView{{Action: "create", Subject: "/etc/app.env", Diff: "(sensitive content)", Sensitive: true}}},
			{Task: "package.nginx", Module: "package"},
			{Task: "shell.migrate", Module: "shell", Deferred: true},
			{Task: "service.cron", Module: "service", Skipped: "when is false"},
		}}},
		{Time: t0, Kind: KindHostDone, Host: "web1", Status: StatusOK},
		{Time: t0, Kind: KindPlan, Host: "web2", Detail: &HostPlan{Play: "web", Tasks: []TaskPlan{{Task: "package.nginx", Module: "package"}}}},
		{Time: t0, Kind: KindHostDone, Host: "web2", Status: StatusOK},
		{Time: t0, Kind: KindPlan, Host: "db1", Status: StatusUnreachable, ErrorKind: "refused", Message: "10.0.0.9:22: connection refused",
			Hint: "is sshd running on the host?", Detail: &HostPlan{Play: "db", Error: "10.0.0.9:22: connection refused"}},
		{Time: t0, Kind: KindHostDone, Host: "db1", Status: StatusUnreachable},
		{Time: t0.Add(1250 * time.Millisecond), Kind: KindPlanSummary, Message: "Plan: 2 to create, 1 to update, 0 to delete, 0 to run. 1 task known only after apply. 1 host could not be planned."},
	}
}

func applyEvents() []Event {
	return []Event{
		{Time: t0, Kind: KindRunStart, Task: "apply"},
		{Time: t0, Kind: KindTask, Host: "web1", Task: "package.nginx", Status: StatusOK, Duration: 3 * time.Millisecond, Detail: &TaskResult{Module: "package"}},
		{Time: t0, Kind: KindTask, Host: "web1", Task: "template.site", Status: StatusChanged, Duration: 42 * time.Millisecond, Detail: &TaskResult{Module: "template", Batch: 2,
			Changes: []ChangeView{{Action: "update", Subject: "/etc/site.conf", Diff: "--- /etc/site.conf\n+++ /etc/site.conf\n@@ -1 +1 @@\n-root /var/www;\n+root /srv/app;\n"}}}},
		{Time: t0, Kind: KindTask, Host: "web1", Task: "handler.reload", Status: StatusChanged, Duration: 120 * time.Millisecond,
			Stdout: "reloaded\n", ExitCode: Exit(0), Detail: &TaskResult{Module: "shell", Handler: true, Changes: []ChangeView{{Action: "run", Subject: "systemctl reload nginx"}}}},
		{Time: t0, Kind: KindHostDone, Host: "web1", Status: StatusChanged, Duration: 180 * time.Millisecond},
		{Time: t0, Kind: KindTask, Host: "web2", Task: "package.nginx", Status: StatusOK, Duration: 2 * time.Millisecond, Detail: &TaskResult{Module: "package"}},
		{Time: t0, Kind: KindTask, Host: "web2", Task: "shell.migrate", Status: StatusFailed, Duration: 1500 * time.Millisecond,
			Message: "exit status 3", Stdout: "migrating with token s3cret\n", Stderr: "ERROR: table users is locked\n", ExitCode: Exit(3), Detail: &TaskResult{Module: "shell"}},
		{Time: t0, Kind: KindTask, Host: "web2", Task: "service.app", Status: StatusSkipped, Message: "skipped: depends on shell.migrate, which did not complete", Detail: &TaskResult{Module: "service"}},
		{Time: t0, Kind: KindHostDone, Host: "web2", Status: StatusFailed, Duration: 1600 * time.Millisecond, Message: "stopped at shell.migrate"},
		{Time: t0, Kind: KindHostDone, Host: "db1", Status: StatusUnreachable, ErrorKind: "refused", Message: "10.0.0.9:22: connection refused\nno task ran on this host", Hint: "is sshd running on the host?"},
		{Time: t0.Add(2 * time.Second), Kind: KindRecap, Duration: 2 * time.Second, Recap: &Recap{Duration: 2 * time.Second, PerTask: true, Hosts: []HostRecap{
			{Host: "web1", Status: StatusChanged}, {Host: "web2", Status: StatusFailed}, {Host: "db1", Status: StatusUnreachable}}}},
	}
}

// withInputs adds what the command knows about the run.
func withInputs(r *RunReport) *RunReport {
	r.Operator = "alice@ops1"
	r.Playbook, r.PlaybookFiles = "sha256:3f1c", []string{"site.hcl"}
	r.Inventory, r.InventoryFiles = "sha256:9ab0", []string{"hosts.hcl"}
	return r
}

func renderRun(t *testing.T, r *RunReport, m *Masker) string {
	t.Helper()
	var b bytes.Buffer
	if err := WriteRunHTML(&b, r, m); err != nil {
		t.Fatal(err)
	}
	return b.String()
}

func TestRunHTMLGolden(t *testing.T) {
	m := NewMasker()
	m.Add("s3cret")
	for _, tc := range []struct {
		name   string
		events []Event
	}{{"plan", planEvents()}, {"apply", applyEvents()}} {
		t.Run(tc.name, func(t *testing.T) {
			out := renderRun(t, withInputs(collect(tc.events...).Report()), m)
			golden.Check(t, "testdata/html/"+tc.name+".html", out)
		})
	}
}

func TestRunHTMLFailuresFirst(t *testing.T) {
	m := NewMasker()
	m.Add("s3cret")
	out := renderRun(t, collect(applyEvents()...).Report(), m)
	if strings.Contains(out, "s3cret") {
		t.Error("secret in the report")
	}
	fail := strings.Index(out, `id="failures"`)
	first := strings.Index(out, `<section class="host`)
	if fail < 0 || first < 0 || fail > first {
		t.Fatalf("the failures section must come before the hosts (at %d, hosts at %d)", fail, first)
	}
	// Both failures: the failed task with its output, and the unreachable
	// host, which has no task to blame.
	failures := out[fail:first]
	for _, want := range []string{"shell.migrate", "ERROR: table users is locked", "token ********", `href="#host-db1"`, "connection refused", "hint: is sshd running"} {
		if !strings.Contains(failures, want) {
			t.Errorf("the failures section lacks %q:\n%s", want, failures)
		}
	}
	// Hosts worst first: the failed one, the unreachable one, then the
	// changed one.
	var order []string
	for _, m := range regexp.MustCompile(`<section class="host [^"]*" id="host-([^"]+)"`).FindAllStringSubmatch(out, -1) {
		order = append(order, m[1])
	}
	if got := strings.Join(order, " "); got != "web2 db1 web1" {
		t.Errorf("host order %q, want web2 db1 web1", got)
	}
	for _, want := range []string{`<span class="add">&#43;root /srv/app;</span>`, `<span class="del">-root /var/www;</span>`, "stdout:", "reloaded", "exit 0", "(handler)",
		"3 hosts in 2s: 0 ok, 1 changed, 1 failed, 1 unreachable"} {
		if !strings.Contains(out, want) {
			t.Errorf("the report lacks %q", want)
		}
	}
}

// Everything a host controls is escaped, in every place the report shows
// it, and secrets are masked even where HTML escaping would change them.
func TestRunHTMLHostileOutput(t *testing.T) {
	m := NewMasker()
	m.Add("p&ss<word>") // html/template would write &amp; and &lt;: masked before
	ev := []Event{
		{Time: t0, Kind: KindRunStart, Task: "apply"},
		{Kind: KindTask, Host: "web1", Task: "shell.x", Status: StatusFailed, Message: hostile, Stdout: hostile, Stderr: "p&ss<word>",
			Detail: &TaskResult{Module: "shell",
				Changes: []ChangeView{{Action: "update", Subject: hostile, Attrs: []AttrView{{Name: "a", Old: hostile, New: "p&ss<word>"}}, Diff: "+" + hostile + "\n"}}}},
		{Kind: KindHostDone, Host: "web1", Status: StatusFailed, Message: hostile, Hint: hostile},
		{Kind: KindWarning, Host: "web1", Message: hostile},
	}
	out := renderRun(t, collect(ev...).Report(), m)
	for _, bad := range []string{"<script>document", "<img", "\x1b", "\x07", "\u202e", "\r", "p&ss", "p&amp;ss", "ss&lt;word"} {
		if strings.Contains(out, bad) {
			t.Errorf("the report contains %q", bad)
		}
	}
	for _, want := range []string{"&lt;script&gt;document.title=&#39;pwned&#39;&lt;/script&gt;", `\x1b]52;c;aGk=\x07`, `\u202eevil\x0dover`, Redacted} {
		if !strings.Contains(out, want) {
			t.Errorf("the report lacks %q (escaped)", want)
		}
	}
}

// The page is self-contained and its CSP allows its own stylesheet and
// nothing else: the hash in the policy is that of the <style> element.
func TestRunHTMLSelfContainedCSP(t *testing.T) {
	out := renderRun(t, collect(applyEvents()...).Report(), nil)
	if regexp.MustCompile(`(?i)(src|href)\s*=\s*"(https?:)?//`).MatchString(out) || strings.Contains(out, "@import") || strings.Contains(out, "<script") {
		t.Error("the report refers to an external asset or holds a script")
	}
	csp := regexp.MustCompile(`<meta http-equiv="Content-Security-Policy" content="([^"]+)">`).FindStringSubmatch(out)
	if csp == nil {
		t.Fatal("no CSP meta element")
	}
	policy := strings.ReplaceAll(csp[1], "&#39;", "'")
	style := regexp.MustCompile(`(?s)<style>(.*?)</style>`).FindStringSubmatch(out)
	if style == nil {
		t.Fatal("no <style> element")
	}
	for _, want := range []string{"default-src 'none'", "style-src '" + cspHash(style[1]) + "'", "base-uri 'none'"} {
		if !strings.Contains(policy, want) {
			t.Errorf("CSP %q lacks %q", policy, want)
		}
	}
	if strings.Contains(policy, "unsafe-inline") || strings.Contains(policy, "script-src") {
		t.Errorf("CSP %q allows too much", policy)
	}
}

// Hosts are in the order the run first saw them; a host without host_done
// (the run was cut) is cancelled, not ok.
func TestRunCollectorCutHost(t *testing.T) {
	c := collect(
		Event{Time: t0, Kind: KindRunStart, Task: "apply"},
		Event{Kind: KindTask, Host: "b", Task: "file.x", Status: StatusChanged, Detail: &TaskResult{Module: "file"}},
		Event{Kind: KindHostDone, Host: "a", Status: StatusOK},
	)
	rep := c.Report()
	if len(rep.Hosts) != 2 || rep.Hosts[0].Host != "b" || rep.Command != "apply" || !rep.Started.Equal(t0) {
		t.Fatalf("report %+v", rep)
	}
	out := renderRun(t, rep, nil)
	if !strings.Contains(out, `<section class="host w-cancelled" id="host-b">`) {
		t.Error("a host that never finished is not shown cancelled")
	}
	// Report returns a copy: later events do not change it.
	c.Emit(Event{Kind: KindTask, Host: "b", Task: "file.y", Status: StatusOK})
	if len(rep.Hosts[0].Tasks) != 1 {
		t.Error("Report shares its tasks with the collector")
	}
}
