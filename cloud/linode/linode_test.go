package linode_test

import (
	"testing"
	"time"

	"github.com/drover-cm/drover/cloud"
	"github.com/drover-cm/drover/cloud/cloudtest"
	"github.com/drover-cm/drover/cloud/linode"
)

func TestLifecycle(t *testing.T) {
	srv, err := cloudtest.NewLinode(cloudtest.Options{PollsUntilRunning: 2})
	if err != nil {
		t.Fatal(err)
	}
	defer srv.Close()
	p, err := linode.New(linode.Config{Token: "test-token", BaseURL: srv.URL,
		Backoff: cloud.Backoff{Attempts: 3, Initial: time.Millisecond, Max: time.Millisecond}})
	if err != nil {
		t.Fatal(err)
	}
	cloudtest.Lifecycle(t, p, srv, cloud.Spec{
		Name: "web", Region: "eu-central", Size: "g6-nanode-1", Image: "linode/debian12", RootPassword: "aComplexP@ssword",
		SSHKeys: []string{"ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIHq0bQ2eXl2bRrQkKpy5v0u2pZ8k6mD4i2Jg7yY0xqNp test"},
		Tags:    []string{"role:web"}, UserData: "#cloud-config\n",
	}, "g6-huge-99")
}

// Resize: up, then a refused resize back down (the disk cannot shrink),
// which leaves the instance running.
func TestResize(t *testing.T) {
	srv, err := cloudtest.NewLinode(cloudtest.Options{PollsUntilRunning: 2})
	if err != nil {
		t.Fatal(err)
	}
	defer srv.Close()
	p, err := linode.New(linode.Config{Token: "test-token", BaseURL: srv.URL, Poll: time.Millisecond,
		Backoff: cloud.Backoff{Attempts: 3, Initial: time.Millisecond, Max: time.Millisecond}})
	if err != nil {
		t.Fatal(err)
	}
	cloudtest.ResizeLifecycle(t, p, srv, cloud.Spec{
		Name: "web", Region: "eu-central", Size: "g6-nanode-1", Image: "linode/debian12",
		RootPassword: "aComplexP@ssword", Tags: []string{"role:web"},
	}, "g6-standard-2", "g6-nanode-1")
}

func TestNoToken(t *testing.T) {
	t.Setenv("LINODE_TOKEN", "")
	if _, err := linode.New(linode.Config{}); err == nil {
		t.Fatal("New without a token succeeded")
	}
}
