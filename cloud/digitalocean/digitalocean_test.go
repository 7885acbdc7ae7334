package digitalocean_test

import (
	"testing"
	"time"

	"github.com/drover-cm/drover/cloud"
	"github.com/drover-cm/drover/cloud/cloudtest"
	"github.com/drover-cm/drover/cloud/digitalocean"
)

// start runs the fake and a provider pointed at it, polling fast.
func start(t *testing.T) (*cloudtest.Server, *digitalocean.Provider) {
	t.Helper()
	srv, err := cloudtest.NewDigitalOcean(cloudtest.Options{PollsUntilRunning: 2})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(srv.Close)
	p, err := digitalocean.New(digitalocean.Config{Token: "test-token", BaseURL: srv.URL, Poll: time.Millisecond,
		Backoff: cloud.Backoff{Attempts: 3, Initial: time.Millisecond, Max: time.Millisecond}})
	if err != nil {
		t.Fatal(err)
	}
	return srv, p
}

var spec = cloud.Spec{
	Name: "web", Region: "ams3", Size: "s-1vcpu-1gb", Image: "debian-12-x64",
	Tags: []string{"role:web"},
}

func TestLifecycle(t *testing.T) {
	srv, p := start(t)
	cloudtest.Lifecycle(t, p, srv, spec, "s-99vcpu-1tb")
}

// Resize: up, then a refused resize back down (the disk cannot shrink),
// which leaves the instance running.
func TestResize(t *testing.T) {
	srv, p := start(t)
	cloudtest.ResizeLifecycle(t, p, srv, spec, "s-2vcpu-4gb", "s-1vcpu-1gb")
}

func TestNoToken(t *testing.T) {
	t.Setenv("DIGITALOCEAN_TOKEN", "")
	t.Setenv("DIGITALOCEAN_ACCESS_TOKEN", "")
	if _, err := digitalocean.New(digitalocean.Config{}); err == nil {
		t.Fatal("New without a token succeeded")
	}
}
