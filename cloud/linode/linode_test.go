package linode_test

import (
	"testing"
	"time"

	"github.com/drover-cm/drover/cloud"
	"github.com/drover-cm/drover/cloud/cloudtest"
	"github.com/drover-cm/drover/cloud/linode"
)

// start runs the fake and a provider pointed at it, polling fast.
func start(t *testing.T) (*cloudtest.Server, *linode.Provider) {
	t.Helper()
	srv, err := cloudtest.NewLinode(cloudtest.Options{PollsUntilRunning: 2})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(srv.Close)
	p, err := linode.New(linode.Config{Token: "test-token", BaseURL: srv.URL, Poll: time.Millisecond,
		Backoff: cloud.Backoff{Attempts: 3, Initial: time.Millisecond, Max: time.Millisecond}})
	if err != nil {
		t.Fatal(err)
	}
	return srv, p
}

var spec = cloud.Spec{
	Name: "web", Region: "eu-central", Size: "g6-nanode-1", Image: "linode/debian12", RootPassword: "aComplexP@ssword",
	SSHKeys: []string{"ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIHq0bQ2eXl2bRrQkKpy5v0u2pZ8k6mD4i2Jg7yY0xqNp test"},
	Tags:    []string{"role:web"}, UserData: "#cloud-config\n",
}

func TestLifecycle(t *testing.T) {
	srv, p := start(t)
	cloudtest.Lifecycle(t, p, srv, spec, "g6-huge-99")
}

// Resize: up, then a refused resize back down to a smaller disk,
// which leaves the instance running.
func TestResize(t *testing.T) {
	srv, p := start(t)
	cloudtest.ResizeLifecycle(t, p, srv, spec, "g6-standard-2", "g6-nanode-1")
}

func TestNoToken(t *testing.T) {
	t.Setenv("LINODE_TOKEN", "")
	if _, err := linode.New(linode.Config{}); err == nil {
		t.Fatal("New without a token succeeded")
	}
}
