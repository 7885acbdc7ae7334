package cloud_test

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/hashicorp/hcl/v2"
	"github.com/hashicorp/hcl/v2/hclparse"
	"github.com/zclconf/go-cty/cty"

	"github.com/drover-cm/drover/cloud"
	"github.com/drover-cm/drover/cloud/cloudtest"
	"github.com/drover-cm/drover/cloud/digitalocean"
	"github.com/drover-cm/drover/engine/config"
	"github.com/drover-cm/drover/engine/provision"
	"github.com/drover-cm/drover/engine/run"
	"github.com/drover-cm/drover/internal/golden"
	"github.com/drover-cm/drover/modules"
)

// TestStacksEnvVarFiles: the stacks-env variant (the recipe book's stacks
// with the droplets they run on) loads and validates without credentials
// with either var file, and plans against the spec-validated DigitalOcean
// fake the droplets each file asks for (golden: names and sizes). No host
// is contacted: the plan stops before configuration.
func TestStacksEnvVarFiles(t *testing.T) {
	// The webapp stack copies its built program, so validation needs it to
	// exist; any build will do. Built only when missing: the examples
	// package's rollout test rebuilds it and copies it to hosts meanwhile.
	if _, err := os.Stat("../stacks/webapp/files/webapp"); err != nil {
		cmd := exec.Command("go", "build", "-o", "../stacks/webapp/files/webapp", "../stacks/webapp/server")
		cmd.Env = append(os.Environ(), "CGO_ENABLED=0")
		if out, err := cmd.CombinedOutput(); err != nil {
			t.Fatalf("building the webapp: %v\n%s", err, out)
		}
	}
	stacks, err := filepath.Abs("../stacks")
	if err != nil {
		t.Fatal(err)
	}
	for _, env := range []string{"prod", "dev"} {
		t.Run(env, func(t *testing.T) {
			do, err := cloudtest.NewDigitalOcean(cloudtest.Options{})
			if err != nil {
				t.Fatal(err)
			}
			defer do.Close()
			p := hclparse.NewParser()
			pb, diags := config.LoadFilesWith(config.LoadOptions{Parser: p, AllowLocal: []string{stacks}}, modules.Catalog(), filepath.Join("stacks-env", "site.hcl"))
			if diags.HasErrors() {
				t.Fatal(diags)
			}
			varFile := filepath.Join("stacks-env", env+".hcl")
			// As `drover validate --var-file`: no credentials, do_ssh_key unknown.
			in, diags := run.ParseInputs(p, pb, nil, []string{varFile}, nil)
			if diags.HasErrors() {
				t.Fatal(diags)
			}
			vars, locals, ds := run.Globals(pb, in)
			diags = append(append(ds, run.Validate(pb, in)...), provision.Validate(pb, vars, locals)...)
			if diags.HasErrors() {
				t.Fatal(diags)
			}

			in, diags = run.ParseInputs(p, pb, nil, []string{varFile}, []string{"do_ssh_key=3b:16:e4:bf:8b:00:8b:b8:59:8c:a9:d3:f0:19:fa:45"})
			in["do_endpoint"] = run.InputValue{Value: cty.StringVal(do.URL)}
			plan := stacksEnvPlan(t, pb, in, diags)
			golden.Check(t, filepath.Join("testdata", "stacks-env-"+env+".txt"), plan)
			do.AssertValid(t)
		})
	}
}

// stacksEnvPlan is the provision plan as the golden files hold it: the
// lines `drover plan` prints, then each droplet to create with its size.
func stacksEnvPlan(t *testing.T, pb *config.Playbook, in run.Inputs, diags hcl.Diagnostics) string {
	t.Helper()
	vars, locals, ds := run.Globals(pb, in)
	if diags = append(diags, ds...); diags.HasErrors() {
		t.Fatal(diags)
	}
	rs, diags := provision.Evaluate(pb, vars, locals)
	if diags.HasErrors() {
		t.Fatal(diags)
	}
	bo := cloud.Backoff{Attempts: 2, Initial: time.Millisecond, Max: time.Millisecond}
	plan, err := provision.MakePlan(context.Background(), rs, func(_ context.Context, r *provision.Resource) (cloud.Provider, error) {
		return digitalocean.New(digitalocean.Config{Token: "t", BaseURL: r.Endpoint, Backoff: bo, Poll: time.Millisecond})
	})
	if err != nil {
		t.Fatal(err)
	}
	var b strings.Builder
	for _, l := range plan.Describe() {
		b.WriteString(strings.ReplaceAll(l, in["do_endpoint"].Value.AsString(), "FAKE") + "\n")
	}
	for _, c := range plan.Changes {
		if c.Action == provision.Create {
			fmt.Fprintf(&b, "create %s size=%s region=%s groups=%s\n", c.Spec.Name, c.Spec.Size, c.Spec.Region, strings.Join(c.Resource.Groups, ","))
		}
	}
	return b.String()
}
