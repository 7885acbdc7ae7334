package main

import (
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	"github.com/drover-cm/drover/integration"
	"github.com/drover-cm/drover/internal/golden"
)

// An apply on the fleet with one change, one failure whose output is
// hostile markup, and an unreachable host: --html writes the page beside
// --json, and a real browser shows the failures first, the diff, and runs
// nothing the host printed.
func TestCLIFleetApplyHTML(t *testing.T) {
	f := integration.Start(t, 2)
	inv := fleetInventory(t, f) // the fleet's hosts and "dead"
	bad, good := f.Hosts[0].Name, f.Hosts[1].Name
	dir := t.TempDir()
	// The failing host prints a script, an image with an onerror handler
	// and a terminal escape; the page must show them as text.
	pb := writeFile(t, dir, "site.hcl", fmt.Sprintf(`
play "report" {
  hosts = "fleet"
  file "motd" {
    path    = "/etc/drover-html-motd"
    content = "hello from ${host.name}\n"
  }
  shell "check" {
    run = <<-EOT
      if [ -n "$FAIL" ]; then
        printf '%%s\n' '<script>document.title="pwned"</script>' '<img src=x onerror="document.title=1">' 'table is locked'
        printf 'osc \033]52;c;aGk=\007 end\n' >&2
        exit 3
      fi
    EOT
    env        = { FAIL = host.name == %q ? "1" : "" }
    depends_on = [file.motd]
  }
}
`, bad))
	page := filepath.Join(dir, "out", "apply.html")
	if err := os.Mkdir(filepath.Dir(page), 0o755); err != nil {
		t.Fatal(err)
	}
	r := drover(t, "", "apply", "-i", inv, pb, "--known-hosts", f.KnownHostsFile, "--connect-timeout", "5s", "--json", "--html", page)
	if r.code != 1 {
		t.Fatalf("apply: exit %d, want 1\n%s\n%s", r.code, r.stdout, r.stderr)
	}
	// --json still owns stdout: every line is an event.
	if evs := parseEvents(t, r.stdout); len(evs) == 0 || evs[len(evs)-1]["kind"] != "recap" {
		t.Errorf("stdout is not the JSON events:\n%s", r.stdout)
	}
	entries, _ := os.ReadDir(filepath.Dir(page))
	if len(entries) != 1 {
		t.Errorf("the report's directory holds %d entries, want only the page (no temporary file left)", len(entries))
	}
	raw, err := os.ReadFile(page)
	if err != nil {
		t.Fatal(err)
	}
	if strings.Contains(string(raw), "\x1b") {
		t.Error("a raw escape character in the page")
	}

	bin := integration.Chromium(t)
	dom := string(integration.Headless(t, bin, "--dump-dom", "file://"+page))
	fail := strings.Index(dom, `id="failures"`)
	first := strings.Index(dom, `<section class="host`)
	if fail < 0 || first < 0 || fail > first {
		t.Fatalf("the failures section does not come first (at %d, first host at %d):\n%s", fail, first, dom)
	}
	failures := dom[fail:]
	failures = failures[:strings.Index(failures, "</section>")]
	for _, want := range []string{`href="#host-` + bad + `"`, "shell.check", "table is locked", `href="#host-dead"`, "refused"} {
		if !strings.Contains(failures, want) {
			t.Errorf("the failures section lacks %q:\n%s", want, failures)
		}
	}
	if strings.Contains(failures, `href="#host-`+good+`"`) {
		t.Errorf("%s did not fail but is in the failures section:\n%s", good, failures)
	}
	// The change's diff, visible on the host that changed.
	goodAt := strings.Index(dom, `id="host-`+good+`"`)
	if goodAt < 0 || !strings.Contains(dom[goodAt:], `<span class="add">+hello from `+good+`</span>`) {
		t.Errorf("no diff of /etc/drover-html-motd in %s's section", good)
	}
	// Nothing the host printed ran or became an element: the title is the
	// page's, and the markup is text.
	if m := regexp.MustCompile(`<title>([^<]*)</title>`).FindStringSubmatch(dom); m == nil || !strings.HasPrefix(m[1], "drover apply") {
		t.Errorf("the page's title is %q: a script ran", m)
	}
	for _, bad := range []string{"<script", "<img"} {
		if strings.Contains(dom, bad) {
			t.Errorf("the rendered page has a %s element", bad)
		}
	}
	if !strings.Contains(dom, "&lt;script&gt;document.title=\"pwned\"&lt;/script&gt;") || !strings.Contains(dom, `osc \x1b]52;c;aGk=\x07 end`) {
		t.Error("the hostile output is not shown as escaped text")
	}
	if golden.Update() {
		shot := filepath.Join(dir, "apply.png")
		integration.Headless(t, bin, "--screenshot="+shot, "--window-size=1280,1200", "--hide-scrollbars", "file://"+page)
		png, err := os.ReadFile(shot)
		if err != nil {
			t.Fatal(err)
		}
		if err := golden.Write(filepath.Join("..", "..", "docs", "img", "apply-report.png"), png); err != nil {
			t.Fatal(err)
		}
	}
}

// plan --html on this machine: the page is the plan's (to change, the
// diff), "HTML report:" is said on stdout, and a directory that does not
// exist is an error that says so.
func TestCLIPlanHTMLLocal(t *testing.T) {
	dir := t.TempDir()
	inv := writeFile(t, dir, "inv.hcl", "host \"l1\" {\n  connection = \"local\"\n}\n")
	target := filepath.Join(dir, "motd")
	pb := writeFile(t, dir, "site.hcl", fmt.Sprintf("play \"p\" {\n  hosts = \"all\"\n  file \"motd\" {\n    path    = %q\n    content = \"hi\\n\"\n  }\n}\n", target))
	page := filepath.Join(dir, "plan.html")
	r := drover(t, "", "plan", "-i", inv, pb, "--html", page)
	if r.code != 0 || !strings.Contains(r.stdout, "\nHTML report: "+page+"\n") {
		t.Fatalf("plan: exit %d\n%s\n%s", r.code, r.stdout, r.stderr)
	}
	raw, err := os.ReadFile(page)
	if err != nil {
		t.Fatal(err)
	}
	out := string(raw)
	for _, want := range []string{"<title>drover plan — Plan: 1 to create", `<span class="sev st-changed">to change</span> <span class="mono">file.motd</span>`,
		`<span class="add">&#43;hi</span>`, "sha256:", "No failures."} {
		if !strings.Contains(out, want) {
			t.Errorf("the plan's page lacks %q", want)
		}
	}
	if _, err := os.Stat(target); err == nil {
		t.Error("plan changed the host")
	}
	r = drover(t, "", "plan", "-i", inv, pb, "--html", filepath.Join(dir, "nope", "plan.html"))
	if r.code != 1 || !strings.Contains(r.stderr, "the HTML report: writing") || !strings.Contains(r.stderr, "check that its directory exists") {
		t.Errorf("plan --html into a missing directory: exit %d\n%s", r.code, r.stderr)
	}
}
