package cloud_test

import (
	"context"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/hashicorp/hcl/v2/hclparse"
	"github.com/zclconf/go-cty/cty"

	"github.com/drover-cm/drover/cloud"
	"github.com/drover-cm/drover/cloud/cloudtest"
	"github.com/drover-cm/drover/cloud/digitalocean"
	"github.com/drover-cm/drover/cloud/linode"
	"github.com/drover-cm/drover/engine/config"
	"github.com/drover-cm/drover/engine/provision"
	"github.com/drover-cm/drover/engine/run"
	"github.com/drover-cm/drover/modules"
)

// The example validates without credentials, and provisions against the
// spec-validated fakes: every attribute it sets reaches the APIs in a form
// their official specs accept. A second apply changes nothing; a bigger
// web_size resizes the droplets in place, after which nothing changes.
func TestCloudExampleProvisions(t *testing.T) {
	do, err := cloudtest.NewDigitalOcean(cloudtest.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer do.Close()
	li, err := cloudtest.NewLinode(cloudtest.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer li.Close()
	p := hclparse.NewParser()
	pb, diags := config.LoadFiles(p, modules.Catalog(), filepath.Join(".", "site.hcl"))
	if diags.HasErrors() {
		t.Fatal(diags)
	}
	// As `drover validate` does: variables without a value are unknown.
	vars, locals, diags := run.Globals(pb, nil)
	if diags = append(append(diags, run.Validate(pb, nil)...), provision.Validate(pb, vars, locals)...); diags.HasErrors() {
		t.Fatal(diags)
	}
	bo := cloud.Backoff{Attempts: 2, Initial: time.Millisecond, Max: time.Millisecond}
	providers := func(_ context.Context, r *provision.Resource) (cloud.Provider, error) {
		if r.Provider == "linode" {
			return linode.New(linode.Config{Token: "t", BaseURL: r.Endpoint, Backoff: bo, Poll: time.Millisecond})
		}
		return digitalocean.New(digitalocean.Config{Token: "t", BaseURL: r.Endpoint, Backoff: bo, Poll: time.Millisecond})
	}
	ctx := context.Background()
	for round, tc := range []struct {
		size             string
		created, resized int
	}{{"s-1vcpu-1gb", 3, 0}, {"s-1vcpu-1gb", 0, 0}, {"s-2vcpu-4gb", 0, 2}, {"s-2vcpu-4gb", 0, 0}} {
		in := run.Inputs{
			"do_ssh_key":       {Value: cty.StringVal("3b:16:e4:bf:8b:00:8b:b8:59:8c:a9:d3:f0:19:fa:45")},
			"linode_ssh_key":   {Value: cty.StringVal("ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIHq0bQ2eXl2bRrQkKpy5v0u2pZ8k6mD4i2Jg7yY0xqNp ops")},
			"linode_root_pass": {Value: cty.StringVal("aComplexP@ssword")},
			"web_size":         {Value: cty.StringVal(tc.size)},
			"do_endpoint":      {Value: cty.StringVal(do.URL)},
			"linode_endpoint":  {Value: cty.StringVal(li.URL)},
		}
		vars, locals, diags := run.Globals(pb, in)
		if diags.HasErrors() {
			t.Fatal(diags)
		}
		rs, diags := provision.Evaluate(pb, vars, locals)
		if diags.HasErrors() {
			t.Fatal(diags)
		}
		plan, err := provision.MakePlan(ctx, rs, providers)
		if err != nil {
			t.Fatal(err)
		}
		if changed := tc.created+tc.resized > 0; plan.Changed() != changed {
			t.Errorf("round %d: plan changed %v, want %v:\n%s", round, plan.Changed(), changed, strings.Join(plan.Describe(), "\n"))
		}
		res, err := provision.Apply(ctx, plan, provision.ApplyOptions{Poll: time.Millisecond,
			WaitSSH: func(context.Context, string, int) (provision.HostKey, error) { return provision.HostKey{}, nil }})
		if err != nil {
			t.Fatal(err)
		}
		if len(res.Created) != tc.created || len(res.Resized) != tc.resized || len(res.Hosts) != 3 {
			t.Errorf("round %d: created %d, resized %d, hosts %d; want %d, %d, 3", round, len(res.Created), len(res.Resized), len(res.Hosts), tc.created, tc.resized)
		}
	}
	vars, locals, _ = run.Globals(pb, run.Inputs{"do_endpoint": {Value: cty.StringVal(do.URL)}, "linode_endpoint": {Value: cty.StringVal(li.URL)},
		"linode_root_pass": {Value: cty.StringVal("aComplexP@ssword")}, "do_ssh_key": {Value: cty.StringVal("x")}, "linode_ssh_key": {Value: cty.StringVal("x")}})
	rs, diags := provision.Evaluate(pb, vars, locals)
	if diags.HasErrors() {
		t.Fatal(diags)
	}
	gone, err := provision.DestroyAll(ctx, rs, providers)
	if err != nil || len(gone) != 3 {
		t.Errorf("destroy: %d, %v", len(gone), err)
	}
	do.AssertValid(t)
	li.AssertValid(t)
}
