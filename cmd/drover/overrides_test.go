package main

import (
	"os"
	"path/filepath"
	"testing"

	"github.com/hashicorp/hcl/v2/hclparse"

	"github.com/drover-cm/drover/engine/connect"
	"github.com/drover-cm/drover/inventory"
)

// TestOverridesSpareJumpHops: -u applies to the selected targets only; a
// bastion that is also selected keeps its inventory user as a jump hop.
func TestOverridesSpareJumpHops(t *testing.T) {
	dir := t.TempDir()
	file := filepath.Join(dir, "inv.hcl")
	os.WriteFile(file, []byte(`
host "bastion" {
  address = "203.0.113.10"
  user    = "jumper"
}
host "web1" {
  address    = "10.0.0.11"
  user       = "deploy"
  proxy_jump = "bastion"
}
`), 0o644)
	inv, diags := inventory.Load([]string{file}, inventory.LoadOptions{Parser: hclparse.NewParser()})
	if diags.HasErrors() {
		t.Fatal(diags)
	}
	sel, err := inv.Select("all")
	if err != nil || len(sel) != 2 {
		t.Fatalf("select: %v %v", sel, err)
	}
	become := true
	hosts := withOverrides(sel, inventory.Overrides{User: "cli", Become: &become})
	for _, h := range hosts {
		tg, err := connect.Target(inv, h, nil)
		if err != nil {
			t.Fatal(err)
		}
		if tg.User != "cli" || !tg.Become.Enabled {
			t.Errorf("%s: user %q become %v; want the CLI's", h.Name, tg.User, tg.Become.Enabled)
		}
		if h.Name == "web1" {
			if len(tg.Jumps) != 1 || tg.Jumps[0].User != "jumper" {
				t.Errorf("web1 jumps = %+v; want bastion as user jumper", tg.Jumps)
			}
		}
	}
	if sel[0].User != "jumper" && sel[1].User != "jumper" {
		t.Errorf("the inventory's hosts were changed in place")
	}
}
