package integration_test

import (
	"fmt"
	"os"
	"path/filepath"
	"runtime"
	"testing"

	"github.com/hashicorp/hcl/v2/hclparse"

	"github.com/drover-cm/drover/engine/config"
	drun "github.com/drover-cm/drover/engine/run"
	"github.com/drover-cm/drover/integration"
	"github.com/drover-cm/drover/inventory"
	"github.com/drover-cm/drover/modules"
)

// benchPlaybook has 30 task instances: 3 directories, 20 files, 4
// templates, a line, a symlink and a command.
const benchPlaybook = `
variable "root" { type = string }

play "bench" {
  hosts = "fleet"

  directory "root" {
    path = var.root
  }
  directory "etc" {
    path = "${directory.root.path}/etc"
  }
  directory "www" {
    path = "${directory.root.path}/www"
  }
  file "conf" {
    for_each = toset([for i in range(20) : format("%02d", i)])
    path     = "${directory.etc.path}/conf-${each.key}.conf"
    content  = "key ${each.key} on ${host.name}\n"
    mode     = "0640"
  }
  template "page" {
    count  = 4
    source = "page.tftpl"
    path   = "${directory.www.path}/page-${count.index}.html"
    vars   = { n = count.index, host = host.name }
  }
  line "motd" {
    path   = "${var.root}/motd"
    line   = "bench host ${host.name}"
    create = true
  }
  symlink "current" {
    path   = "${var.root}/current"
    target = directory.www.path
  }
  command "stamp" {
    run     = ["touch", "${var.root}/stamp"]
    creates = "${var.root}/stamp"
  }
}
`

// BenchmarkApply applies a 30-task playbook to 50 fleet hosts: "first" on
// fresh hosts (every task changes), "nochange" when everything is in place
// (one state read per host). It reports wall time per run, the controller's
// heap growth and allocations, and SSH round trips per host.
func BenchmarkApply(b *testing.B) {
	const hosts = 50
	f := integration.Start(b, hosts)
	dir := b.TempDir()
	os.WriteFile(filepath.Join(dir, "site.hcl"), []byte(benchPlaybook), 0o644)
	os.WriteFile(filepath.Join(dir, "page.tftpl"), []byte("<p>page ${n} on ${host}</p>\n"), 0o644)
	p := hclparse.NewParser()
	inv, diags := inventory.Load([]string{f.InventoryFile()}, inventory.LoadOptions{Parser: p})
	if diags.HasErrors() {
		b.Fatal(diags)
	}
	pb, diags := config.LoadFiles(p, modules.Catalog(), filepath.Join(dir, "site.hcl"))
	if diags.HasErrors() {
		b.Fatal(diags)
	}

	apply := func(b *testing.B, root string) (*drun.ApplyResult, int64) {
		in, _ := drun.ParseInputs(p, pb, nil, nil, []string{"root=" + root})
		res, trips, err := applyCountingTrips(f, inv, pb, in)
		if err != nil || !res.Recap.OK() {
			b.Fatalf("apply: %v %+v %s", err, res.Recap, res.Diagnostics)
		}
		return res, trips
	}
	measure := func(b *testing.B, root func(i int) string, wantChanged int) {
		var before, after runtime.MemStats
		runtime.GC()
		runtime.ReadMemStats(&before)
		var trips int64
		b.ResetTimer()
		for i := 0; i < b.N; i++ {
			res, t := apply(b, root(i))
			trips += t
			for _, h := range res.Recap.Hosts {
				if h.Tasks.Changed != wantChanged {
					b.Fatalf("%s: %d changed, want %d", h.Host, h.Tasks.Changed, wantChanged)
				}
			}
		}
		b.StopTimer()
		runtime.ReadMemStats(&after)
		b.ReportMetric(float64(after.TotalAlloc-before.TotalAlloc)/float64(b.N)/(1<<20), "MiB-alloc/op")
		b.ReportMetric(float64(after.HeapInuse)/(1<<20), "MiB-heap")
		b.ReportMetric(float64(trips)/float64(b.N)/hosts, "roundtrips/host")
	}

	b.Run("first", func(b *testing.B) {
		measure(b, func(i int) string { return fmt.Sprintf("/srv/bench-%d-%d", b.N, i) }, 30)
	})
	b.Run("nochange", func(b *testing.B) {
		apply(b, "/srv/bench-steady")
		measure(b, func(int) string { return "/srv/bench-steady" }, 0)
	})
}
