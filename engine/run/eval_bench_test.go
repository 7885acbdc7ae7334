package run

import (
	"testing"

	"github.com/drover-cm/drover/engine/config"
	"github.com/drover-cm/drover/engine/report"
	"github.com/drover-cm/drover/inventory"
	"github.com/drover-cm/drover/modules"
	"github.com/hashicorp/hcl/v2/hclparse"
)

// BenchmarkEvaluateBenchPlay is the controller's evaluation of the bench's
// 30 tasks (integration/bench/drover/site.hcl) for one host, without
// connecting (HostGraphs): variables, tasks decoded, templates rendered,
// modules configured. Its allocations per op are the per-host figure to
// compare between trees; the apply's own share is in -cpuprofile.
func BenchmarkEvaluateBenchPlay(b *testing.B) {
	p := hclparse.NewParser()
	pb, diags := config.LoadFiles(p, modules.Catalog(), "../../integration/bench/drover/site.hcl")
	if diags.HasErrors() {
		b.Fatal(diags)
	}
	in, diags := ParseInputs(p, pb, nil, nil, nil)
	if diags.HasErrors() {
		b.Fatal(diags)
	}
	h := &inventory.Host{Name: "host1", Address: "127.0.0.1", Groups: []string{"all"}}
	opts := Options{Playbook: pb, Inputs: in, Masker: report.NewMasker(),
		Hosts: func(string) ([]*inventory.Host, error) { return []*inventory.Host{h}, nil }}
	b.ReportAllocs()
	for b.Loop() {
		if gs, diags := HostGraphs(opts, h); diags.HasErrors() || len(gs) != 1 {
			b.Fatal(gs, diags)
		}
	}
}
