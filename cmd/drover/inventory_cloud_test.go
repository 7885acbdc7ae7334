package main

import (
	"context"
	"strings"
	"testing"

	"github.com/drover-cm/drover/cloud"
	"github.com/drover-cm/drover/cloud/cloudtest"
	"github.com/drover-cm/drover/cloud/linode"
)

// Dynamic inventory: the instances with the tag are listed as hosts, the
// others are not, and an API refusal is reported with its message.
func TestCLIInventoryFromCloud(t *testing.T) {
	srv, err := cloudtest.NewLinode(cloudtest.Options{PollsUntilRunning: 0})
	if err != nil {
		t.Fatal(err)
	}
	defer srv.Close()
	t.Setenv("LINODE_TOKEN", "linode-secret-token")
	p, err := linode.New(linode.Config{BaseURL: srv.URL})
	if err != nil {
		t.Fatal(err)
	}
	for _, s := range []cloud.Spec{
		{Name: "web-a", Tags: []string{"role:web"}},
		{Name: "web-b", Tags: []string{"role:web"}},
		{Name: "db-a", Tags: []string{"role:db"}},
	} {
		s.Region, s.Size = "eu-central", "g6-nanode-1"
		if _, err := p.Create(context.Background(), s); err != nil {
			t.Fatal(err)
		}
	}
	r := drover(t, "", "inventory", "list", "--from", "linode", "--endpoint", srv.URL, "--tag", "role:web")
	if r.code != 0 || !strings.Contains(r.stdout, "web-a") || !strings.Contains(r.stdout, "web-b") || strings.Contains(r.stdout, "db-a") {
		t.Errorf("inventory list --from linode --tag role:web: exit %d\n%s\n%s", r.code, r.stdout, r.stderr)
	}
	if !strings.Contains(r.stdout, "192.0.2.10") || !strings.Contains(r.stdout, "linode") {
		t.Errorf("no address or group:\n%s", r.stdout)
	}
	// The same as a source block of an inventory file, beside static hosts.
	inv := writeFile(t, t.TempDir(), "inventory.hcl", `
host "static" { address = "192.0.2.99" }
source "linode" {
  tag      = "role:web"
  groups   = ["web"]
  endpoint = "`+srv.URL+`"
}
`)
	r = drover(t, "", "inventory", "list", "-i", inv, "web")
	if r.code != 0 || !strings.Contains(r.stdout, "web-a") || !strings.Contains(r.stdout, "web-b") || strings.Contains(r.stdout, "db-a") || strings.Contains(r.stdout, "static") {
		t.Errorf("inventory list -i (source block) web: exit %d\n%s\n%s", r.code, r.stdout, r.stderr)
	}
	bad := writeFile(t, t.TempDir(), "inventory.hcl", "source \"gcp\" {}\n")
	r = drover(t, "", "inventory", "list", "-i", bad)
	if r.code != 1 || !strings.Contains(r.stderr, "Unknown source provider") || !strings.Contains(r.stderr, "inventory.hcl:1") {
		t.Errorf("unknown source provider: exit %d\n%s", r.code, r.stderr)
	}
	srv.FailNext(1, 400)
	r = drover(t, "", "inventory", "list", "--from", "linode", "--endpoint", srv.URL)
	if r.code != 1 || !strings.Contains(r.stderr, "HTTP 400") || strings.Contains(r.stderr, "linode-secret-token") {
		t.Errorf("refused list: exit %d\n%s\n%s", r.code, r.stdout, r.stderr)
	}
	srv.AssertValid(t)
}
