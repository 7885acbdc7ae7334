package provision

import (
	"context"
	"errors"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/hashicorp/hcl/v2"
	"github.com/hashicorp/hcl/v2/hclparse"
	"github.com/zclconf/go-cty/cty"

	"github.com/drover-cm/drover/cloud"
	"github.com/drover-cm/drover/cloud/cloudtest"
	"github.com/drover-cm/drover/cloud/digitalocean"
	"github.com/drover-cm/drover/engine/config"
	"github.com/drover-cm/drover/modules"
)

const playbook = `
variable "n" { default = 3 }
provision "digitalocean_droplet" "web" {
  count  = var.n
  stack  = "shop"
  name   = "web-${count.index}"
  region = "ams3"
  size   = var.size
  image  = "debian-12-x64"
  tags   = ["role:web"]
  groups = ["web"]
}
variable "size" { default = "s-1vcpu-1gb" }
`

func load(t *testing.T, src string, vars map[string]cty.Value) []*Resource {
	t.Helper()
	f, diags := hclparse.NewParser().ParseHCL([]byte(src), "site.hcl")
	if diags.HasErrors() {
		t.Fatal(diags)
	}
	pb, diags := config.Load(modules.Catalog(), t.TempDir(), f)
	if diags.HasErrors() {
		t.Fatal(diags)
	}
	rs, diags := Evaluate(pb, vars, nil)
	if diags.HasErrors() {
		t.Fatal(diags)
	}
	return rs
}

func vars(n int, size string) map[string]cty.Value {
	return map[string]cty.Value{"n": cty.NumberIntVal(int64(n)), "size": cty.StringVal(size)}
}

type env struct {
	srv       *cloudtest.Server
	p         cloud.Provider
	providers Providers
}

func newEnv(t *testing.T) *env {
	srv, err := cloudtest.NewDigitalOcean(cloudtest.Options{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(srv.Close)
	p, err := digitalocean.New(digitalocean.Config{Token: "t", BaseURL: srv.URL, Poll: time.Millisecond,
		Backoff: cloud.Backoff{Attempts: 3, Initial: time.Millisecond, Max: time.Millisecond}})
	if err != nil {
		t.Fatal(err)
	}
	return &env{srv: srv, p: p, providers: func(context.Context, *Resource) (cloud.Provider, error) { return p, nil }}
}

var noSSH = ApplyOptions{Poll: time.Millisecond,
	WaitSSH: func(context.Context, string, int) (HostKey, error) { return HostKey{}, nil }}

func TestPlanApplyReapplyDestroy(t *testing.T) {
	ctx := context.Background()
	e := newEnv(t)
	// Something drover does not own, which destroy must leave alone.
	if _, err := e.p.Create(ctx, cloud.Spec{Name: "db-0", Region: "ams3", Size: "s-1vcpu-1gb", Image: "debian-12-x64", Tags: []string{"role:web"}}); err != nil {
		t.Fatal(err)
	}
	rs := load(t, playbook, vars(3, "s-1vcpu-1gb"))
	if rs[0].Owner != "drover:shop:web" || len(rs[0].Specs) != 3 || rs[0].Groups[0] != "web" {
		t.Fatalf("evaluated %+v", rs[0])
	}
	plan, err := MakePlan(ctx, rs, e.providers)
	if err != nil {
		t.Fatal(err)
	}
	if got := strings.Join(plan.Describe(), "\n"); !strings.Contains(got, "+ create 3 droplets: web-0, web-1, web-2") {
		t.Errorf("plan:\n%s", got)
	}
	res, err := Apply(ctx, plan, noSSH)
	if err != nil {
		t.Fatal(err)
	}
	if len(res.Created) != 3 || len(res.Hosts) != 3 {
		t.Fatalf("apply created %d, hosts %d", len(res.Created), len(res.Hosts))
	}
	for _, h := range res.Hosts {
		if !h.Created || h.Address == "" || h.Port != 22 {
			t.Errorf("host %+v", h)
		}
	}

	// Re-apply: nothing to create, the same hosts are handed on.
	plan, err = MakePlan(ctx, rs, e.providers)
	if err != nil {
		t.Fatal(err)
	}
	if plan.Changed() {
		t.Errorf("second plan changes: %v", plan.Describe())
	}
	res, err = Apply(ctx, plan, noSSH)
	if err != nil || len(res.Created) != 0 || len(res.Hosts) != 3 || res.Hosts[0].Created {
		t.Fatalf("re-apply: %v, %+v", err, res)
	}

	// Fewer and bigger: one destroy, two resizes, applied.
	rs2 := load(t, playbook, vars(2, "s-2vcpu-2gb"))
	plan, err = MakePlan(ctx, rs2, e.providers)
	if err != nil {
		t.Fatal(err)
	}
	if c := plan.Counts(); c[Destroy] != 1 || c[Resize] != 2 || c[Create] != 0 {
		t.Errorf("counts %v: %v", c, plan.Describe())
	}
	want := "~ resize web-0: s-1vcpu-1gb → s-2vcpu-2gb (power off → resize CPU, memory and disk → power on; the disk cannot shrink back)"
	if got := strings.Join(plan.Describe(), "\n"); !strings.Contains(got, want) || !plan.Changed() {
		t.Errorf("plan (changed %v):\n%s\nwant %q", plan.Changed(), got, want)
	}
	res, err = Apply(ctx, plan, noSSH)
	if err != nil || len(res.Resized) != 2 || len(res.Destroyed) != 1 || len(res.Hosts) != 2 {
		t.Fatalf("resize apply: %v, %+v", err, res)
	}
	for _, h := range res.Hosts {
		if h.Instance.Size != "s-2vcpu-2gb" || h.Instance.Status != cloud.StatusRunning || h.Keys != KeysKnownHosts {
			t.Errorf("resized host %+v", h)
		}
	}
	plan, err = MakePlan(ctx, rs2, e.providers)
	if err != nil {
		t.Fatal(err)
	}
	if c := plan.Counts(); plan.Changed() || c[Keep] != 2 {
		t.Errorf("plan after the resize: %v", plan.Describe())
	}

	gone, err := DestroyAll(ctx, rs, e.providers)
	if err != nil || len(gone) != 2 {
		t.Fatalf("destroy: %v, %d", err, len(gone))
	}
	left, err := e.p.List(ctx, "")
	if err != nil || len(left) != 1 || left[0].Name != "db-0" {
		t.Errorf("after destroy: %+v, %v", left, err)
	}
	e.srv.AssertValid(t)
}

func TestRefusedCreateNamesTheBlock(t *testing.T) {
	ctx := context.Background()
	e := newEnv(t)
	rs := load(t, playbook, vars(1, "s-64vcpu-1tb"))
	plan, err := MakePlan(ctx, rs, e.providers)
	if err != nil {
		t.Fatal(err)
	}
	_, err = Apply(ctx, plan, noSSH)
	var ae *cloud.APIError
	if !errors.As(err, &ae) || ae.Status != 422 {
		t.Fatalf("err = %v, want the API's 422", err)
	}
	for _, want := range []string{"site.hcl:3", "invalid size"} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("error %q does not say %q", err, want)
		}
	}
}

