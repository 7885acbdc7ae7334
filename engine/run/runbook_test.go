package run

import (
	"bytes"
	"context"
	"strings"
	"testing"
	"time"

	"github.com/hashicorp/hcl/v2"
	"github.com/hashicorp/hcl/v2/hclparse"
	"github.com/zclconf/go-cty/cty"

	"github.com/drover-cm/drover/engine/config"
	"github.com/drover-cm/drover/engine/report"
	"github.com/drover-cm/drover/engine/transport"
	"github.com/drover-cm/drover/inventory"
	"github.com/drover-cm/drover/modules"
	"github.com/drover-cm/drover/modules/contract"
)

const testRunbook = `
variable "allowed_ports" { default = ["22"] }
runbook "look" {
  description = "test"
  probe "disk" {
    command = "printf 'fs pct mount\nsda1 %s /\nsda2 12%% /boot\n' '${host.vars.pct}'"
    format  = "table"
  }
  probe "ports" {
    command = "printf 'tcp 22\ntcp %s\n' '${host.vars.port}'"
    regex   = "^tcp (?P<port>\\d+)"
  }
  probe "iostat" {
    command = "no-such-iostat-xyz -x"
  }
  probe "ss" {
    command  = "no-such-ss-xyz -tln"
    fallback = ["echo netstat-output"]
  }
  probe "token" {
    command   = "echo hunter2"
    sensitive = true
  }
  probe "hang" {
    command = "sleep 30"
    timeout = 0.5
    when    = host.vars.hang
  }
  check "disk_full" {
    for_each = { for r in probe.disk.rows : r.mount => r }
    crit     = num(each.value.pct) >= 95
    warn     = num(each.value.pct) > 80
    message  = "${each.key} is ${each.value.pct} full"
  }
  check "unexpected_port" {
    for_each = toset([for r in probe.ports.rows : r.port])
    warn     = !contains(var.allowed_ports, each.key)
    message  = "port ${each.key} is listening and not in the allow-list"
  }
  check "io" {
    warn    = true
    message = "never: iostat is not available"
    crit    = probe.iostat.value != ""
  }
}
`

func loadTestRunbook(t *testing.T, src string) (*config.RunbookFile, *hclparse.Parser) {
	t.Helper()
	p := hclparse.NewParser()
	f, diags := p.ParseHCL([]byte(src), "rb.hcl")
	if diags.HasErrors() {
		t.Fatal(diags)
	}
	rf, diags := config.LoadRunbooks(modules.Catalog(), t.TempDir(), f)
	if diags.HasErrors() {
		var b bytes.Buffer
		config.WriteDiagnostics(&b, p.Files(), diags, 0, false)
		t.Fatal(b.String())
	}
	return rf, p
}

func TestRunRunbooksLocally(t *testing.T) {
	rf, _ := loadTestRunbook(t, testRunbook)
	host := func(name, pct, port string, hang bool) *inventory.Host {
		return &inventory.Host{Name: name, Connection: inventory.ConnLocal, Groups: []string{"all"}, Vars: map[string]cty.Value{
			"pct": cty.StringVal(pct), "port": cty.StringVal(port), "hang": cty.BoolVal(hang)}}
	}
	hosts := []*inventory.Host{host("a", "40%", "22", false), host("b", "97%", "31337", false), host("c", "85%", "22", true)}
	var becomes []Become
	start := time.Now()
	reps, diags, err := RunRunbooks(context.Background(), RunbookOptions{
		File:   rf,
		Hosts:  func(string) ([]*inventory.Host, error) { return hosts, nil },
		Masker: report.NewMasker(),
		Connect: func(ctx context.Context, h *inventory.Host, b *Become) (transport.Conn, error) {
			becomes = append(becomes, *b)
			return transport.Local{}.Connect(ctx, transport.Target{Name: h.Name, Local: true})
		},
		Forks: 1,
	})
	if err != nil || diags.HasErrors() {
		t.Fatal(err, diags)
	}
	// The hanging probe sleeps 30 s; cut at 0.5 s, the run takes about 2 s
	// on a quiet machine. Every root probe sets up its read-only mount
	// namespace (a mount per mount point), which under make test's load has
	// taken 20 s for the 18 probes: the bound only has to be below 30 s.
	if d := time.Since(start); d > 25*time.Second {
		t.Errorf("took %s: the hanging probe was not cut", d)
	}
	for _, b := range becomes {
		if b.Enabled {
			t.Errorf("a probe connected with become %+v; probes run unprivileged unless they ask", b)
		}
	}
	r := reps[0]
	if r.Hosts[0].Host != "b" || r.Hosts[0].Findings[0].Check != "disk_full" || r.Hosts[0].Findings[0].Severity != report.SevCrit {
		t.Fatalf("host b with a crit disk_full finding must come first: %+v", r.Hosts[0])
	}
	got := map[string][]string{}
	probes := map[string]report.ProbeOutput{}
	for _, h := range r.Hosts {
		for _, f := range h.Findings {
			got[h.Host] = append(got[h.Host], f.Severity.String()+" "+f.Message)
		}
		if h.Host == "c" {
			for _, p := range h.Probes {
				probes[p.Name] = p
			}
		}
	}
	want := map[string][]string{
		"b": {"crit / is 97% full", "warn port 31337 is listening and not in the allow-list"},
		"c": {"warn / is 85% full", "warn probe hang hung and was cut after 0.5s (a command that hangs is a symptom too: a dead NFS mount, a process in D state)"},
	}
	for h, w := range want {
		if strings.Join(got[h], "|") != strings.Join(w, "|") {
			t.Errorf("%s: findings %q, want %q", h, got[h], w)
		}
	}
	if len(got["a"]) != 0 {
		t.Errorf("a: findings %q, want none", got["a"])
	}
	if p := probes["iostat"]; p.Status != "not available" || strings.Join(p.Missing, ",") != "no-such-iostat-xyz" {
		t.Errorf("iostat probe: %+v", p)
	}
	if p := probes["ss"]; p.Status != "ok" || p.Command != "echo netstat-output" || p.Stdout != "netstat-output\n" {
		t.Errorf("ss probe did not fall back: %+v", p)
	}
	if p := probes["token"]; p.Status != "ok" || strings.Contains(p.Stdout, "hunter2") {
		t.Errorf("a sensitive probe's output is in the report: %+v", p)
	}
	if f := r.Hosts[0].Findings[0]; strings.Join(f.Probes, ",") != "disk" {
		t.Errorf("the finding names probes %v, want disk", f.Probes)
	}
	if p := probes["hang"]; p.Status != "timeout" {
		t.Errorf("hang probe: %+v", p)
	}
}

