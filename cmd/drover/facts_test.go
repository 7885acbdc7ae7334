package main

import (
	"bytes"
	"encoding/json"
	"strings"
	"testing"

	"github.com/drover-cm/drover/engine/facts"
	"github.com/drover-cm/drover/integration"
)

func TestWriteFactsTable(t *testing.T) {
	var b bytes.Buffer
	writeFactsTable(&b, []factsRow{
		{"web1", &facts.Facts{OSID: "debian", OSVersion: "12", OSFamily: "debian", Kernel: "6.1.0-26-amd64", Arch: "x86_64",
			CPUs: 4, MemoryMB: 7940, InitSystem: "systemd", PackageManager: "apt", Addresses: []string{"10.0.0.5", "fd00::5"}}},
		{"tiny", &facts.Facts{OSID: "alpine", MemoryMB: 490, InitSystem: "openrc"}},
	}, nil)
	want := `HOST  OS      VERSION  FAMILY  KERNEL          ARCH    CPUS  MEMORY   INIT     PACKAGES  ADDRESS
web1  debian  12       debian  6.1.0-26-amd64  x86_64  4     7.8 GiB  systemd  apt       10.0.0.5 (+1)
tiny  alpine  -        -       -               -       -     490 MiB  openrc   -         -
`
	if b.String() != want {
		t.Errorf("table:\n%s\nwant:\n%s", b.String(), want)
	}
}

// TestFactsCommandLocal runs `drover facts` on this machine through the
// local connection, as a table and as JSON events.
func TestFactsCommandLocal(t *testing.T) {
	dir := t.TempDir()
	inv := writeFile(t, dir, "hosts.hcl", localInventory)
	r := drover(t, "", "facts", "-i", inv, "odd")
	if r.code != 0 || !strings.HasPrefix(r.stdout, "HOST ") || !strings.Contains(r.stdout, "\nl2 ") || !strings.Contains(r.stdout, "\nl3 ") {
		t.Fatalf("drover facts: exit %d\nstdout:\n%s\nstderr:\n%s", r.code, r.stdout, r.stderr)
	}
	r = drover(t, "", "facts", "-i", inv, "l1", "--json")
	if r.code != 0 {
		t.Fatalf("drover facts --json: exit %d: %s", r.code, r.stderr)
	}
	var found bool
	for _, line := range strings.Split(strings.TrimSpace(r.stdout), "\n") {
		var ev struct {
			Kind   string       `json:"kind"`
			Host   string       `json:"host"`
			Detail *facts.Facts `json:"detail"`
		}
		if err := json.Unmarshal([]byte(line), &ev); err != nil {
			t.Fatalf("not JSON: %q: %v", line, err)
		}
		if ev.Kind == "facts" {
			found = true
			if ev.Host != "l1" || ev.Detail == nil || ev.Detail.Kernel == "" || ev.Detail.PackageManager == "" {
				t.Errorf("facts event: %+v", ev)
			}
		}
	}
	if !found {
		t.Errorf("no facts event in:\n%s", r.stdout)
	}
}

// TestFactsCommandFleet gathers facts from real sshd hosts and one dead
// host: the table lists the live ones, the dead one fails the run.
func TestFactsCommandFleet(t *testing.T) {
	f := integration.Start(t, 3)
	inv := fleetInventory(t, f)
	r := drover(t, "", "facts", "-i", inv, "--known-hosts", f.KnownHostsFile, "--connect-timeout", "5s")
	if r.code != 1 {
		t.Fatalf("exit %d, want 1 (one host is dead)\nstdout:\n%s\nstderr:\n%s", r.code, r.stdout, r.stderr)
	}
	for _, h := range f.Hosts {
		if !strings.Contains(r.stdout, "\n"+h.Name+" ") {
			t.Errorf("no row for %s:\n%s", h.Name, r.stdout)
		}
	}
	if !strings.Contains(r.stdout, "3 ok, 1 unreachable") || strings.Contains(r.stdout, "\ndead ") {
		t.Errorf("recap or rows wrong:\n%s", r.stdout)
	}
}