// A resize the API refuses (a droplet's disk cannot shrink) fails with the
// API's message and the block's file:line, and leaves the droplet running.
func TestRefusedResizeNamesTheBlock(t *testing.T) {
	ctx := context.Background()
	e := newEnv(t)
	for _, size := range []string{"s-2vcpu-4gb", "s-1vcpu-1gb"} {
		plan, err := MakePlan(ctx, load(t, playbook, vars(1, size)), e.providers)
		if err != nil {
			t.Fatal(err)
		}
		_, err = Apply(ctx, plan, noSSH)
		if size == "s-2vcpu-4gb" {
			if err != nil {
				t.Fatal(err)
			}
			continue
		}
		var ae *cloud.APIError
		if !errors.As(err, &ae) || ae.Status != 422 {
			t.Fatalf("err = %v, want the API's 422", err)
		}
		for _, want := range []string{"site.hcl:3", "resizing web-0", "from s-2vcpu-4gb to s-1vcpu-1gb", "a disk cannot shrink"} {
			if !strings.Contains(err.Error(), want) {
				t.Errorf("error %q does not say %q", err, want)
			}
		}
	}
	l, err := e.p.List(ctx, "drover:shop:web")
	if err != nil || len(l) != 1 || l[0].Status != cloud.StatusRunning || l[0].Size != "s-2vcpu-4gb" {
		t.Errorf("after the refused resize: %+v, %v", l, err)
	}
	e.srv.AssertValid(t)
}

// serialCheck records how many resizes run at once.
type serialCheck struct {
	*digitalocean.Provider
	mu            sync.Mutex
	running, most int
}

func (s *serialCheck) Resize(ctx context.Context, id, size string) (cloud.Instance, error) {
	s.mu.Lock()
	s.running++
	s.most = max(s.most, s.running)
	s.mu.Unlock()
	defer func() { s.mu.Lock(); s.running--; s.mu.Unlock() }()
	time.Sleep(20 * time.Millisecond)
	return s.Provider.Resize(ctx, id, size)
}