func TestValidateRunbooks(t *testing.T) {
	rf, p := loadTestRunbook(t, `runbook "x" {
  probe "a" { command = "uptime" }
  check "c" {
    warn    = nosuchfunc(probe.a.value)
    message = "x"
  }
}`)
	diags := ValidateRunbooks(rf, nil)
	var b bytes.Buffer
	config.WriteDiagnostics(&b, p.Files(), diags, 0, false)
	if !diags.HasErrors() || !strings.Contains(b.String(), "nosuchfunc") {
		t.Errorf("want an error about nosuchfunc, got:\n%s", b.String())
	}
	rf, _ = loadTestRunbook(t, testRunbook)
	if diags := ValidateRunbooks(rf, nil); diags.HasErrors() {
		t.Errorf("valid runbook: %v", hcl.Diagnostics(diags))
	}
}

func TestReadOnlySummary(t *testing.T) {
	enf, user, none := contract.ReadOnlyEnforced, "by permissions of user deploy", "not enforced: util-linux tools missing: unshare"
	tests := []struct {
		name   string
		probes []report.ProbeOutput
		want   string
	}{
		{"none ran", []report.ProbeOutput{{Name: "a"}}, ""},
		{"one guarantee", []report.ProbeOutput{{Name: "a", ReadOnly: enf}, {Name: "b", ReadOnly: enf}, {Name: "c"}}, enf},
		{"weakest first", []report.ProbeOutput{{Name: "a", ReadOnly: user}, {Name: "b", ReadOnly: none}, {Name: "c", ReadOnly: user}},
			none + " (probes b); " + user + " (probes a, c)"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := readOnlySummary(tt.probes); got != tt.want {
				t.Errorf("got %q, want %q", got, tt.want)
			}
		})
	}
}

// TestRunbookInventory: a runbook reads inventory.* (the inventory's own
// values, known before any host is contacted) in locals, probes and checks;
// facts of other hosts are not there.
func TestRunbookInventory(t *testing.T) {
	rf, _ := loadTestRunbook(t, `
locals {
  dbs = inventory.groups["db"]
}
runbook "peers" {
  hosts = "web"
  probe "peer" {
    command = "echo ${inventory.hosts[local.dbs[0]].address}:${inventory.hosts[local.dbs[0]].vars.port}"
  }
  check "peer" {
    warn    = probe.peer.value != "10.0.0.9:5432"
    message = "peer is ${probe.peer.value}"
  }
  check "count" {
    crit    = length(inventory.groups["web"]) != 1 || inventory.hosts[local.dbs[0]].facts != null
    message = "web has ${length(inventory.groups["web"])} hosts"
  }
}
`)
	all := []*inventory.Host{
		{Name: "web1", Connection: inventory.ConnLocal, Groups: []string{"all", "web"}},
		{Name: "db1", Address: "10.0.0.9", Groups: []string{"all", "db"}, Vars: map[string]cty.Value{"port": cty.NumberIntVal(5432)}},
	}
	var contacted []string
	reps, diags, err := RunRunbooks(context.Background(), RunbookOptions{
		File:   rf,
		Hosts:  func(string) ([]*inventory.Host, error) { return all[:1], nil },
		Fleet:  func() []*inventory.Host { return all },
		Masker: report.NewMasker(),
		Connect: func(ctx context.Context, h *inventory.Host, b *Become) (transport.Conn, error) {
			contacted = append(contacted, h.Name)
			return transport.Local{}.Connect(ctx, transport.Target{Name: h.Name, Local: true})
		},
	})
	if err != nil || diags.HasErrors() {
		t.Fatal(err, diags)
	}
	h := reps[0].Hosts[0]
	if h.Status != report.StatusOK || len(h.Findings) != 0 {
		t.Errorf("web1: %s %q %+v", h.Status, h.Error, h.Findings)
	}
	for _, c := range contacted {
		if c != "web1" {
			t.Errorf("contacted %s: a runbook reads the inventory, not other hosts", c)
		}
	}
	// --validate: no inventory, the values are unknown.
	if diags := ValidateRunbooks(rf, nil); diags.HasErrors() {
		t.Errorf("validate: %v", diags)
	}
}
