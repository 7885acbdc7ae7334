package main

import (
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/drover-cm/drover/integration"
)

// hostileOutput is what a compromised host prints to take over the
// operator's terminal: an OSC 52 clipboard write, a screen clear, a title
// change, and a bidi override. printf(1) turns the escapes into bytes.
const hostileOutput = `\033]52;c;cm0gLXJmIH4K\007\033[2J\033]0;pwned\007\342\200\256`

// hostileShown is how drover shows it.
const hostileShown = `\x1b]52;c;cm0gLXJmIH4K\x07\x1b[2J\x1b]0;pwned\x07\u202e`

// assertNoRawControls fails when text meant for a terminal holds a raw ESC,
// BEL or bidi override (colour is off: NO_COLOR), or lacks the escaped form.
func assertNoRawControls(t *testing.T, what string, r result, shownAtLeast int) {
	t.Helper()
	all := r.stdout + r.stderr
	if strings.ContainsAny(all, "\x1b\x07\u202e") {
		t.Errorf("%s: a raw control character reached the terminal:\n%q", what, all)
	}
	if n := strings.Count(all, hostileShown); n < shownAtLeast {
		t.Errorf("%s: the escaped sequence is shown %d times, want %d:\n%s", what, n, shownAtLeast, all)
	}
}

// TestCLIFleetEscapesHostOutput: what a fleet host prints (command output,
// the old content in a diff, facts, a probe's output, a failed task's
// output) reaches the terminal with its control characters escaped, and
// the JSON output keeps the bytes.
func TestCLIFleetEscapesHostOutput(t *testing.T) {
	f := integration.Start(t, 1)
	h := f.Hosts[0]
	inv := fleetInventory(t, f)
	kh := []string{"--known-hosts", f.KnownHostsFile, "--connect-timeout", "5s"}
	emit := "printf '" + hostileOutput + "'"
	h.Exec(t, "printf 'old "+hostileOutput+"\\n' >/root/motd\n"+
		"rm -f /etc/os-release && printf 'ID=debian\\nVERSION_ID=\"12"+hostileOutput+"\"\\n' >/etc/os-release")

	r := drover(t, "", append(append([]string{"exec", "-i", inv, h.Name}, kh...), "--", emit+"; "+emit+" >&2; exit 3")...)
	if r.code != 1 {
		t.Errorf("exec: exit %d, want 1\n%s\n%s", r.code, r.stdout, r.stderr)
	}
	assertNoRawControls(t, "exec", r, 2)

	r = drover(t, "", append(append([]string{"exec", "--json", "-i", inv, h.Name}, kh...), "--", emit)...)
	var raw bool
	for _, e := range parseEvents(t, r.stdout) {
		if e["kind"] == "command" {
			out, _ := e["stdout"].(string)
			raw = strings.Contains(out, "\x1b]52;c;cm0gLXJmIH4K\a\x1b[2J")
		}
	}
	if !raw {
		t.Errorf("exec --json: the command event does not keep the raw bytes:\n%s", r.stdout)
	}

	r = drover(t, "", append([]string{"facts", "-i", inv, h.Name}, kh...)...)
	if r.code != 0 {
		t.Errorf("facts: exit %d\n%s\n%s", r.code, r.stdout, r.stderr)
	}
	assertNoRawControls(t, "facts", r, 1)

	dir := t.TempDir()
	pb := writeFile(t, dir, "site.hcl", `play "p" {
  hosts = "all"
  file "motd" {
    path    = "/root/motd"
    content = "new\n"
  }
  shell "fails" {
    run = "`+strings.ReplaceAll(emit, `\`, `\\`)+`; exit 1"
  }
}
`)
	r = drover(t, "", append([]string{"plan", "-i", inv, pb, "--limit", h.Name}, kh...)...)
	assertNoRawControls(t, "plan (the diff shows the old content)", r, 1)
	r = drover(t, "", append([]string{"apply", "-i", inv, pb, "--limit", h.Name}, kh...)...)
	if r.code != 1 {
		t.Errorf("apply: exit %d, want 1 (the shell task fails)\n%s\n%s", r.code, r.stdout, r.stderr)
	}
	assertNoRawControls(t, "apply (the diff, the failed task's output)", r, 2)

	rb := writeFile(t, dir, "rb.hcl", `runbook "look" {
  probe "motd" { command = "cat /root/motd.old 2>/dev/null || `+strings.ReplaceAll(emit, `\`, `\\`)+`" }
  check "said" {
    warn    = probe.motd.stdout != ""
    message = "motd says ${probe.motd.stdout}"
  }
}
`)
	html := filepath.Join(dir, "report.html")
	r = drover(t, "", append([]string{"run", "-i", inv, rb, h.Name, "--full", "--html", html}, kh...)...)
	assertNoRawControls(t, "run", r, 2)
	page, err := os.ReadFile(html)
	if err != nil {
		t.Fatal(err)
	}
	assertNoRawControls(t, "the HTML report", result{stdout: string(page)}, 2)
	r = drover(t, "", append([]string{"run", "--json", "-i", inv, rb, h.Name}, kh...)...)
	var rep struct {
		Hosts []struct{ Probes []struct{ Stdout string } }
	}
	if err := json.Unmarshal([]byte(r.stdout), &rep); err != nil || len(rep.Hosts) != 1 || !strings.Contains(rep.Hosts[0].Probes[0].Stdout, "\x1b]52;") {
		t.Errorf("run --json: %v, the probe's output is not raw:\n%s", err, r.stdout)
	}
}