func TestResizeOneInstanceAtATime(t *testing.T) {
	ctx := context.Background()
	e := newEnv(t)
	sc := &serialCheck{Provider: e.p.(*digitalocean.Provider)}
	providers := func(context.Context, *Resource) (cloud.Provider, error) { return sc, nil }
	for _, size := range []string{"s-1vcpu-1gb", "s-2vcpu-2gb"} {
		plan, err := MakePlan(ctx, load(t, playbook, vars(3, size)), providers)
		if err != nil {
			t.Fatal(err)
		}
		if _, err := Apply(ctx, plan, noSSH); err != nil {
			t.Fatal(err)
		}
	}
	if sc.most != 1 {
		t.Errorf("%d resizes ran at once, want 1", sc.most)
	}
}

// fixedSize is a provider that cannot resize.
type fixedSize struct{ p cloud.Provider }

func (f fixedSize) Name() string { return f.p.Name() }
func (f fixedSize) Create(ctx context.Context, s cloud.Spec) (cloud.Instance, error) {
	return f.p.Create(ctx, s)
}
func (f fixedSize) Get(ctx context.Context, id string) (cloud.Instance, error) {
	return f.p.Get(ctx, id)
}
func (f fixedSize) List(ctx context.Context, tag string) ([]cloud.Instance, error) {
	return f.p.List(ctx, tag)
}
func (f fixedSize) Delete(ctx context.Context, id string) error { return f.p.Delete(ctx, id) }

func TestResizeWithoutResizerIsOnlyReported(t *testing.T) {
	ctx := context.Background()
	e := newEnv(t)
	providers := func(context.Context, *Resource) (cloud.Provider, error) { return fixedSize{e.p}, nil }
	plan, _ := MakePlan(ctx, load(t, playbook, vars(1, "s-1vcpu-1gb")), providers)
	if _, err := Apply(ctx, plan, noSSH); err != nil {
		t.Fatal(err)
	}
	plan, _ = MakePlan(ctx, load(t, playbook, vars(1, "s-2vcpu-2gb")), providers)
	if got := strings.Join(plan.Describe(), "\n"); plan.Changed() || !strings.Contains(got, "~ resize web-0: s-1vcpu-1gb → s-2vcpu-2gb (not applied") {
		t.Errorf("plan (changed %v):\n%s", plan.Changed(), got)
	}
	res, err := Apply(ctx, plan, noSSH)
	if err != nil || len(res.Resized) != 0 || len(res.Hosts) != 1 || res.Hosts[0].Instance.Size != "s-1vcpu-1gb" {
		t.Errorf("apply: %v, %+v", err, res)
	}
}

// flaky fails the second create after the first succeeded.
type flaky struct {
	cloud.Provider
}

func (f *flaky) Create(ctx context.Context, s cloud.Spec) (cloud.Instance, error) {
	if s.Name == "web-1" {
		return cloud.Instance{}, &cloud.APIError{Provider: "digitalocean", Op: "create droplet web-1", Status: 422, Message: "droplet limit reached"}
	}
	return f.Provider.Create(ctx, s)
}

func TestPartialFailureConvergesNextTime(t *testing.T) {
	ctx := context.Background()
	e := newEnv(t)
	fl := &flaky{Provider: e.p}
	rs := load(t, playbook, vars(2, "s-1vcpu-1gb"))
	plan, err := MakePlan(ctx, rs, func(context.Context, *Resource) (cloud.Provider, error) { return fl, nil })
	if err != nil {
		t.Fatal(err)
	}
	res, err := Apply(ctx, plan, noSSH)
	if err == nil || len(res.Created) != 1 || res.Created[0].Name != "web-0" {
		t.Fatalf("partial apply: %v, %+v", err, res)
	}
	plan, err = MakePlan(ctx, rs, e.providers)
	if err != nil {
		t.Fatal(err)
	}
	if c := plan.Counts(); c[Create] != 1 || c[Keep] != 1 {
		t.Errorf("next plan %v, want web-0 kept and web-1 created", plan.Describe())
	}
}

func TestEvaluateErrors(t *testing.T) {
	for _, tc := range []struct{ src, want string }{
		{`provision "gcp_vm" "x" { name = "a" }`, "not a provision type"},
		{`provision "digitalocean_droplet" "x" {
  name = "a"
  region = "ams3"
  image = "debian-12-x64"
}`, "size"},
		{`provision "digitalocean_droplet" "x" {
  count = 2
  name = "same"
  region = "ams3"
  size = "s-1vcpu-1gb"
  image = "debian-12-x64"
}`, "use count.index"},
	} {
		f, _ := hclparse.NewParser().ParseHCL([]byte(tc.src), "bad.hcl")
		pb, diags := config.Load(modules.Catalog(), t.TempDir(), f)
		if diags.HasErrors() {
			t.Fatal(diags)
		}
		_, diags = Evaluate(pb, nil, nil)
		if !diags.HasErrors() || !strings.Contains(diags.Error(), tc.want) || diags[0].Subject == nil {
			t.Errorf("%s: diags %v, want one mentioning %q with a range", tc.src, diags, tc.want)
		}
	}
	_ = hcl.Range{}
}
