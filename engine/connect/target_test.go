package connect

import (
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/drover-cm/drover/engine/transport"
	"github.com/drover-cm/drover/inventory"
)

func loadInv(t *testing.T, src string) *inventory.Inventory {
	t.Helper()
	path := filepath.Join(t.TempDir(), "inventory.hcl")
	if err := os.WriteFile(path, []byte(src), 0o644); err != nil {
		t.Fatal(err)
	}
	inv, diags := inventory.Load([]string{path}, inventory.LoadOptions{SSHConfigPath: "none"})
	if diags.HasErrors() {
		t.Fatal(diags.Error())
	}
	return inv
}

func TestTarget(t *testing.T) {
	inv := loadInv(t, `
host "bastion" {
  address       = "10.0.0.1"
  port          = 2222
  user          = "jump"
  become        = true
  identity_file = "/keys/bastion"
}
host "app" {
  address         = "10.0.1.5"
  user            = "deploy"
  proxy_jump      = "bastion,admin@gw.example:2200"
  become          = true
  become_user     = "www"
  connect_timeout = "3s"
  identity_file   = ["/keys/a", "/keys/b"]
}
host "box" {
  connection = "local"
  become     = true
}
`)
	pass := []byte("s3cret")
	app, _ := inv.Host("app")
	tg, err := Target(inv, app, pass)
	if err != nil {
		t.Fatal(err)
	}
	if tg.Name != "app" || tg.Address != "10.0.1.5" || tg.Port != 22 || tg.User != "deploy" || tg.Local {
		t.Errorf("target %+v", tg)
	}
	if tg.ConnectTimeout != 3*time.Second {
		t.Errorf("connect timeout %v", tg.ConnectTimeout)
	}
	if len(tg.Identities) != 2 || tg.Identities[0] != "/keys/a" {
		t.Errorf("identities %v", tg.Identities)
	}
	if !tg.Become.Enabled || tg.Become.User != "www" || string(tg.Become.Password) != "s3cret" {
		t.Errorf("become %+v", tg.Become)
	}
	if len(tg.Jumps) != 2 {
		t.Fatalf("jumps %+v", tg.Jumps)
	}
	b, gw := tg.Jumps[0], tg.Jumps[1]
	if b.Name != "bastion" || b.Address != "10.0.0.1" || b.Port != 2222 || b.User != "jump" || len(b.Identities) != 1 {
		t.Errorf("first hop %+v", b)
	}
	if b.Become.Enabled || len(b.Jumps) != 0 {
		t.Errorf("a hop must not become anyone or nest: %+v", b)
	}
	if gw.Address != "gw.example" || gw.Port != 2200 || gw.User != "admin" {
		t.Errorf("second hop %+v", gw)
	}

	box, _ := inv.Host("box")
	lt, err := Target(inv, box, nil)
	if err != nil {
		t.Fatal(err)
	}
	if !lt.Local || !lt.Become.Enabled || lt.Become.User != "root" || len(lt.Jumps) != 0 {
		t.Errorf("local target %+v", lt)
	}
}

func TestTargetJumpLoop(t *testing.T) {
	inv := loadInv(t, `
host "a" {
  address    = "10.0.0.1"
  proxy_jump = "b"
}
host "b" {
  address    = "10.0.0.2"
  proxy_jump = "a"
}
`)
	a, _ := inv.Host("a")
	if _, err := Target(inv, a, nil); err == nil {
		t.Fatal("a proxy jump loop was accepted")
	}
}

// TestTargetWithOverrides: the command line's overrides apply to the target;
// of them, only the per-hop ones (the connect timeout) reach its hops, which
// keep their inventory user. The inventory's host is not changed.
func TestTargetWithOverrides(t *testing.T) {
	inv := loadInv(t, `
host "bastion" {
  address         = "10.0.0.1"
  user            = "jump"
  connect_timeout = "9s"
}
host "app" {
  address    = "10.0.1.5"
  user       = "deploy"
  proxy_jump = "bastion"
}
`)
	var ov inventory.Overrides
	for flag, v := range map[string]string{"user": "cli", "connect-timeout": "2s", "become": "true"} {
		if err := ov.Set(flag, v); err != nil {
			t.Fatal(err)
		}
	}
	app, _ := inv.Host("app")
	tg, err := TargetWith(inv, app, ov, nil)
	if err != nil {
		t.Fatal(err)
	}
	if tg.User != "cli" || tg.ConnectTimeout != 2*time.Second || !tg.Become.Enabled {
		t.Errorf("target %+v; want the overrides", tg)
	}
	if len(tg.Jumps) != 1 || tg.Jumps[0].User != "jump" || tg.Jumps[0].ConnectTimeout != 2*time.Second || tg.Jumps[0].Become.Enabled {
		t.Errorf("hops %+v; want user jump, timeout 2s, no become", tg.Jumps)
	}
	if app.User != "deploy" || app.Become.Enabled {
		t.Errorf("the inventory's host was changed: %+v", app)
	}
}

func TestSetBecome(t *testing.T) {
	pw := []byte("pw")
	tests := []struct {
		enabled  bool
		user     string
		wantOn   bool
		wantUser string
	}{
		{true, "", true, "root"},
		{true, "pg", true, "pg"},
		{false, "pg", false, "www"}, // disabled: the rest is left, unused
	}
	for _, tc := range tests {
		tg := transport.Target{Become: transport.BecomeConfig{Enabled: true, User: "www"}}
		SetBecome(&tg, tc.enabled, tc.user, pw)
		if tg.Become.Enabled != tc.wantOn || tg.Become.User != tc.wantUser {
			t.Errorf("SetBecome(%v, %q) = %+v, want enabled %v user %q", tc.enabled, tc.user, tg.Become, tc.wantOn, tc.wantUser)
		}
		if tc.wantOn && string(tg.Become.Password) != "pw" {
			t.Errorf("SetBecome(%v, %q): password not set", tc.enabled, tc.user)
		}
	}
}
