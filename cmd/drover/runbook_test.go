package main

import (
	"encoding/json"
	"fmt"
	"net"
	"os"
	"path/filepath"
	"strings"
	"sync/atomic"
	"testing"
	"time"
)

// A runbook with a task that can change state is refused before drover
// connects to anything: the host's port never sees a connection.
func TestRunRefusesMutatingRunbookBeforeConnecting(t *testing.T) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	var accepted atomic.Int32
	go func() {
		for {
			c, err := l.Accept()
			if err != nil {
				return
			}
			accepted.Add(1)
			c.Close()
		}
	}()
	dir := t.TempDir()
	inv := filepath.Join(dir, "inv.hcl")
	os.WriteFile(inv, []byte(fmt.Sprintf("host \"web1\" {\n  address = \"127.0.0.1\"\n  port = %d\n}\n", l.Addr().(*net.TCPAddr).Port)), 0o644)
	rb := filepath.Join(dir, "rb.hcl")
	os.WriteFile(rb, []byte(`runbook "bad" {
  probe "uptime" { command = "uptime" }
  shell "fix" { run = "systemctl restart nginx" }
}
`), 0o644)
	res := drover(t, "", "run", "-i", inv, rb, "all")
	time.Sleep(100 * time.Millisecond)
	if res.code != exitError || !strings.Contains(res.stderr, "A runbook cannot change a host") || !strings.Contains(res.stderr, `Module "shell" can change state`) {
		t.Errorf("exit %d, stderr:\n%s", res.code, res.stderr)
	}
	if n := accepted.Load(); n != 0 {
		t.Errorf("drover connected %d time(s) before refusing the runbook", n)
	}
}

// drover run on this machine (connection local): text, JSON and HTML.
func TestRunLocalReports(t *testing.T) {
	dir := t.TempDir()
	inv := filepath.Join(dir, "inv.hcl")
	os.WriteFile(inv, []byte("host \"here\" {\n  connection = \"local\"\n}\n"), 0o644)
	rb := filepath.Join(dir, "rb.hcl")
	os.WriteFile(rb, []byte(`variable "limit" { default = 1 }
runbook "look" {
  probe "numbers" {
    command = "printf 'a 5\nb 0\n'"
    format  = "table"
    header  = false
    columns = ["name", "n"]
  }
  probe "missing" { command = "no-such-tool-here --all" }
  check "too_big" {
    for_each = { for r in probe.numbers.rows : r.name => r }
    crit     = num(each.value.n) > var.limit
    message  = "${each.key} is ${each.value.n}"
  }
}
`), 0o644)
	res := drover(t, "", "run", "-i", inv, rb, "here")
	if res.code != 0 || !strings.Contains(res.stdout, "CRIT  a is 5") || !strings.Contains(res.stdout, "not available: missing") {
		t.Errorf("text: exit %d\n%s\n%s", res.code, res.stdout, res.stderr)
	}
	res = drover(t, "", "run", "-i", inv, rb, "here", "--fail-on", "crit")
	if res.code != exitChanges {
		t.Errorf("--fail-on crit with a crit finding: exit %d, want %d", res.code, exitChanges)
	}
	html := filepath.Join(dir, "r.html")
	res = drover(t, "", "run", "--json", "-i", inv, rb, "here", "--html", html)
	var rep struct {
		Hosts []struct {
			Findings []struct{ Severity, Message string }
		}
	}
	if err := json.Unmarshal([]byte(res.stdout), &rep); err != nil || len(rep.Hosts) != 1 || len(rep.Hosts[0].Findings) != 1 || rep.Hosts[0].Findings[0].Severity != "crit" {
		t.Errorf("json: %v\n%s", err, res.stdout)
	}
	page, err := os.ReadFile(html)
	if err != nil || !strings.Contains(string(page), "a is 5") {
		t.Errorf("html report: %v", err)
	}
}
